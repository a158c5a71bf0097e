"""Rendering over several processes gives the same files and findings as one process."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from benchmarks.estate import generate
from pipeline.build import build
from pipeline.render import pool
from pipeline.render.render import render


def _pids(items: Sequence[int]) -> list[tuple[int, int]]:
    return [(item, os.getpid()) for item in items]


def test_shares_keep_order_and_cover_everything() -> None:
    items = list(range(103))
    parts = pool.shares(items, 8)
    assert [x for part in parts for x in part] == items
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert pool.shares([1, 2], 8) == [[1], [2]]


def test_work_is_shared_between_processes_in_order() -> None:
    items = list(range(200))
    done = [pair for part in pool.run(_pids, items, processes=2) for pair in part]
    assert [item for item, _ in done] == items
    assert os.getpid() not in {pid for _, pid in done}  # all of it in worker processes


def test_no_fork_with_threads_a_small_job_or_one_worker(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """A process with threads must not fork (a lock another thread holds stays locked)."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert pool.run(_pids, list(range(200)), processes=2) == [_pids(range(200))]
    finally:
        stop.set()
        thread.join()
    assert pool.run(_pids, list(range(10)), processes=2) == [_pids(range(10))]
    monkeypatch.setenv("NETPIPE_WORKERS", "1")
    assert pool.workers() == 1
    assert pool.run(_pids, list(range(200))) == [_pids(range(200))]


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("estate"), 102).root


def test_the_estate_renders_the_same_in_one_or_two_processes(estate: Path) -> None:
    result = build(estate, run_lint=False)
    assert result.ok and result.intent is not None
    secrets = result.intent.network.secrets
    one = render(result.devices, estate, secrets, processes=1)
    two = render(result.devices, estate, secrets, processes=2)
    assert one == two
    assert len(one[0]) == 102 and not one[1]


def test_a_template_over_a_limit_is_reported_once_in_any_number_of_processes(
        estate: Path, tmp_path: Path) -> None:
    """A limit some devices hit: reported for the first of them, the rest not rendered,
    exactly as one process does it."""
    import shutil

    from pipeline.render.render import SHIPPED_TEMPLATES

    shutil.copytree(SHIPPED_TEMPLATES, estate / "templates", dirs_exist_ok=True)
    ios = estate / "templates" / "ios" / "running.conf.j2"
    original = ios.read_text()
    try:
        ios.write_text("{% if d.name.endswith('sw3') %}{% for i in range(9999) %}"
                       "{% for j in range(9999) %}x{% endfor %}{% endfor %}{% endif %}\n"
                       + original)
        result = build(estate, run_lint=False)
        assert result.intent is not None and result.devices
        secrets = result.intent.network.secrets
        one = render(result.devices, estate, secrets, processes=1)
        two = render(result.devices, estate, secrets, processes=2)
        assert one == two
        limits = [f for f in one[1] if f.code == "NP203"]
        assert len(limits) == 1 and limits[0].message.startswith("s0001-sw3:")
        assert "running.conf" in one[0]["s0001-sw2"].files
        assert "running.conf" not in one[0]["s0010-sw2"].files  # after the limit: skipped
    finally:
        shutil.rmtree(estate / "templates")


def test_lint_finds_the_same_in_one_or_two_processes(estate: Path) -> None:
    """Python checks in worker processes, vtysh and nft side by side, nft batched: the
    findings and their order are those of one file at a time."""
    import dataclasses

    from pipeline.render.lint import lint

    result = build(estate, run_lint=False)
    rendered = dict(result.rendered)
    core = rendered["s0003-core1"]
    rendered["s0003-core1"] = dataclasses.replace(core, files={
        **core.files, "nftables.conf": core.files["nftables.conf"].replace(
            "tcp dport 443", "tcp dport 99999", 1),
        "frr.conf": core.files["frr.conf"].replace("router ospf", "router ospf\n bogus", 1)})
    one = lint(rendered, processes=1)
    assert one == lint(rendered, processes=2)
    assert sorted({(f.code, f.file) for f in one}) == [
        ("NP310", "build/configs/s0003-core1/frr.conf"),
        ("NP311", "build/configs/s0003-core1/nftables.conf")]
