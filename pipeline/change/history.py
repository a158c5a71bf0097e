"""Reading the deployment history: which deployment a rollback undoes, and which intent
describes the network it restores. Pure functions over the records in the state store.

A record (``deploy.Deployment`` writes one before the first device is touched and updates
it after every phase) carries ``kind`` (``deploy``, ``rollback-to``, ``rollback``),
``result`` (``running`` until it ends, then ``ok`` or ``failed``; ``interrupted`` once a
later job, holding the lock, found it still ``running``), the intent ``revision``
resolved to a commit id, and per device the state last observed (see ``outcome``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# A device in one of these states may differ from the backup taken before the deployment.
MAY_DIFFER = frozenset({"new", "pending", "unknown"})
DEPLOYMENT_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
_COMMIT = re.compile(r"[0-9a-f]{7,64}")

Record = Mapping[str, Any]


class HistoryError(Exception):
    """No deployment can be chosen without a human: the message says why and what to type."""


@dataclass(frozen=True)
class Undo:
    """The deployment a rollback undoes, and what was passed over to find it."""

    record: Record
    skipped: list[str] = field(default_factory=list)  # "<id>: why", newest first

    @property
    def id(self) -> str:
        return str(self.record["id"])

    def describe(self) -> str:
        r = self.record
        when = f" at {r['when']}" if r.get("when") else ""
        who = f" by {r['who']}" if r.get("who") else ""
        rev = str(r.get("revision") or "?")
        text = f"deployment {self.id} (revision {rev[:12]}{who}{when}, {r.get('result', '?')})"
        if self.skipped:
            text += "; passed over: " + "; ".join(self.skipped)
        return text


def may_differ(record: Record) -> list[str]:
    """Devices this deployment may have left off their backups (new, pending or unknown)."""
    devices = record.get("devices") or {}
    return sorted(h for h, d in devices.items() if d.get("state") in MAY_DIFFER)


def _changes_devices(record: Record) -> bool:
    return str(record.get("kind", "deploy")) != "rollback"


def undone(records: Sequence[Record]) -> dict[str, str]:
    """Deployment id -> the rollback that restored its backups on every device."""
    return {str(r["restored_from"]): str(r["id"]) for r in records
            if r.get("kind") == "rollback" and r.get("restored_from")
            and r.get("result") == "ok"}


def pick_undo(records: Sequence[Record], to: str | None = None) -> Undo:
    """The most recent deployment that may have left a device changed.

    Deployments that failed and left every device on its old config, and deploys that
    changed nothing, are passed over (and named). A deployment already undone by a
    rollback is never stepped past silently: rolling back twice in a row must not
    undo two deployments, so that needs ``--to <deployment id>``.
    """
    by_id = {str(r["id"]): r for r in records}
    if to is not None:
        if to not in by_id:
            raise HistoryError(f"no deployment {to} in the state store")
        chosen = by_id[to]
        if not chosen.get("backups"):
            raise HistoryError(f"deployment {to} took no backups: there is nothing to restore")
        return Undo(chosen)
    done = undone(records)
    skipped: list[str] = []
    for record in sorted(records, key=lambda r: str(r["id"]), reverse=True):
        rid = str(record["id"])
        if not _changes_devices(record):
            continue
        if not may_differ(record):
            why = ("changed nothing" if record.get("result") == "ok"
                   else f"{record.get('result', 'failed')}, every device left on its old config")
            skipped.append(f"{rid}: {why}")
            continue
        if rid in done:
            older = [str(r["id"]) for r in records
                     if str(r["id"]) < rid and _changes_devices(r) and may_differ(r)]
            hint = f" (earlier: {', '.join(older[-3:][::-1])})" if older else ""
            raise HistoryError(
                f"the last deployment that changed devices, {rid}, was already rolled back by "
                f"{done[rid]}; to go further back, name the deployment to undo with "
                f"--to <deployment id>{hint}")
        if not record.get("backups"):
            raise HistoryError(f"deployment {rid} may have changed {', '.join(may_differ(record))}"
                               " but took no backups; use --to <git revision>")
        return Undo(record, skipped)
    raise HistoryError("nothing to roll back: no deployment in the state store left a device "
                       "changed")


def is_commit(revision: object) -> bool:
    return isinstance(revision, str) and bool(_COMMIT.fullmatch(revision))


def intent_before(records: Sequence[Record], undo_id: str) -> str | None:
    """The intent revision the network matched just before deployment ``undo_id``: what to
    verify a rollback to its backups against. None when that is not known for certain.

    Walks back from ``undo_id``: a deployment that ended ``ok`` (all devices confirmed or
    already in sync) at a known commit is the answer; a failed one that left every device
    on its old config is passed over; a rollback that ended ``ok`` and verified against a
    known commit is the answer. Anything else (a deployment that left devices in an
    unknown state, a dirty working tree, a rollback not verified) means no intent is
    known to describe the restored configs, and verifying against a guess would be worse
    than saying so.
    """
    for record in sorted(records, key=lambda r: str(r["id"]), reverse=True):
        if str(record["id"]) >= undo_id:
            continue
        kind, result = record.get("kind", "deploy"), record.get("result")
        if kind == "rollback":
            verified = record.get("verified_against")
            return str(verified) if result == "ok" and is_commit(verified) else None
        if result == "ok":
            revision = record.get("revision")
            return str(revision) if is_commit(revision) else None
        if may_differ(record):
            return None
    return None
