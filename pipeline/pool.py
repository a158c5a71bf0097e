"""Per-device work over every core: forked workers that inherit what the parent built.

Rendering and linting thousands of devices is the same work per device; a worker
process per core does a share of them (this process one of them). Workers are forked, so
the designed devices and compiled templates are inherited, never pickled: only device names
go out and results (text and findings) come back, through shared memory where they fit
(:data:`BOARD`). Results
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
import signal
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 64
"""Below this many items forking costs more than it saves."""
CHUNKS_PER_WORKER = 16
"""Smaller shares than one per worker, so that the last one does not idle the others: at
5,002 devices a share of 156 takes about 30 ms to render (8 shares in all: the render
0.63 s; 32: 0.61-0.62 s)."""

BOARD = 512 * 1024 * 1024
"""Bytes of shared memory for the forked workers' results, split evenly between the shares
(an anonymous shared mapping: memory is used only as far as it is written). The pipe moves
64 KB at a time between processes that both want the two cores: 55 MB of configs at 5,002
devices took 0.12-0.17 s to come back that way, about 0.05 s through memory. A result that
does not fit its slot comes through the pipe."""


def workers() -> int:
    """Processes to use: ``NETPIPE_WORKERS`` if set, else the cores this process may use."""
    wanted = os.environ.get("NETPIPE_WORKERS", "")
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() \
        and threading.active_count() == 1


def _board(count: int) -> tuple[mmap.mmap | None, int]:
    """Shared memory for ``count`` slots and the size of each, or None where the system will
    not map it (the results then come through the pipe)."""
    slot = BOARD // count
    try:
        return mmap.mmap(-1, count * slot, flags=mmap.MAP_SHARED), slot
    except (OSError, ValueError, OverflowError):
        return None, 0


def _take(queue: int) -> int | None:
    """The next share's index from the queue (one byte each; a read of one byte from a pipe
    is atomic, so every share is taken once), or None when all are taken."""
    byte = os.read(queue, 1)
    return byte[0] if byte else None


_HEADER = struct.Struct("<?IqQ")
"""A result's header: done (else the job's exception), its index, its offset in shared
memory (-1: it follows the header through the pipe), its size in bytes."""


def _send(out: BinaryIO, ok: bool, index: int, data: bytes, memory: mmap.mmap | None,
          offset: int, room: int) -> int:
    """One pickled result to the reader: into ``memory`` at ``offset`` where it fits in
    ``room`` bytes (its header through ``out``), else with its header through ``out``.
    The bytes it took in memory."""
    if memory is not None and len(data) <= room:
        memory[offset:offset + len(data)] = data
        out.write(_HEADER.pack(ok, index, offset, len(data)))
        return len(data)
    out.write(_HEADER.pack(ok, index, -1, len(data)) + data)
    return 0


def _receive(stream: BinaryIO, memory: mmap.mmap | None
             ) -> tuple[bool, int, Any, bool] | None:
    """The next result :func:`_send` sent: (done, index, value, through memory), or None
    when the sender is gone."""
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    ok, index, offset, size = _HEADER.unpack(head)
    if offset < 0:
        return ok, index, pickle.loads(stream.read(size)), False
    assert memory is not None
    with memoryview(memory)[offset:offset + size] as data:
        return ok, index, pickle.loads(data), True


def _outcome(job: Callable[[T], R], item: T) -> tuple[bool, bytes]:
    """(True, the result pickled), or (False, the job's exception pickled)."""
    try:
        return True, pickle.dumps(job(item), protocol=5)
    except Exception as exc:
        return False, pickle.dumps(_picklable(exc))


def _serve(job: Callable[[Sequence[T]], R], parts: list[Sequence[T]], queue: int,
           board: tuple[mmap.mmap | None, int], answer: int) -> None:
    """In a forked worker: do shares until none is left, each result sent as it is done
    (into its slot of ``board`` where it fits); the job's exception ends it."""
    try:
        memory, slot = board
        with open(answer, "wb", buffering=0) as out:
            while (index := _take(queue)) is not None:
                ok, data = _outcome(job, parts[index])
                _send(out, ok, index, data, memory, index * slot, slot)
                if not ok:
                    break
    finally:
        os._exit(0)


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
    rely on state it changes (each worker has its own copy of the parent's memory).

    This process is one of the workers: it takes shares like the forked ones, and its own
    results need no trip. With one forked worker on two cores, at 5,002 devices, that
    saved a worker's template compiling, half the results' pickling and copy-on-write
    faults against a pool of two that this process only waited for."""
    count = workers() if processes is None else processes
    if count <= 1 or len(items) < MIN_ITEMS or not _can_fork():
        return [job(items)]
    parts = shares(items, min(count * CHUNKS_PER_WORKER, 255))
    board = _board(len(parts))
    queue, feed = os.pipe()
    os.write(feed, bytes(range(len(parts))))  # under a pipe's buffer: never blocks
    os.close(feed)
    helpers: list[tuple[int, int]] = []  # (pid, answer pipe)
    try:
        for _ in range(count - 1):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read)
                _serve(job, parts, queue, board, write)
            os.close(write)
            helpers.append((pid, read))
        results: list[Any] = [None] * len(parts)
        done = 0
        while (index := _take(queue)) is not None:
            results[index] = job(parts[index])
            done += 1
        while helpers:  # what they did, unpickled as it comes
            pid, read = helpers.pop()
            try:
                with open(read, "rb") as stream:
                    while (answer := _receive(stream, board[0])) is not None:
                        ok, index, value, _ = answer
                        if not ok:
                            raise value
                        results[index] = value
                        done += 1
            finally:
                os.kill(pid, signal.SIGKILL)  # ended already, unless this process failed
                os.waitpid(pid, 0)
        if done < len(parts):
            raise ChildDied(f"a worker ended without {len(parts) - done} of its results")
        return results
    finally:
        os.close(queue)
        for pid, read in helpers:  # this process failed first: the others go too
            os.close(read)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        if board[0] is not None:
            board[0].close()


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


class Streamed(Generic[T, R]):
    """``job`` over ``items`` one by one in a forked child, each result sent as soon as it
    is made; iterating gives (index, result) in the order they come. The caller takes the
    first results (unpickles them) while the child still makes the last: through a pipe
    (64 KB at a time) the child would wait for the caller to read, and the caller, busy
    with its own share, would unpickle everything only at the end.

    A result goes into shared memory (:data:`BOARD`, filled in order) with a header through
    the pipe, or with its header through the pipe where the memory is full or missing. The
    job's exception is raised by the iteration; a child that died is :class:`ChildDied`.
    :meth:`close` (also on leaving a ``with`` block) ends the child if it still runs."""

    def __init__(self, job: Callable[[T], R], items: Sequence[T]) -> None:
        self.count = len(items)
        self._memory, _ = _board(1)
        read, write = os.pipe()
        self._pid = os.fork()
        if self._pid == 0:
            os.close(read)
            self._serve(job, items, write)
        os.close(write)
        self._pipe: BinaryIO | None = open(read, "rb")  # noqa: SIM115 - closed by close()

    def _serve(self, job: Callable[[T], R], items: Sequence[T], write: int) -> None:
        try:
            with open(write, "wb", buffering=0) as out:
                offset, room = 0, len(self._memory) if self._memory is not None else 0
                for index, item in enumerate(items):
                    ok, data = _outcome(job, item)
                    used = _send(out, ok, index, data, self._memory, offset, room - offset)
                    offset += used
                    if not ok:
                        break
        finally:
            os._exit(0)

    def __iter__(self) -> Iterator[tuple[int, R]]:
        assert self._pipe is not None, "iterated once"
        for _ in range(self.count):
            answer = _receive(self._pipe, self._memory)
            if answer is None:
                status = self._wait()
                raise ChildDied(f"the child ended with status {status} before its results")
            ok, index, value, _ = answer
            if not ok:
                raise value
            yield index, value
        self.close()

    def _wait(self) -> int:
        pid, self._pid = self._pid, 0
        return os.waitpid(pid, 0)[1] if pid else 0

    def close(self) -> None:
        if self._pid:
            os.kill(self._pid, signal.SIGKILL)  # gone already when it sent everything
            self._wait()
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        if self._memory is not None:
            self._memory.close()
            self._memory = None

    def __enter__(self) -> Streamed[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pickled_error(exc: Exception) -> bytes:
    """(False, the exception) pickled: the answer of a job that raised it."""
    return pickle.dumps((False, _picklable(exc)))


def _picklable(exc: Exception) -> Exception:
    """``exc``, or where it does not pickle, its type at least."""
    try:
        pickle.dumps(exc)
    except Exception:
        return RuntimeError(f"{type(exc).__name__} in the child")
    return exc


def alongside(job: Callable[[], R], size: int) -> Alongside[R]:
    """``job`` in a forked process while the caller goes on, for work of ``size`` items
    where that pays (two cores, one thread, at least ``MIN_ITEMS``); otherwise run here
    and now, before the caller goes on."""
    return Alongside(job, here=not forks(size))


def forks(size: int) -> bool:
    """Whether :func:`alongside` forks for work of ``size`` items."""
    return workers() > 1 and size >= MIN_ITEMS and _can_fork()
