"""Deploy: lock, back up, then push batch by batch with commit-confirm and health gates.

For every batch (the canary first): load every candidate (a device that rejects its
config stops the batch before anything is committed), commit with a revert timer that
runs on the device, run the health checks, and only then confirm. Any failure rolls
the batch back and stops; earlier batches stay on the new config. The report says
which device is on which config, always.

Health gates: after each batch, no check that passed before the deploy may fail (a
regression); after the last batch, every check (and, in the lab, every probe) must
pass, since by then the whole network should be as the intent says.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from nornir.core import Nornir

from pipeline.change.diff import HostDiff, error_text, run_diff
from pipeline.change.store import LockHeld, Store
from pipeline.change.tasks import commit, confirm, discard, get_running, load_and_compare
from pipeline.change.tasks import rollback as rollback_task
from pipeline.secrets import unresolve

State = Literal["new", "old", "unchanged", "unreachable", "unknown"]
EXIT_OK, EXIT_USAGE, EXIT_DEVICE, EXIT_ROLLED_BACK = 0, 2, 3, 4


class HealthReport(Protocol):
    """What the deploy needs of a health check's result (``verify.run.Report`` is one).

    The change stage only asks questions of it, so it does not depend on the verify stage.
    """

    @property
    def ok(self) -> bool: ...

    def problems(self, baseline: Any, final: bool) -> list[str]: ...

    def as_dict(self) -> dict[str, Any]: ...

    def text(self) -> str: ...


class Health(Protocol):
    def __call__(self, *, probes: bool,
                 settled: Callable[[Any], bool] | None = None) -> HealthReport: ...


@dataclass
class Outcome:
    host: str
    state: State
    detail: str = ""


@dataclass
class DeployResult:
    id: str
    exit_code: int
    message: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    batches: list[list[str]] = field(default_factory=list)
    health: HealthReport | None = None
    diffs: dict[str, HostDiff] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"{h:<16} {o.state:<11} {o.detail}".rstrip()
               for h, o in sorted(self.outcomes.items())]
        return [*out, self.message]


def who() -> str:
    """Who is deploying: the CI user and job when in CI, else user@host."""
    if os.environ.get("GITLAB_USER_LOGIN"):
        job = os.environ.get("CI_JOB_ID", "?")
        return f"{os.environ['GITLAB_USER_LOGIN']} (gitlab-ci job {job})"
    return f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"


def batches(changed: Sequence[str], canary: Sequence[str], size: int) -> list[list[str]]:
    first = [h for h in canary if h in changed]
    rest = [h for h in changed if h not in first]
    size = max(1, size)
    out = [first] if first else []
    out += [rest[i:i + size] for i in range(0, len(rest), size)]
    return out


def under_lock(store: Store, nr: Nornir, reason: str, body: Callable[[], DeployResult],
               refused_hint: str = "") -> DeployResult:
    """Run ``body`` holding the network lock; a held lock refuses (exit 2) naming its holder."""
    try:
        lock = store.acquire_lock(who(), reason)
    except LockHeld as held:
        return DeployResult("", EXIT_USAGE, f"refused: {held}{refused_hint}")
    try:
        return body()
    finally:
        nr.close_connections()
        store.release_lock(lock)


@dataclass
class Deployment:
    """Everything one deploy needs; the CLI fills it in."""

    nr: Nornir
    store: Store
    configs: Mapping[str, str]  # host -> candidate text, secrets resolved
    platforms: Mapping[str, str]
    secrets: Mapping[str, str]
    health: Health
    revision: str
    say: Callable[[str], None] = print
    canary: Sequence[str] = ()
    batch_size: int = 1
    confirm_timeout: int = 120
    kind: str = "deploy"

    def run(self) -> DeployResult:
        return under_lock(self.store, self.nr, f"{self.kind} {self.revision}", self._locked)

    # -- phases

    def _locked(self) -> DeployResult:
        dep_id = self.store.new_deployment_id()
        self.say(f"{self.kind} {dep_id}: comparing {len(self.configs)} device(s)")
        diffs = run_diff(self.nr, self.configs, self.platforms, self.secrets)
        result = DeployResult(dep_id, EXIT_OK, "", diffs=diffs)
        failed = {h: d for h, d in diffs.items() if not d.reachable or d.error}
        if failed:  # pre-flight: every device must be reachable and accept its candidate
            for h, d in diffs.items():
                result.outcomes[h] = Outcome(h, "unreachable" if not d.reachable else "old",
                                             d.error or "not touched")
            unreachable = sorted(h for h, d in failed.items() if not d.reachable)
            result.exit_code = EXIT_DEVICE if unreachable else EXIT_ROLLED_BACK
            what = (f"unreachable: {', '.join(unreachable)}" if unreachable else
                    "rejected by " + "; ".join(f"{h}: {d.error}" for h, d in failed.items()))
            result.message = f"deploy stopped before any commit, {what}; nothing was changed"
            self._record(result, [])
            return result
        changed = sorted(h for h, d in diffs.items() if d.changed)
        for h in diffs:
            result.outcomes[h] = Outcome(h, "unchanged" if h not in changed else "old",
                                         "" if h not in changed else "not attempted")
        if not changed:
            result.message = "nothing to deploy: every device already runs its intended config"
            self._record(result, [])
            return result
        self.say(f"backing up {len(changed)} running config(s) before touching any")
        backup_failed = self._backup(dep_id, changed)
        if backup_failed:
            result.exit_code = EXIT_DEVICE
            result.message = ("deploy stopped before any commit, backups failed: "
                              + "; ".join(f"{h}: {e}" for h, e in backup_failed.items())
                              + "; nothing was changed")
            self._record(result, [])
            return result
        baseline = self.health(probes=False, settled=lambda _: True)  # a snapshot, no wait
        result.batches = batches(changed, self.canary, self.batch_size)
        for index, batch in enumerate(result.batches):
            final = index == len(result.batches) - 1
            label = "canary" if index == 0 and self.canary else f"batch {index + 1}"
            self.say(f"{label}: {', '.join(batch)}")
            if not self._batch(batch, final, baseline, result):
                later = [h for b in result.batches[index + 1:] for h in b]
                for h in later:
                    result.outcomes[h] = Outcome(h, "old", "not attempted (stopped)")
                result.exit_code = EXIT_ROLLED_BACK
                self._record(result, changed)
                return result
        result.message = (f"deployed to {len(changed)} device(s) in {len(result.batches)} "
                          f"batch(es); health checks passed")
        self._record(result, changed)
        return result

    def _backup(self, dep_id: str, hosts: list[str]) -> dict[str, str]:
        """Save every running config (secrets back to placeholders); failures by host."""
        results = self._subset(hosts).run(task=get_running)
        failed = self._failures(results)
        if not failed:
            for host, multi in results.items():
                self.store.save_backup(dep_id, host,
                                       unresolve(str(multi[0].result), self.secrets))
        return failed

    def _subset(self, hosts: Sequence[str]) -> Nornir:
        return self.nr.filter(filter_func=lambda h: h.name in hosts)

    def _failures(self, results: Any) -> dict[str, str]:
        return {h: error_text(m[0].exception, self.secrets)
                for h, m in results.items() if m[0].failed}

    def _batch(self, batch: list[str], final: bool, baseline: HealthReport,
               result: DeployResult) -> bool:
        nr = self._subset(batch)
        rejected = self._failures(nr.run(task=load_and_compare, configs=dict(self.configs),
                                         keep=True))
        if rejected:
            nr.run(task=discard)
            for h in batch:
                result.outcomes[h] = Outcome(h, "old", rejected.get(h, "not committed: "
                                                                       "batch stopped"))
            result.message = ("a device rejected its config; nothing in the batch was "
                              f"committed: {', '.join(f'{h}: {e}' for h, e in rejected.items())}")
            self.say(result.message)
            return False
        commit_failed = self._failures(nr.run(task=commit, message=f"netpipe {result.id}",
                                              revert_in=self.confirm_timeout))
        if commit_failed:
            committed = [h for h in batch if h not in commit_failed]
            reverted = self._revert(committed)
            for h in batch:
                detail = commit_failed.get(h, "rolled back")
                state: State = "old" if h in commit_failed or h in reverted else "unknown"
                result.outcomes[h] = Outcome(h, state, detail)
            result.message = f"commit failed on {', '.join(commit_failed)}; batch rolled back"
            self.say(result.message)
            return False
        self.say(f"committed with a {self.confirm_timeout} s revert timer; checking health")
        report = self.health(probes=final, settled=self._settled(baseline, final))
        result.health = report
        problems = report.problems(baseline, final)
        if problems:
            reverted = self._revert(batch)
            for h in batch:
                result.outcomes[h] = Outcome(h, "old" if h in reverted else "unknown",
                                             "rolled back: health check failed" if h in reverted
                                             else "ROLLBACK FAILED: the revert timer will fire")
            result.message = "health check failed, batch rolled back: " + "; ".join(problems[:8])
            self.say(result.message)
            return False
        confirm_failed = self._failures(nr.run(task=confirm))
        for h in batch:
            if h in confirm_failed:
                result.outcomes[h] = Outcome(h, "old", f"confirm failed, the device reverts "
                                                       f"itself: {confirm_failed[h]}")
            else:
                result.outcomes[h] = Outcome(h, "new", "confirmed")
        if confirm_failed:
            result.message = f"confirm failed on {', '.join(confirm_failed)}"
            return False
        self.say(f"confirmed: {', '.join(batch)}")
        return True

    def _revert(self, hosts: Sequence[str]) -> set[str]:
        if not hosts:
            return set()
        failed = self._failures(self._subset(hosts).run(task=rollback_task))
        return {h for h in hosts if h not in failed}

    @staticmethod
    def _settled(baseline: HealthReport, final: bool) -> Callable[[Any], bool]:
        return lambda report: not report.problems(baseline, final)

    def _record(self, result: DeployResult, backed_up: list[str]) -> None:
        self.store.save_deployment({
            "id": result.id,
            "kind": self.kind,
            "who": who(),
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "revision": self.revision,
            "result": "ok" if result.exit_code == EXIT_OK else "failed",
            "exit_code": result.exit_code,
            "message": result.message,
            "batches": result.batches,
            "devices": {h: {"state": o.state, "detail": o.detail}
                        for h, o in sorted(result.outcomes.items())},
            "backups": backed_up,
        })
