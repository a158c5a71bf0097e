"""Nornir tasks over NAPALM: the few device operations the change stage composes.

Each task works on the host's cached ``napalm`` connection, so a candidate loaded in
one ``nr.run`` is still there for the commit in the next: batches move in lock-step
phases (load all, commit all, check, confirm all).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from napalm.base import NetworkDriver
from nornir.core import Nornir
from nornir.core.task import AggregatedResult, Result, Task


def run_all(nr: Nornir, task: Callable[..., Result], **kwargs: Any) -> AggregatedResult:
    """``nr.run`` on every host, including those a task failed on before: Nornir skips
    failed hosts by default, and a revert or a read must never skip the very device that
    failed."""
    return nr.run(task=task, on_failed=True, **kwargs)


class Unreachable(Exception):
    """The device could not be connected to."""


def connection(task: Task) -> NetworkDriver:
    try:
        return task.host.get_connection("napalm", task.nornir.config)
    except Exception as exc:
        raise Unreachable(f"{type(exc).__name__}: {exc}") from exc


def get_running(task: Task) -> Result:
    device = connection(task)
    return Result(host=task.host, result=device.get_config(retrieve="running")["running"])


def load_and_compare(task: Task, configs: dict[str, str], keep: bool = False) -> Result:
    """Load the replace candidate and diff it; discard unless ``keep`` (for a commit next)."""
    device = connection(task)
    device.load_replace_candidate(config=configs[task.host.name])
    diff = device.compare_config()
    if not keep or not diff:
        device.discard_config()
    return Result(host=task.host, result=diff, diff=diff, changed=bool(diff))


# Drivers that keep a commit message; NAPALM's ios raises NotImplementedError for any.
KEEPS_MESSAGE = frozenset({"frr"})


def commit(task: Task, message: str, revert_in: int | None) -> Result:
    kwargs: dict[str, Any] = {}
    if task.host.platform in KEEPS_MESSAGE:
        kwargs["message"] = message
    if revert_in:
        kwargs["revert_in"] = revert_timer(task.host.platform, revert_in)
    connection(task).commit_config(**kwargs)
    return Result(host=task.host, changed=True)


def revert_timer(platform: str | None, seconds: int) -> int:
    """IOS counts its revert timer in whole minutes (1 to 120): rounded up, never shorter."""
    if platform == "ios":
        return min(7200, max(60, -(-seconds // 60) * 60))
    return seconds


def confirm(task: Task) -> Result:
    connection(task).confirm_commit()
    return Result(host=task.host)


def rollback(task: Task) -> Result:
    """Revert a pending (unconfirmed) commit now, or undo the last commit."""
    connection(task).rollback()
    return Result(host=task.host, changed=True)


def discard(task: Task) -> Result:
    connection(task).discard_config()
    return Result(host=task.host)


def _holds(device: NetworkDriver, config: str) -> bool:
    """The device runs exactly ``config``: its own diff against it is empty."""
    device.load_replace_candidate(config=config)
    try:
        return not device.compare_config()
    finally:
        device.discard_config()


def observe(task: Task, candidates: dict[str, str], backups: dict[str, str]) -> Result:
    """Read the device: a pending commit? on the new config? on the backup?

    Each answer is None when it could not be had, so nothing is ever guessed.
    """
    device = connection(task)
    name = task.host.name
    seen: dict[str, bool | None] = {"pending": device.has_pending_commit(),
                                     "on_candidate": None, "on_backup": None}
    if name in candidates:
        seen["on_candidate"] = _holds(device, candidates[name])
    if name in backups and not seen["on_candidate"]:
        seen["on_backup"] = _holds(device, backups[name])
    return Result(host=task.host, result=seen)


def restore(task: Task, backups: dict[str, str]) -> Result:
    """Back to the backup taken before a change. A pending commit is reverted by the
    device itself first (its own backup, its own timer cancelled); then the device is
    compared with the stored backup and, if it still differs, the backup is committed
    (no revert timer: this is the way back). ``changed``: anything was done."""
    device = connection(task)
    reverted, failed = False, ""
    if device.has_pending_commit():
        try:
            device.rollback()
            reverted = True
        except Exception as exc:  # the device's own revert failed: the stored backup next
            failed = f"the device's own revert failed ({type(exc).__name__}: {exc}); "
    try:
        device.load_replace_candidate(config=backups[task.host.name])
        if not device.compare_config():
            device.discard_config()
            return Result(host=task.host, changed=reverted, result=failed)
        device.commit_config()
    except Exception as exc:
        raise RuntimeError(f"{failed}restoring the stored backup failed: "
                           f"{type(exc).__name__}: {exc}") from exc
    return Result(host=task.host, changed=True, result=failed)
