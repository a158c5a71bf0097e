"""The example network's lab, built once per test module (prefix ``npt-``).

Lab tests need root, FRR and nftables. Outside CI they skip with the reason; in CI
(``CI`` set) a missing prerequisite is a failure, never a silent skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import napalm
import pytest

from napalm_frr.bundle import join_bundle
from pipeline.build import Build, build
from pipeline.change.candidate import needed_secrets
from pipeline.lab import frr, lab
from pipeline.lab.plan import LabPlan, plan
from pipeline.secrets import resolve
from tests.conftest import require

# Separate prefixes let two checkouts run their lab tests on one machine at once.
PREFIX = os.environ.get("NETPIPE_TEST_LAB_PREFIX", "npt-")


def sub_prefix(tag: str) -> str:
    """A prefix of its own for one test module's lab, still inside this run's prefix
    (``npt-`` -> ``nptc-``), so checkouts with different prefixes never meet."""
    return f"{PREFIX.rstrip('-')}{tag}-"


def lab_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "lab tests need root (network namespaces, FRR daemons)"
    if missing := frr.lab_missing():
        return f"lab tests cannot run here: {missing}"
    return None


def require_lab() -> None:
    require(lab_unavailable(), "run the lab tests")


@dataclass
class Lab:
    root: Path
    build: Build
    plan: LabPlan
    secrets: dict[str, str]
    ready: bool = False
    """Every router runs the example's configs and verify passed since the last push."""

    def driver(self, device: str) -> napalm.base.NetworkDriver:
        params = lab.napalm_params(self.plan.prefix, device)
        drv = napalm.get_network_driver(params["driver"])(
            params["hostname"], "", "", optional_args=params["optional_args"])
        drv.open()
        return drv

    def push(self, configs: Build | None = None, devices: list[str] | None = None) -> None:
        """Replace and commit the rendered configs on lab routers, in parallel."""
        self.ready = False
        source = configs or self.build

        def one(device: str) -> None:
            files = {n: resolve(t, self.secrets) for n, t in source.rendered[device].files.items()}
            drv = self.driver(device)
            try:
                drv.load_replace_candidate(config=join_bundle(files))
                drv.commit_config()
            finally:
                drv.close()

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, devices or sorted(self.plan.routers)))


def build_lab(root: Path) -> Lab:
    result = build(root, run_lint=False)
    assert result.ok and result.intent is not None
    labplan = plan(result.intent, result.devices, PREFIX)
    return Lab(root, result, labplan, lab.lab_secrets(needed_secrets(result.rendered)))


@pytest.fixture(scope="module")
def example_lab() -> Iterator[Lab]:
    """The example network's lab, up and unconfigured; removed after the module."""
    require_lab()
    from tests.conftest import REPO

    the_lab = build_lab(REPO)
    lab.down(PREFIX)  # whatever a killed earlier run left (namespaces outlive processes)
    lab.up(the_lab.plan, the_lab.secrets)
    try:
        yield the_lab
    finally:
        lab.down(PREFIX)
