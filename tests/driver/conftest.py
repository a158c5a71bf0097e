"""A tiny real lab for the FRR driver: two namespaces running FRR, joined by one veth.

``np-t-<run>-r1`` (eth1 10.99.0.0/31) <-> ``np-t-<run>-r2`` (eth1 10.99.0.1/31). Nothing touches
the root namespace: the veth is created inside r1 with its peer placed straight into r2, and no
route leads out. Every run has its own id and records its pid in ``/tmp/np-t-<run>/owner.pid``,
so the session-start cleanup removes only leftovers of runs whose process is gone (a concurrent
run is left alone).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from napalm_frr import FrrDriver
from pipeline.lab import frr, netns

PREFIX = "np-t-"
BASE = Path("/tmp")


def lab_unavailable() -> str | None:
    """Why lab tests cannot run here (None: they can)."""
    if os.geteuid() != 0:
        return "lab tests need root (network namespaces, FRR daemons)"
    missing = [tool for tool in ("ip", "nft", "vtysh") if shutil.which(tool) is None]
    if missing or not frr.frr_available():
        return f"lab tests need FRR and nftables installed (missing: {missing or 'FRR daemons'})"
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_stale_runs() -> list[str]:
    """Remove namespaces and FRR daemons of earlier runs whose owner process has died."""
    removed = []
    runs = {name[len(PREFIX) :].split("-", 1)[0] for name in netns.list_namespaces(PREFIX)}
    runs |= {p.name[len(PREFIX) :] for p in BASE.glob(f"{PREFIX}*") if p.is_dir()}
    for run_id in sorted(runs):
        base = BASE / f"{PREFIX}{run_id}"
        owner = base / "owner.pid"
        try:
            if _pid_alive(int(owner.read_text())):
                continue
        except (OSError, ValueError):
            pass
        for rundir in base.glob("*-frr"):
            frr.stop_frr(rundir)
        removed += netns.cleanup(f"{PREFIX}{run_id}-")
        shutil.rmtree(base, ignore_errors=True)
    return removed


@dataclass
class Router:
    """One lab router: its namespace, FRR run directory and driver state directory."""

    name: str
    ns: str
    rundir: Path
    state_dir: Path
    original_frr: str = ""  # show running-config at lab start, as a loadable file
    original_frr_raw: str = ""  # the same, exactly as vtysh printed it

    def optional_args(self, **extra: Any) -> dict[str, Any]:
        return {
            "transport": "netns",
            "netns": self.ns,
            "vty_socket": str(self.rundir),
            "state_dir": str(self.state_dir),
            **extra,
        }

    def driver(self) -> FrrDriver:
        device = FrrDriver(self.name, "", "", timeout=30, optional_args=self.optional_args())
        device.open()
        return device

    def running_frr(self) -> str:
        return frr.vtysh(self.rundir, "show running-config")

    def running_nft(self) -> str:
        proc = netns.ns_exec(
            self.ns, ["nft", "-s", "list", "table", "inet", "netpipe"], check=False
        )
        return proc.stdout if proc.returncode == 0 else ""

    def snapshot(self) -> tuple[str, str]:
        return self.running_frr(), self.running_nft()

    def reset(self) -> None:
        """Back to the lab's original state, without using the driver under test."""
        pending = self.state_dir / "pending"
        if pending.exists():
            pid = pending.read_text().strip()
            if pid.isdigit():
                subprocess.run(["kill", "-TERM", "--", f"-{pid}"], check=False, capture_output=True)
        shutil.rmtree(self.state_dir, ignore_errors=True)
        conf = self.rundir / "original.conf"
        conf.write_text(self.original_frr)
        frr.frr_reload(self.ns, self.rundir, conf, test=False)
        netns.ns_exec(self.ns, ["nft", "delete", "table", "inet", "netpipe"], check=False)
        assert self.snapshot() == (self.original_frr_raw, "")


@dataclass
class Lab:
    run_id: str
    base: Path
    r1: Router
    r2: Router


def pytest_sessionstart(session: pytest.Session) -> None:
    if lab_unavailable() is None:
        cleanup_stale_runs()


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    run_id = secrets.token_hex(3)
    base = BASE / f"{PREFIX}{run_id}"
    base.mkdir(mode=0o755)
    (base / "owner.pid").write_text(str(os.getpid()))
    routers = []
    for name in ("r1", "r2"):
        routers.append(
            Router(
                name=name,
                ns=f"{PREFIX}{run_id}-{name}",
                rundir=base / f"{name}-frr",
                state_dir=base / f"{name}-state",
            )
        )
    r1, r2 = routers
    try:
        for router in routers:
            netns.create_namespace(router.ns, prefix=PREFIX)
        netns.create_veth(r1.ns, "eth1", r2.ns, "eth1", prefix=PREFIX)
        netns.add_address(r1.ns, "eth1", "10.99.0.0/31", prefix=PREFIX)
        netns.add_address(r2.ns, "eth1", "10.99.0.1/31", prefix=PREFIX)
        for router in routers:
            frr.start_frr(router.ns, router.rundir)
            router.original_frr_raw = router.running_frr()
            router.original_frr = router.original_frr_raw.split("Current configuration:\n", 1)[-1]
        yield Lab(run_id, base, r1, r2)
    finally:
        for router in routers:
            frr.stop_frr(router.rundir)
        netns.cleanup(f"{PREFIX}{run_id}-")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def r1(lab: Lab) -> Iterator[Router]:
    """Router r1, reset to the original state before and after the test."""
    lab.r1.reset()
    yield lab.r1
    lab.r1.reset()


@pytest.fixture
def r2(lab: Lab) -> Iterator[Router]:
    lab.r2.reset()
    yield lab.r2
    lab.r2.reset()
