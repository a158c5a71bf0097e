"""Deploy: lock, record, back up, then push batch by batch with commit-confirm and health gates.

For every batch (the canary first): load every candidate (a device that rejects its
config stops the batch before anything is committed), renew the lock (a broken lock stops
the deploy before it touches anything more), commit with a revert timer that runs on the
device, run the health checks, renew the lock again, and only then confirm. Any failure
rolls the batch back and stops; earlier batches stay on the new config.

The deployment record is in the state store before the first device is touched and is
rewritten after every phase, so a killed job leaves an exact account. Every device's
state comes from what was observed (see ``outcome``); when a reply is lost the device is
read again before anything is reported.

Health gates compare with a baseline taken before the first commit: only what the change
made worse stops it (a check or, in the lab, a probe that passed before and fails now, or
one that did not exist before). Faults that were there before the deploy are reported,
not blamed on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nornir.core import Nornir

from pipeline.change.diff import error_text, run_diff
from pipeline.change.journal import (
    EXIT_DEVICE,
    EXIT_OK,
    EXIT_ROLLED_BACK,
    EXIT_USAGE,
    DeployResult,
    Health,
    HealthReport,
    Journal,
    Lease,
    now,
    under_lock,
    who,
)
from pipeline.change.outcome import Observation, after_commit_error, after_revert, observed
from pipeline.change.seal import Sealer
from pipeline.change.store import Store
from pipeline.change.tasks import (
    commit,
    confirm,
    discard,
    get_running,
    load_and_compare,
    observe,
    restore,
    run_all,
)

__all__ = ["DeployResult", "Deployment", "Health", "HealthReport", "batches", "who"]


def batches(changed: Sequence[str], canary: Sequence[str], size: int) -> list[list[str]]:
    first = [h for h in canary if h in changed]
    rest = [h for h in changed if h not in first]
    size = max(1, size)
    out = [first] if first else []
    out += [rest[i:i + size] for i in range(0, len(rest), size)]
    return out


@dataclass
class Deployment:
    """Everything one deploy needs; the CLI fills it in."""

    nr: Nornir
    store: Store
    configs: Mapping[str, str]  # host -> candidate text, secrets resolved
    platforms: Mapping[str, str]
    secrets: Mapping[str, str]
    health: Health
    revision: str  # the intent's commit id ("" when not a clean commit)
    seal: Sealer
    revision_label: str = ""  # as the user gave it, or `git describe`-like
    say: Callable[[str], None] = print
    canary: Sequence[str] = ()
    batch_size: int = 1
    confirm_timeout: int = 120
    kind: str = "deploy"

    def run(self) -> DeployResult:
        label = self.revision_label or self.revision[:12] or "unversioned"
        return under_lock(self.store, f"{self.kind} {label}", self._locked,
                          finish=self.nr.close_connections)

    # -- phases

    def _locked(self, lease: Lease) -> DeployResult:
        self._lease = lease
        self._backups: dict[str, str] = {}
        dep_id = self.store.new_deployment_id()
        self.say(f"{self.kind} {dep_id}: comparing {len(self.configs)} device(s)")
        diffs = run_diff(self.nr, self.configs, self.platforms, self.secrets)
        result = DeployResult(dep_id, EXIT_OK, "", diffs=diffs)
        journal = Journal(self.store, {
            "id": dep_id, "kind": self.kind, "who": who(), "when": now(),
            "revision": self.revision, "revision_label": self.revision_label or self.revision,
            "backups": [],
        })
        failed = {h: d for h, d in diffs.items() if not d.reachable or d.error}
        if failed:  # pre-flight: every device must be reachable and accept its candidate
            for h, d in diffs.items():
                result.set(h, "unreachable" if not d.reachable else "old",
                           d.error or "not touched")
            unreachable = sorted(h for h, d in failed.items() if not d.reachable)
            result.exit_code = EXIT_DEVICE if unreachable else EXIT_ROLLED_BACK
            what = (f"unreachable: {', '.join(unreachable)}" if unreachable else
                    "rejected by " + "; ".join(f"{h}: {d.error}" for h, d in failed.items()))
            result.message = f"deploy stopped before any commit, {what}; nothing was changed"
            return journal.finish(result, ok=False)
        changed = sorted(h for h, d in diffs.items() if d.changed)
        for h in diffs:
            if h in changed:
                result.set(h, "old", "not attempted")
            else:
                result.set(h, "unchanged")
        if not changed:
            result.message = "nothing to deploy: every device already runs its intended config"
            return journal.finish(result, ok=True)
        if not journal.write(result):
            result.exit_code = EXIT_USAGE
            result.message = (f"deploy stopped before any commit: the state store cannot record "
                              f"it ({journal.error}); nothing was changed")
            return result
        self.say(f"backing up {len(changed)} running config(s) before touching any")
        backup_failed = self._backup(dep_id, changed, journal)
        if backup_failed:
            result.exit_code = EXIT_DEVICE
            result.message = ("deploy stopped before any commit, backups failed: "
                              + "; ".join(f"{h}: {e}" for h, e in backup_failed.items())
                              + "; nothing was changed")
            return journal.finish(result, ok=False)
        journal.write(result, backups=changed)
        baseline = self.health(probes=True, settled=lambda _: True)  # a snapshot, no wait
        result.batches = batches(changed, self.canary, self.batch_size)
        for index, batch in enumerate(result.batches):
            final = index == len(result.batches) - 1
            label = "canary" if index == 0 and self.canary else f"batch {index + 1}"
            self.say(f"{label}: {', '.join(batch)}")
            if not self._batch(batch, final, baseline, result, journal):
                return self._stop(result, journal, index + 1, EXIT_ROLLED_BACK)
        result.message = (f"deployed to {len(changed)} device(s) in {len(result.batches)} "
                          f"batch(es); health checks passed")
        if result.health is not None and (old := result.health.preexisting(baseline)):
            result.message += (f"; {len(old)} fault(s) present before the deploy remain: "
                               + "; ".join(old[:4]))
        return journal.finish(result, ok=True)

    def _stop(self, result: DeployResult, journal: Journal, next_batch: int,
              code: int) -> DeployResult:
        for h in (h for b in result.batches[next_batch:] for h in b):
            result.set(h, "old", "not attempted (stopped)")
        result.exit_code = code
        return journal.finish(result, ok=False)

    def _backup(self, dep_id: str, hosts: list[str], journal: Journal) -> dict[str, str]:
        """Save every running config verbatim, sealed; failures by host."""
        results = run_all(self._subset(hosts), task=get_running)
        failed = self._failures(results)
        if failed:
            return failed
        for host, multi in results.items():
            running = str(multi[0].result)
            try:
                self.store.save_backup(dep_id, host, self.seal.seal(running))
            except Exception as exc:  # the store's own error, reported like a device's
                return {host: f"cannot store its backup: {exc}"}
            self._backups[host] = running
        return {}

    def _subset(self, hosts: Sequence[str]) -> Nornir:
        wanted = set(hosts)
        return self.nr.filter(filter_func=lambda h: h.name in wanted)

    def _failures(self, results: Any) -> dict[str, str]:
        return {h: error_text(m[0].exception, self.secrets)
                for h, m in results.items() if m[0].failed}

    def _observe(self, hosts: Sequence[str]) -> dict[str, Observation]:
        """Read each device again (pending? new? old?) after a reply was lost."""
        if not hosts:
            return {}
        results = run_all(self._subset(hosts), task=observe, candidates=dict(self.configs),
                          backups=self._backups)
        seen = {}
        for h, m in results.items():
            if m[0].failed:
                seen[h] = Observation(error=error_text(m[0].exception, self.secrets))
            else:
                seen[h] = Observation(**m[0].result)
        return seen

    def _revert(self, hosts: Sequence[str], why: str, result: DeployResult) -> None:
        """Put ``hosts`` back on their backups; each outcome as observed afterwards."""
        if not hosts:
            return
        failed = self._failures(run_all(self._subset(hosts), task=restore,
                                        backups=self._backups))
        seen = self._observe(sorted(failed))
        for h in hosts:
            out = after_revert(h, failed.get(h), seen.get(h), why)
            result.outcomes[h] = out

    def _batch(self, batch: list[str], final: bool, baseline: HealthReport,
               result: DeployResult, journal: Journal) -> bool:
        nr = self._subset(batch)
        rejected = self._failures(run_all(nr, task=load_and_compare,
                                          configs=dict(self.configs), keep=True))
        if rejected:
            self.say(f"rejected by {', '.join(sorted(rejected))}: discarding the batch")
            run_all(nr, task=discard)
            for h in batch:
                result.set(h, "old", rejected.get(h, "not committed: batch stopped"))
            result.message = ("a device rejected its config; nothing in the batch was "
                              f"committed: {', '.join(f'{h}: {e}' for h, e in rejected.items())}")
            return False
        lost = self._lease.still_ours()  # re-checked right before anything is changed
        if lost:
            self.say("the network lock is not ours any more: discarding the batch")
            run_all(nr, task=discard)
            for h in batch:
                result.set(h, "old", "not committed: the network lock is not ours any more")
            result.message = f"stopped before committing: {lost}; nothing more was touched"
            return False
        for h in batch:
            result.set(h, "unknown", "commit in progress")
        journal.touched = True
        if not journal.write(result):
            run_all(nr, task=discard)
            for h in batch:
                result.set(h, "old", "not committed: the state store failed")
            result.message = f"stopped before committing: state store failed ({journal.error})"
            return False
        commit_failed = self._failures(run_all(nr, task=commit, message=f"netpipe {result.id}",
                                               revert_in=self.confirm_timeout))
        for h in batch:
            if h not in commit_failed:
                result.set(h, "pending", f"committed, reverts by itself in "
                                         f"{self.confirm_timeout} s unless confirmed")
        if commit_failed:
            unsure = []
            for h, error in commit_failed.items():
                known = after_commit_error(h, error)
                if known is None:
                    unsure.append(h)
                else:
                    result.outcomes[h] = known
            why = f"commit failed on {', '.join(sorted(commit_failed))}"
            self.say(f"{why}: rolling the batch back")
            self._revert([h for h in batch if h not in commit_failed or h in unsure], why,
                         result)
            for h in unsure:
                if result.outcomes[h].state == "old":
                    result.set(h, "old", f"commit failed ({commit_failed[h]}); restored from "
                                         "the backup")
            result.message = f"{why}; batch rolled back"
            journal.write(result)
            return False
        journal.write(result)
        self.say(f"committed with a {self.confirm_timeout} s revert timer; checking health")
        report = self.health(probes=final, settled=self._settled(baseline, final))
        result.health = report
        problems = report.problems(baseline, final)
        lost = self._lease.still_ours()
        stop = ""  # why to revert the batch; never once an emergency rollback took over
        if problems and not self._lease.broken:
            stop = "health check failed: " + "; ".join(problems[:8])
        elif (journal.error or lost) and not self._lease.broken:
            stop = (f"state store failed: {journal.error or lost}; a change it cannot record "
                    "is not confirmed")
        if stop:
            self.say(f"{stop.split(':')[0]}: rolling back {', '.join(batch)}")
            self._revert(batch, stop.split(":")[0], result)
            result.message = f"{stop}; batch rolled back"
            journal.write(result)
            return False
        if lost:  # someone broke the lock (an emergency rollback): touch nothing more
            for h in batch:
                result.set(h, "unknown", f"committed, not confirmed: {lost}; the revert timer "
                                         "armed at commit, or the rollback, restores the old "
                                         "config")
            result.message = (f"stopped before confirming: {lost}; no device was confirmed or "
                              "reverted by this deploy after that")
            self.say("the network lock was broken: stopping, nothing confirmed")
            return False
        confirm_failed = self._failures(run_all(nr, task=confirm))
        for h in batch:
            if h not in confirm_failed:
                result.set(h, "new", "confirmed")
        if confirm_failed:
            self.say(f"confirm failed on {', '.join(sorted(confirm_failed))}: reading the "
                     "device(s) again")
            seen = self._observe(sorted(confirm_failed))
            still_pending = []
            for h, error in confirm_failed.items():
                out = observed(h, seen[h], f"confirm failed: {error}")
                result.outcomes[h] = out
                if out.state == "pending":
                    still_pending.append(h)
            self._revert(still_pending, "confirm failed", result)
            result.message = f"confirm failed on {', '.join(sorted(confirm_failed))}"
            journal.write(result)
            return False
        journal.write(result)
        self.say(f"confirmed: {', '.join(batch)}")
        return True

    @staticmethod
    def _settled(baseline: HealthReport, final: bool) -> Callable[[Any], bool]:
        return settled(baseline, final)


STEADY = 5.0  # seconds a set of faults must stay the same to count as the network's own


def settled(baseline: HealthReport, final: bool, steady: float = STEADY,
            clock: Callable[[], float] = time.monotonic) -> Callable[[Any], bool]:
    """When a health check may stop polling: nothing is worse than ``baseline``, and either
    everything passes or the faults left have not changed for ``steady`` seconds.

    Faults the baseline had are not blamed on the change, but while routing converges
    they are still going away: a first deploy (nothing passed before) would otherwise be
    reported half-way through convergence, its transient faults as ones that "remain".
    A fault the network really has stays put and costs ``steady`` seconds, not the whole
    wait.
    """
    last: list[Any] = [None, 0.0]  # the faults seen last, and since when

    def done(report: Any) -> bool:
        if report.problems(baseline, final):
            return False
        if report.ok:
            return True
        faults, now = report.preexisting(baseline), clock()
        if faults != last[0]:
            last[:] = [faults, now]
        return bool(now - last[1] >= steady)

    return done

