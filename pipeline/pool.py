"""Per-device work over every core: forked workers that inherit what the parent built.

Rendering and linting thousands of devices is the same work per device; a worker
process per core does a share of them. Workers are forked, so the designed devices and
compiled templates are inherited, never pickled: only device names go out and results
(text and findings) come back, through shared memory where they fit (:data:`SLOT`). Results
come back in the order of the input, so the output is the same whatever the number of
workers.

Forking is only safe in a process with one thread (a lock held by another thread would
stay locked in the child), so a process with threads, a small job, one core, or
``NETPIPE_WORKERS=1`` does the work in-process instead.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import pickle
import select
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 64
"""Below this many items forking costs more than it saves."""
CHUNKS_PER_WORKER = 4
"""Smaller shares than one per worker, so that a slow share does not idle the others."""

SLOT = 64 * 1024 * 1024
"""Bytes of shared memory for each share's pickled result. The pool's pipe moves 64 KB at a
time between processes that both want the two cores: 55 MB of configs at 5,002 devices
took 0.12-0.17 s to come back that way, about 0.05 s through memory. A result that does not
fit comes through the pipe; memory is used only as far as it is written."""

_JOB: Callable[[Sequence[Any]], Any] | None = None
_BOARD: mmap.mmap | None = None


def workers() -> int:
    """Processes to use: ``NETPIPE_WORKERS`` if set, else the cores this process may use."""
    wanted = os.environ.get("NETPIPE_WORKERS", "")
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() \
        and threading.active_count() == 1


def _call(share: tuple[int, Sequence[Any]]) -> tuple[int, Any]:
    """In a worker: (bytes written to the share's slot, None), or (0, the result)."""
    index, chunk = share
    assert _JOB is not None
    result = _JOB(chunk)
    if _BOARD is None:
        return 0, result
    data = pickle.dumps(result, protocol=5)
    if not data or len(data) > SLOT:
        return 0, result
    _BOARD[index * SLOT:index * SLOT + len(data)] = data
    return len(data), None


def _board(count: int) -> mmap.mmap | None:
    """Shared memory for ``count`` slots, or None where the system will not map it (the
    results then come through the pipe)."""
    try:
        return mmap.mmap(-1, count * SLOT, flags=mmap.MAP_SHARED)
    except (OSError, ValueError, OverflowError):
        return None


def _collect(answers: list[tuple[int, Any]], board: mmap.mmap | None) -> list[Any]:
    results = []
    with memoryview(board if board is not None else b"") as view:
        for index, (size, result) in enumerate(answers):
            if size:
                with view[index * SLOT:index * SLOT + size] as data:
                    result = pickle.loads(data)
            results.append(result)
    return results


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
    global _JOB, _BOARD
    count = workers() if processes is None else processes
    if count <= 1 or len(items) < MIN_ITEMS or not _can_fork():
        return [job(items)]
    parts = shares(items, count * CHUNKS_PER_WORKER)
    _JOB, _BOARD = job, _board(len(parts))
    try:
        with multiprocessing.get_context("fork").Pool(count) as pool:
            answers = pool.map(_call, list(enumerate(parts)), chunksize=1)
        return _collect(answers, _BOARD)
    finally:
        if _BOARD is not None:
            _BOARD.close()
        _JOB, _BOARD = None, None


class ChildDied(RuntimeError):
    """The forked child of :func:`alongside` ended without a result."""


class Alongside(Generic[R]):
    """A job running in a forked child while the caller goes on (or run already, here).
    Calling it waits for the result: the job's exception is raised there, and a child that
    died is :class:`ChildDied`, never a hang. A bare fork and a pipe, no thread: a thread
    in this process would stop :func:`run` from forking its workers meanwhile."""

    def __init__(self, job: Callable[[], R], here: bool) -> None:
        self._pid, self._pipe = 0, -1
        self._outcome: tuple[bool, Any] | None = None
        if here:
            self._outcome = (True, job())
            return
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: answer through the pipe, then end without clean-up
            os.close(read)
            try:
                try:
                    data = pickle.dumps((True, job()))
                except Exception as exc:
                    data = _pickled_error(exc)
                with open(write, "wb") as out:
                    out.write(data)
            finally:
                os._exit(0)
        os.close(write)
        self._pid, self._pipe = pid, read

    def done(self) -> bool:
        """Whether the result is in (calling then does not wait for the job)."""
        if self._outcome is not None:
            return True
        ready, _, _ = select.select([self._pipe], [], [], 0)
        return bool(ready)

    def __call__(self) -> R:
        if self._outcome is None:
            with open(self._pipe, "rb") as answer:
                data = answer.read()
            _, status = os.waitpid(self._pid, 0)
            if not data:
                self._outcome = (False, ChildDied(f"the child ended with status {status} "
                                                  "and no result"))
            else:
                self._outcome = pickle.loads(data)
        outcome: tuple[bool, Any] = self._outcome
        if not outcome[0]:
            raise outcome[1]
        result: R = outcome[1]
        return result


def _pickled_error(exc: Exception) -> bytes:
    try:
        return pickle.dumps((False, exc))
    except Exception:  # an exception that does not pickle: its type at least
        return pickle.dumps((False, RuntimeError(f"{type(exc).__name__} in the child")))


def alongside(job: Callable[[], R], size: int) -> Alongside[R]:
    """``job`` in a forked process while the caller goes on, for work of ``size`` items
    where that pays (two cores, one thread, at least ``MIN_ITEMS``); otherwise run here
    and now, before the caller goes on."""
    return Alongside(job, here=not forks(size))


def forks(size: int) -> bool:
    """Whether :func:`alongside` forks for work of ``size`` items."""
    return workers() > 1 and size >= MIN_ITEMS and _can_fork()
