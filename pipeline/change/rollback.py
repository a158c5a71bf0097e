"""Emergency rollback: every device back to the backup taken before the last deployment.

Needs no render, no git and no remote: only the state store and the devices. It asks
no question, runs every device in parallel, commits without a revert timer (this *is*
the way back), and verifies afterwards. ``--force`` breaks a stale lock and the store
records that it did.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nornir.core import Nornir

from pipeline.change.deploy import (
    EXIT_DEVICE,
    EXIT_OK,
    EXIT_USAGE,
    DeployResult,
    Health,
    Outcome,
    under_lock,
    who,
)
from pipeline.change.diff import error_text
from pipeline.change.store import Store
from pipeline.change.tasks import commit, load_and_compare
from pipeline.secrets import MissingSecret, resolve


def last_backup(store: Store) -> dict[str, Any] | None:
    """The newest deployment that took backups (rollbacks themselves take none)."""
    for record in store.deployments()[::-1]:
        if record.get("backups") and record.get("kind", "deploy") != "rollback":
            return record
    return None


@dataclass
class Rollback:
    nr: Nornir
    store: Store
    secrets: Mapping[str, str]
    health: Health | None = None
    say: Callable[[str], None] = print
    force: bool = False
    limit: Sequence[str] = ()

    def run(self) -> DeployResult:
        if self.force:
            broken = self.store.break_lock(who())
            if broken is not None:
                self.say(f"broke the lock held by {broken.holder} since {broken.since}")
        return under_lock(self.store, self.nr, "emergency rollback", self._locked,
                          " (use --force if it is stale)")

    def _locked(self) -> DeployResult:
        source = last_backup(self.store)
        if source is None:
            return DeployResult("", EXIT_USAGE, "nothing to roll back to: no deployment "
                                                "with backups in the state store")
        hosts = [h for h in self.store.backup_hosts(source["id"])
                 if not self.limit or h in self.limit]
        missing = [h for h in hosts if h not in self.nr.inventory.hosts]
        if missing:
            return DeployResult("", EXIT_USAGE, f"no connection details for {', '.join(missing)}")
        try:
            configs = {h: resolve(self.store.load_backup(source["id"], h), self.secrets)
                       for h in hosts}
        except MissingSecret as exc:
            return DeployResult("", EXIT_USAGE, f"secret {exc} is not set in the environment")
        rid = self.store.new_deployment_id()
        self.say(f"rollback {rid}: restoring {len(hosts)} device(s) to the backups taken "
                 f"before deployment {source['id']} (revision {source.get('revision', '?')})")
        started = time.monotonic()
        nr = self.nr.filter(filter_func=lambda h: h.name in hosts)
        result = DeployResult(rid, EXIT_OK, "", batches=[hosts])
        loaded = nr.run(task=load_and_compare, configs=configs, keep=True)
        changed = [h for h, m in loaded.items() if not m[0].failed and m[0].changed]
        failed = {h: error_text(m[0].exception, self.secrets) for h, m in loaded.items()
                  if m[0].failed}
        committed = nr.filter(filter_func=lambda h: h.name in changed).run(
            task=commit, message=f"netpipe rollback to {source['id']}", revert_in=None)
        failed |= {h: error_text(m[0].exception, self.secrets) for h, m in committed.items()
                   if m[0].failed}
        for h in hosts:
            if h in failed:
                result.outcomes[h] = Outcome(h, "unknown", failed[h])
            elif h in changed:
                result.outcomes[h] = Outcome(h, "old", f"restored to {source['id']}")
            else:
                result.outcomes[h] = Outcome(h, "unchanged", "already on the backup")
        if failed:
            result.exit_code = EXIT_DEVICE
            result.message = f"rollback FAILED on {', '.join(sorted(failed))}"
        else:
            result.message = (f"rolled back {len(changed)} device(s) to the config before "
                              f"{source['id']} in {time.monotonic() - started:.1f} s")
        if self.health is not None and not failed:
            result.health = self.health(probes=True)
            result.message += "; verify " + ("passed" if result.health.ok else "FAILED")
        self.store.save_deployment({
            "id": rid, "kind": "rollback", "who": who(),
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "restored_from": source["id"], "revision": source.get("revision", ""),
            "result": "ok" if not failed else "failed", "exit_code": result.exit_code,
            "message": result.message, "batches": result.batches, "backups": [],
            "devices": {h: {"state": o.state, "detail": o.detail}
                        for h, o in sorted(result.outcomes.items())},
        })
        return result
