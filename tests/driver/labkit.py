"""Helpers for the driver's lab tests: routers, reset, configs, polling.

Namespaces are ``np-t-<run>-r1``/``-r2`` where ``<run>`` is 6 hex digits unique per test run;
``/tmp/np-t-<run>/owner.pid`` records the owning pytest process so that cleanup of stale runs
never touches a run that is still alive (nor anything without that exact shape of name).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from napalm_frr import FrrDriver, boxfiles
from napalm_frr.transport import NetnsTransport
from pipeline.lab import frr, netns

PREFIX = "np-t-"
BASE = Path("/tmp")
RUN_ID = re.compile(r"[0-9a-f]{6}")


def lab_unavailable() -> str | None:
    """Why lab tests cannot run here (None: they can)."""
    if os.geteuid() != 0:
        return "lab tests need root (network namespaces, FRR daemons)"
    if missing := frr.lab_missing():
        return f"lab tests cannot run here: {missing}"
    return None


def cleanup_stale_runs() -> list[str]:
    """Remove namespaces and FRR daemons of earlier runs whose owner process has died."""
    removed = []
    runs = {name[len(PREFIX) :].split("-", 1)[0] for name in netns.list_namespaces(PREFIX)}
    runs |= {p.name[len(PREFIX) :] for p in BASE.glob(f"{PREFIX}*") if p.is_dir()}
    for run_id in sorted(r for r in runs if RUN_ID.fullmatch(r)):
        base = BASE / f"{PREFIX}{run_id}"
        owner = base / "owner.pid"
        try:
            if netns.pid_alive(int(owner.read_text())):
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
    root: Path = Path("/nonexistent")  # the box's own directories (/etc/network, ...)
    address: str = ""  # eth1's address, set by the lab (as /etc/network/interfaces would)
    original_frr: str = ""  # show running-config at lab start, as a loadable file
    original_frr_raw: str = ""  # the same, exactly as vtysh printed it

    def optional_args(self, **extra: Any) -> dict[str, Any]:
        return {
            "transport": "netns",
            "netns": self.ns,
            "vty_socket": str(self.rundir),
            "state_dir": str(self.state_dir),
            "root_dir": str(self.root),
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
            pid = (pending.read_text().split() or [""])[0]  # "<timer pid> <boot id>"
            if pid.isdigit():
                subprocess.run(["kill", "-TERM", "--", f"-{pid}"], check=False, capture_output=True)
        shutil.rmtree(self.state_dir, ignore_errors=True)
        if self.root.is_dir():  # the daemons a test's box files started
            NetnsTransport(self.ns, root=str(self.root)).run(
                ["sh", "-c", boxfiles.services_script(start=False)])
        shutil.rmtree(self.root, ignore_errors=True)  # its interfaces and sysctl files
        out = netns.run(["ip", "-n", self.ns, "-j", "-d", "link", "show"]).stdout
        for link in json.loads(out):  # links a test's interfaces file made (eth1.110)
            if link.get("linkinfo", {}).get("info_kind") not in (None, "veth"):
                netns.run(["ip", "-n", self.ns, "link", "del", link["ifname"]], check=False)
        conf = self.rundir / "original.conf"
        conf.write_text(self.original_frr)
        frr.frr_reload(self.ns, self.rundir, conf, test=False)
        netns.ns_exec(self.ns, ["nft", "delete", "table", "inet", "netpipe"], check=False)
        (self.rundir / "nftables.conf").unlink(missing_ok=True)  # the persisted table
        assert self.snapshot() == (self.original_frr_raw, "")


@dataclass
class Lab:
    run_id: str
    base: Path
    r1: Router
    r2: Router


def frr_conf(n: int, *, description: str = "to-peer", bgp: bool = False, extra: str = "") -> str:
    peer = 1 - (n - 1)  # r1 (10.99.0.0) peers with 10.99.0.1 and vice versa
    text = f"""frr defaults traditional
hostname r{n}
log syslog informational
service integrated-vtysh-config
!
ip route 198.51.100.{n}/32 Null0
!
interface eth1
 description {description}
 ip ospf area 0
 ip ospf network point-to-point
 ip ospf hello-interval 1
 ip ospf dead-interval 3
exit
!
interface lo
 ip address 10.99.255.{n}/32
 ip ospf area 0
 ip ospf passive
exit
!
router ospf
 ospf router-id 10.99.255.{n}
 timers throttle spf 0 50 500
 timers throttle lsa all 0
 timers lsa min-arrival 0
exit
!
"""
    if bgp:
        text += f"""router bgp 6500{n}
 bgp router-id 10.99.255.{n}
 no bgp ebgp-requires-policy
 neighbor 10.99.0.{peer} remote-as 6500{3 - n}
 neighbor 10.99.0.{peer} description r{3 - n}
 neighbor 10.99.0.{peer} timers connect 1
 !
 address-family ipv4 unicast
  network 10.99.255.{n}/32
 exit-address-family
exit
!
"""
    return text + extra + "end\n"


NFT = """table inet netpipe
delete table inet netpipe
table inet netpipe {
	set mgmt {
		type ipv4_addr
		elements = { 198.51.100.10 }
	}

	chain input {
		type filter hook input priority filter; policy drop;
		iif "lo" accept
		ct state established,related accept
		ip protocol 89 accept comment "ospf"
		ip saddr 10.99.0.0/31 tcp dport 179 accept comment "bgp"
		ip saddr @mgmt tcp dport 22 accept
		iif "eth1" icmp type echo-request accept
	}
}
"""


FORWARDING = "net.ipv4.ip_forward = 1\n"
"""A router's kernel setting: it forwards (a fresh namespace, like a booted box, does not)."""


def bundle(frr: str | None = None, nft: str | None = None, **box: str) -> str:
    """A candidate; ``box``: box files by name with ``_`` for ``.`` (``sysctl_conf=...``)."""
    text = ""
    if frr is not None:
        text += "! netpipe:file frr.conf\n" + frr
    if nft is not None:
        text += "# netpipe:file nftables.conf\n" + nft
    for name, content in box.items():
        text += f"# netpipe:file {name.replace('_', '.')}\n" + content
    return text


def changed_lines(diff: str) -> set[str]:
    return {
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++ ", "--- "))
    }


def poll(check: Callable[[], Any], timeout: float, interval: float = 0.2) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)
