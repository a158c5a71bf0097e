"""Emergency rollback: every device back to the backup taken before the deployment to undo.

Needs no render and no CI: only the state store (and its key) and the devices. Which
deployment it undoes is decided by ``history.pick_undo`` and said out loud; it asks no
question, runs every device in parallel, reverts a commit still pending on a device (a
killed deploy's), commits the backup without a revert timer (this *is* the way back),
and verifies afterwards against the intent known to describe the restored configs
(``history.intent_before``), or says that none is known. ``--force`` breaks the lock,
and the store records that it did.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from nornir.core import Nornir

from pipeline.change.diff import error_text
from pipeline.change.history import HistoryError, Undo, intent_before, pick_undo
from pipeline.change.journal import (
    EXIT_DEVICE,
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    DeployResult,
    Health,
    Journal,
    Lease,
    now,
    under_lock,
    who,
)
from pipeline.change.outcome import Observation, observed
from pipeline.change.seal import Sealer, SealError
from pipeline.change.store import Store
from pipeline.change.tasks import observe, restore, run_all
from pipeline.secrets import PLACEHOLDER, MissingSecret, resolve

# Given the intent revision (None: none known), a health check for it, or None with why.
Verifier = Callable[[str | None], tuple[Health | None, str]]


@dataclass
class Rollback:
    nr: Nornir
    store: Store
    seal: Sealer
    secret_source: Callable[[set[str]], dict[str, str]]  # values for placeholder names
    verifier: Verifier | None = None
    say: Callable[[str], None] = print
    force: bool = False
    limit: Sequence[str] = ()
    to: str | None = None  # a deployment id: undo that one rather than the last
    note: str = ""  # recorded with the rollback (e.g. "offline: origin unreachable")

    def __post_init__(self) -> None:
        self.secrets: dict[str, str] = {}  # only for backups stored with placeholders

    def run(self) -> DeployResult:
        if self.force:
            broken = self.store.break_lock(who())
            if broken is not None:
                self.say(f"broke the lock held by {broken.holder} since {broken.since}")
        return under_lock(self.store, "emergency rollback", self._locked,
                          " (use --force if it is stale)", finish=self.nr.close_connections)

    def _locked(self, lease: Lease) -> DeployResult:
        records = self.store.deployments()
        try:
            undo = pick_undo(records, self.to)
        except HistoryError as exc:
            return DeployResult("", EXIT_USAGE, str(exc))
        hosts = [h for h in self.store.backup_hosts(undo.id)
                 if not self.limit or h in self.limit]
        missing = [h for h in hosts if h not in self.nr.inventory.hosts]
        if missing:
            return DeployResult("", EXIT_USAGE, f"no connection details for {', '.join(missing)}")
        try:
            opened = {h: self.seal.open(self.store.load_backup(undo.id, h)) for h in hosts}
            self.secrets = self.secret_source(
                {m for text in opened.values() for m in PLACEHOLDER.findall(text)})
            configs = {h: resolve(text, self.secrets) for h, text in opened.items()}
        except MissingSecret as exc:
            return DeployResult("", EXIT_USAGE, f"secret {exc} is not set in the environment "
                                                "(a backup taken before backups were sealed)")
        except SealError as exc:
            return DeployResult("", EXIT_USAGE, str(exc))
        rid = self.store.new_deployment_id()
        result = DeployResult(rid, EXIT_OK, "", batches=[hosts])
        for h in hosts:
            result.set(h, "unknown", "restore in progress")
        journal = Journal(self.store, {
            "id": rid, "kind": "rollback", "who": who(), "when": now(),
            "restored_from": undo.id, "revision": "", "backups": [],
            **({"note": self.note} if self.note else {}),
        })
        journal.touched = True
        journal.write(result)
        self.say(f"rollback {rid}: restoring {len(hosts)} device(s) to the backups taken "
                 f"before {undo.describe()}")
        started = time.monotonic()
        nr = self.nr.filter(filter_func=lambda h: h.name in hosts)
        done = run_all(nr, task=restore, backups=configs)
        failed = {h: error_text(m[0].exception, self.secrets) for h, m in done.items()
                  if m[0].failed}
        seen = self._observe(sorted(failed), configs)
        for h in hosts:
            if h in failed:
                result.outcomes[h] = observed(h, seen[h], f"restore failed: {failed[h]}")
            elif done[h][0].changed:
                result.set(h, "old", f"restored to the backup before {undo.id}")
            else:
                result.set(h, "unchanged", "already on the backup")
        not_restored = sorted(h for h in failed if result.outcomes[h].state != "old")
        if not_restored:
            result.exit_code = EXIT_DEVICE
            result.message = f"rollback FAILED on {', '.join(not_restored)}"
        else:
            result.message = (f"rolled back {len(hosts)} device(s) to the config before "
                              f"{undo.id}: restored in {time.monotonic() - started:.1f} s")
        if not not_restored:
            journal.record["verified_against"] = self._verify(records, undo, result)
        return journal.finish(result, ok=not not_restored)

    def _verify(self, records: Sequence[Mapping[str, object]], undo: Undo,
                result: DeployResult) -> str:
        """Verify against the intent before ``undo``: the revision if verify passed, else
        "" (a failed verify makes the exit code 1: the network is not as that intent says)."""
        if self.verifier is None:
            return ""
        revision = intent_before(records, undo.id)
        health, why = self.verifier(revision)
        if health is None or revision is None:
            result.message += f"; verify skipped: {why}"
            return ""
        started = time.monotonic()
        result.health = health(probes=True)
        took = f" in {time.monotonic() - started:.1f} s"
        if result.health.ok:
            result.message += f"; verify passed (intent of {revision[:12]}){took}"
            return revision
        result.exit_code = EXIT_FINDINGS
        result.message += f"; verify FAILED against the intent of {revision[:12]}{took}"
        return ""

    def _observe(self, hosts: Sequence[str], configs: Mapping[str, str]
                 ) -> dict[str, Observation]:
        if not hosts:
            return {}
        results = run_all(self.nr.filter(filter_func=lambda h: h.name in hosts), task=observe,
                          candidates={}, backups=dict(configs))
        return {h: (Observation(error=error_text(m[0].exception, self.secrets)) if m[0].failed
                    else Observation(**m[0].result)) for h, m in results.items()}
