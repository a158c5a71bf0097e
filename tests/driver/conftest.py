"""Fixtures for the FRR driver's lab tests (helpers live in labkit.py).

A tiny real lab: ``np-t-<run>-r1`` (eth1 10.99.0.0/31) <-> ``np-t-<run>-r2`` (eth1 10.99.0.1/31),
each running FRR. Nothing touches the root namespace: the veth is created inside r1 with its peer
placed straight into r2, and no route leads out.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator

import pytest

from pipeline.lab import frr, netns
from tests.driver.labkit import BASE, PREFIX, Lab, Router, cleanup_stale_runs, lab_unavailable


@pytest.fixture(scope="session")
def stale_runs_removed() -> list[str]:
    """Once per session, before any lab: remove leftovers of crashed earlier runs."""
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    return cleanup_stale_runs()


@pytest.fixture(scope="module")
def lab(stale_runs_removed: list[str]) -> Iterator[Lab]:
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
                root=base / f"{name}-root",
            )
        )
    r1, r2 = routers
    try:
        for router in routers:
            netns.create_namespace(router.ns, prefix=PREFIX)
        netns.create_veth(r1.ns, "eth1", r2.ns, "eth1", prefix=PREFIX)
        # VLAN 110 of eth1, as the example lab cables it (no 802.1Q here): r1's box files
        # make eth1.110 on it; r2's end is a plain host on that VLAN.
        netns.create_veth(r1.ns, "eth1v110", r2.ns, "eth1v110", prefix=PREFIX, up=False)
        netns.set_link_up(r2.ns, "eth1v110", prefix=PREFIX)
        netns.add_address(r2.ns, "eth1v110", "10.98.110.2/24", prefix=PREFIX)
        r1.address, r2.address = "10.99.0.0/31", "10.99.0.1/31"
        for router in routers:
            netns.add_address(router.ns, "eth1", router.address, prefix=PREFIX)
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
