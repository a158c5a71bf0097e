"""Which config a device is on, from what was observed and nothing else.

States, in the order of how much a human must worry:

``unchanged``    already on its intended config; not touched
``old``          on the config it had before the change: never committed, or reverted and
                 the revert was seen to succeed
``new``          on the new config, confirmed (the confirm's reply was seen, or the device
                 was read afterwards and holds the candidate with nothing pending)
``pending``      committed, not confirmed: its revert timer is armed on the device and will
                 restore the old config
``unknown``      none of the above was observed (a reply was lost, a restore failed): the
                 next command reads the device to find out
``unreachable``  could not be reached before anything was done to it

A report is never allowed to sound safer than the observation: a commit whose restore
also failed is ``unknown``, not ``old``; a confirm whose reply was lost is ``unknown``
until the device is read; a revert that failed after the timer was cancelled never
claims that the timer will fire.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

State = Literal["new", "old", "unchanged", "pending", "unknown", "unreachable"]

# What napalm_frr says when a failed commit put the device back (or never changed it).
_RESTORED = ("(device restored to its previous configuration)", "nothing was changed")
_RESTORE_FAILED = "RESTORE ALSO FAILED"


@dataclass(frozen=True)
class Outcome:
    host: str
    state: State
    detail: str = ""


@dataclass(frozen=True)
class Observation:
    """What reading a device told us; None for a question that could not be answered."""

    pending: bool | None = None       # a commit-confirm is pending (revert timer armed)
    on_candidate: bool | None = None  # running equals the new config
    on_backup: bool | None = None     # running equals the backup taken before the change
    error: str = ""                   # why the device could not be read


def after_commit_error(host: str, error: str) -> Outcome | None:
    """A failed commit's state when the error itself proves it; None: read the device."""
    if _RESTORE_FAILED in error:
        return None
    if any(marker in error for marker in _RESTORED):
        return Outcome(host, "old", f"commit failed, device restored: {error}")
    return None


def observed(host: str, seen: Observation, context: str) -> Outcome:
    """Classify a device from a fresh reading; ``context`` says what happened before."""
    prefix = f"{context}; " if context else ""
    if seen.error:
        return Outcome(host, "unknown", f"{prefix}could not read the device: {seen.error}")
    if seen.pending:
        return Outcome(host, "pending", f"{prefix}a commit is still pending on the device: "
                                        "its revert timer restores the old config")
    if seen.on_candidate:
        return Outcome(host, "new", f"{prefix}read back: the device holds the new config")
    if seen.on_backup:
        return Outcome(host, "old", f"{prefix}read back: the device holds its old config")
    if seen.on_backup is None:
        return Outcome(host, "unknown", f"{prefix}could not compare the running config")
    if seen.on_candidate is None:
        return Outcome(host, "unknown", f"{prefix}read back: the running config differs from "
                                        "the backup")
    return Outcome(host, "unknown", f"{prefix}read back: the running config is neither the "
                                    "old nor the new one")


def after_revert(host: str, error: str | None, seen: Observation | None, why: str) -> Outcome:
    """A batch revert (``why``: what made it necessary); ``error`` None means it worked."""
    if error is None:
        return Outcome(host, "old", f"rolled back: {why}")
    context = f"{why}; ROLLBACK FAILED: {error}"
    if seen is None:
        return Outcome(host, "unknown", f"{context}; the device could not be read")
    return observed(host, seen, context)
