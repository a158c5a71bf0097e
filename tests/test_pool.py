"""Rendering over several processes gives the same files and findings as one process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from pipeline import pool
from tests.conftest import REPO


def _pids(items: Sequence[int]) -> list[tuple[int, int]]:
    return [(item, os.getpid()) for item in items]


def test_shares_keep_order_and_cover_everything() -> None:
    items = list(range(103))
    parts = pool.shares(items, 8)
    assert [x for part in parts for x in part] == items
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert pool.shares([1, 2], 8) == [[1], [2]]


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


@pytest.mark.parametrize("check", ["shared", "results_through_memory_or_the_pipe",
                                   "failures_reach_the_caller",
                                   "streams_results_as_they_come",
                                   "renders_the_same", "limit_reported_once",
                                   "lints_the_same", "rules_alongside",
                                   "design_fails_where_rules_refuse",
                                   "lints_beside_slow_rules", "parses_the_same"])
def test_forked_work_in_a_fresh_interpreter(check: str) -> None:
    """tests/pool_checks.py, where nothing but the check runs: the forks really happen
    (this session may have threads left by earlier tests, and then pool.run rightly
    does not fork)."""
    proc = subprocess.run([sys.executable, "-m", "tests.pool_checks", check], cwd=REPO,
                          capture_output=True, text=True, check=False,
                          timeout=300)  # a worker lost must fail the check, not hang it
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_a_build_collects_garbage_less_often_and_restores_the_collector(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The thresholds hold while the intent is read (where the heap grows) and are given
    back after, also when the build stops early; the collector is off while the intent is
    read and designed, and on again (nothing left frozen) after."""
    import gc

    from pipeline import build as build_module

    seen: list[tuple[tuple[int, int, int], bool]] = []

    def parse(root: object, keeper: object = None) -> tuple[None, list[object]]:
        seen.append((gc.get_threshold(), gc.isenabled()))
        return None, []

    monkeypatch.setattr(build_module, "parse", parse)
    outer = gc.get_threshold()  # what earlier tests left (the bench helpers set it too)
    gc.set_threshold(700, 10, 10)
    try:
        result = build_module.build(REPO)
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*outer)
    assert result.intent is None and seen == [(build_module.GC_THRESHOLD, False)]
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_build_renders_with_the_collector_on_and_leaves_a_callers_freeze_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What the intent and design made is frozen for the render (its collections skip it)
    and thawed at the end. A caller that froze objects itself keeps exactly that (the
    build then freezes nothing: a thaw would give back the caller's too); a caller that
    turned the collector off gets it back off."""
    import gc

    from pipeline import build as build_module

    during: list[tuple[bool, int]] = []
    real = build_module.render  # type: ignore[attr-defined]

    def render(*args: Any, **kwargs: Any) -> Any:
        during.append((gc.isenabled(), gc.get_freeze_count()))
        return real(*args, **kwargs)

    monkeypatch.setattr(build_module, "render", render)
    assert gc.get_freeze_count() == 0
    assert build_module.build(REPO, run_lint=False).ok
    assert during[-1][0] and during[-1][1] > 0  # on, and the build's data frozen
    assert gc.get_freeze_count() == 0
    kept: list[list[int]] = [[] for _ in range(3)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert build_module.build(REPO, run_lint=False).ok
        assert during[-1] == (True, frozen) and gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
    gc.disable()
    try:
        assert build_module.build(REPO, run_lint=False).ok
        assert during[-1][0] is False and not gc.isenabled()
    finally:
        gc.enable()
    assert gc.get_freeze_count() == 0 and kept
