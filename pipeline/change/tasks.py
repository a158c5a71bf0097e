"""Nornir tasks over NAPALM: the few device operations the change stage composes.

Each task works on the host's cached ``napalm`` connection, so a candidate loaded in
one ``nr.run`` is still there for the commit in the next: batches move in lock-step
phases (load all, commit all, check, confirm all).
"""

from __future__ import annotations

from typing import Any

from napalm.base import NetworkDriver
from nornir.core.task import Result, Task


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


def commit(task: Task, message: str, revert_in: int | None) -> Result:
    kwargs: dict[str, Any] = {"message": message}
    if revert_in:
        kwargs["revert_in"] = revert_in
    connection(task).commit_config(**kwargs)
    return Result(host=task.host, changed=True)


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
