"""What deploy and rollback share: exit codes, the result they report, the network lock
held as a lease, and the deployment record kept in the state store as they go.

The record is written before the first device is touched and again after every phase,
so a job killed at any moment leaves a record that says which devices it may have
changed (``history.pick_undo`` reads it).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pipeline.change.outcome import Outcome
from pipeline.change.store import LockHeld, LockInfo, LockLost, Store, StoreError

# 1: findings, drift, or a rollback whose verify failed; 6: the state store failed after
# devices were changed (the printed table is then the only complete account).
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_DEVICE, EXIT_ROLLED_BACK, EXIT_STORE = 0, 1, 2, 3, 4, 6


class HealthReport(Protocol):
    """What the deploy needs of a health check's result (``verify.run.Report`` is one).

    The change stage only asks questions of it, so it does not depend on the verify stage.
    """

    @property
    def ok(self) -> bool: ...

    def problems(self, baseline: Any, final: bool) -> list[str]: ...

    def preexisting(self, baseline: Any) -> list[str]: ...

    def as_dict(self) -> dict[str, Any]: ...

    def text(self) -> str: ...


class Health(Protocol):
    def __call__(self, *, probes: bool,
                 settled: Callable[[Any], bool] | None = None) -> HealthReport: ...


@dataclass
class DeployResult:
    id: str
    exit_code: int
    message: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    batches: list[list[str]] = field(default_factory=list)
    health: HealthReport | None = None
    diffs: dict[str, Any] = field(default_factory=dict)
    store_error: str = ""

    def lines(self) -> list[str]:
        out = [f"{h:<16} {o.state:<11} {o.detail}".rstrip()
               for h, o in sorted(self.outcomes.items())]
        if self.store_error:
            out.append(f"STATE STORE FAILED: {self.store_error}; the table above is the only "
                       "complete account of this run")
        return [*out, self.message]

    def devices(self) -> dict[str, dict[str, str]]:
        return {h: {"state": o.state, "detail": o.detail}
                for h, o in sorted(self.outcomes.items())}

    def set(self, host: str, state: Any, detail: str = "") -> None:
        self.outcomes[host] = Outcome(host, state, detail)


def who() -> str:
    """Who is deploying: the CI user and job when in CI, else user@host."""
    if os.environ.get("GITLAB_USER_LOGIN"):
        job = os.environ.get("CI_JOB_ID", "?")
        return f"{os.environ['GITLAB_USER_LOGIN']} (gitlab-ci job {job})"
    return f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Lease:
    """The network lock while we hold it; ``still_ours`` renews it and says if it was lost."""

    def __init__(self, store: Store, info: LockInfo) -> None:
        self.store = store
        self.info = info
        self.broken = False  # someone else broke it: touch nothing more at all

    def still_ours(self) -> str:
        """"" while we hold the lock (renewed); else why we cannot be sure we do."""
        try:
            self.info = self.store.renew_lock(self.info)
        except LockLost as exc:
            self.broken = True
            return str(exc)
        except StoreError as exc:
            return f"cannot renew the network lock: {exc}"
        return ""


def under_lock(store: Store, reason: str, body: Callable[[Lease], DeployResult],
               refused_hint: str = "", finish: Callable[[], None] = lambda: None
               ) -> DeployResult:
    """Run ``body`` holding the network lock; a held lock refuses (exit 2) naming its holder."""
    try:
        info = store.acquire_lock(who(), reason)
    except LockHeld as held:
        return DeployResult("", EXIT_USAGE, f"refused: {held}{refused_hint}")
    result: DeployResult | None = None
    try:
        result = body(Lease(store, info))
        return result
    finally:
        finish()
        if result is not None:
            _mark_interrupted(store, result.id)
        # A lock left behind is visible to `netpipe lock`; the outcome matters more here.
        with contextlib.suppress(StoreError):
            store.release_lock(info)


def _mark_interrupted(store: Store, own: str) -> None:
    """Records other jobs left ``running``, marked ``interrupted``: only the lock's holder
    writes records, and we hold it, so their jobs ended without finishing (killed, a power
    cut). What they say of each device stays as written: a rollback still undoes them
    (``history.pick_undo``). Done after the work, so it never delays a rollback, and best
    effort: a store that fails here has already been reported or will be next time."""
    with contextlib.suppress(StoreError, OSError):
        for record in store.deployments():
            if record.get("result") == "running" and str(record.get("id")) != own:
                store.save_deployment({**record, "result": "interrupted", "interrupted": {
                    "why": "its job ended without finishing (killed, or the machine "
                           "stopped); the devices are as this record last said",
                    "found_by": who(), "at": now()}})


class Journal:
    """The deployment record, rewritten after every phase; a store failure is remembered
    (``error``) rather than raised, so the run can finish what it started safely."""

    def __init__(self, store: Store, record: dict[str, Any]) -> None:
        self.store = store
        self.record = record
        self.error = ""
        self.touched = False  # set before the first device is changed

    def write(self, result: DeployResult, status: str = "running", **extra: Any) -> bool:
        self.record.update(extra)
        self.record.update({
            "result": status, "exit_code": result.exit_code, "message": result.message,
            "batches": result.batches, "devices": result.devices(), "updated": now(),
        })
        try:
            self.store.save_deployment(self.record)
        except (StoreError, OSError) as exc:
            self.error = self.error or str(exc)
            return False
        return True

    def finish(self, result: DeployResult, ok: bool) -> DeployResult:
        """The last write; a store failure (now or earlier) after devices changed gets its
        own exit code, and the result keeps the table."""
        self.write(result, "ok" if ok else "failed")
        if self.error:
            result.store_error = self.error
            if self.touched:
                result.exit_code = EXIT_STORE
        return result
