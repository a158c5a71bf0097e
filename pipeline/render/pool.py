"""Per-device work over every core: forked workers that inherit what the parent built.

Rendering and linting thousands of devices is the same work per device; a worker
process per core does a share of them. Workers are forked, so the designed devices and
compiled templates are inherited, never pickled: only device names go out and results
(text and findings) come back. Results come back in the order of the input, so the
output is the same whatever the number of workers.

Forking is only safe in a process with one thread (a lock held by another thread would
stay locked in the child), so a process with threads, a small job, one core, or
``NETPIPE_WORKERS=1`` does the work in-process instead.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 64
"""Below this many items forking costs more than it saves."""
CHUNKS_PER_WORKER = 4
"""Smaller shares than one per worker, so that a slow share does not idle the others."""

_JOB: Callable[[Sequence[Any]], Any] | None = None


def workers() -> int:
    """Processes to use: ``NETPIPE_WORKERS`` if set, else the cores this process may use."""
    wanted = os.environ.get("NETPIPE_WORKERS", "")
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() \
        and threading.active_count() == 1


def _call(chunk: Sequence[Any]) -> Any:
    assert _JOB is not None
    return _JOB(chunk)


def shares(items: Sequence[T], count: int) -> list[Sequence[T]]:
    """``items`` cut into ``count`` contiguous shares of nearly equal size, in order."""
    count = max(1, min(count, len(items)))
    size, extra = divmod(len(items), count)
    result, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        result.append(items[start:end])
        start = end
    return result


def run(job: Callable[[Sequence[T]], R], items: Sequence[T], *,
        processes: int | None = None) -> list[R]:
    """``job`` over shares of ``items``: one result per share, in order. ``job`` must not
    rely on state it changes (each worker has its own copy of the parent's memory)."""
    global _JOB
    count = workers() if processes is None else processes
    if count <= 1 or len(items) < MIN_ITEMS or not _can_fork():
        return [job(items)]
    parts = shares(items, count * CHUNKS_PER_WORKER)
    _JOB = job
    try:
        with multiprocessing.get_context("fork").Pool(count) as pool:
            return pool.map(_call, parts, chunksize=1)
    finally:
        _JOB = None


def _call_alone() -> Any:
    assert _ALONGSIDE is not None
    return _ALONGSIDE()


_ALONGSIDE: Callable[[], Any] | None = None


def alongside(job: Callable[[], R], size: int) -> Callable[[], R]:
    """Start ``job`` in a forked process while the caller goes on, for work of ``size``
    items where that pays (two cores, one thread, at least ``MIN_ITEMS``); the function
    returned waits for the result (an exception in the job is raised there, and so is a
    child that died). Otherwise the job runs here and now, before the caller goes on."""
    global _ALONGSIDE
    if workers() <= 1 or size < MIN_ITEMS or not _can_fork():
        done = job()
        return lambda: done
    _ALONGSIDE = job
    executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    try:
        future = executor.submit(_call_alone)  # forks here, inheriting the parent's memory
    finally:
        _ALONGSIDE = None

    def result() -> R:
        try:
            value: R = future.result()
            return value
        finally:
            executor.shutdown()
    return result
