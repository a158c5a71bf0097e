"""One sentence on where a deploy or rollback left the network, from its outcomes.

A failed deploy prints what went wrong; a reader must not have to work out from a table
whether the network is now broken. This says it: which devices run the new config,
which their previous one, and which are in a state nobody can vouch for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class HasState(Protocol):
    @property
    def state(self) -> str: ...


def end_state(outcomes: Mapping[str, HasState], kind: str = "deploy") -> str:
    """``network now: …`` ("" when there were no devices)."""
    if not outcomes:
        return ""
    by: dict[str, list[str]] = {}
    for host, outcome in sorted(outcomes.items()):
        by.setdefault(outcome.state, []).append(host)

    def some(state: str, words: str, then: str = "") -> str:
        hosts = by.get(state, [])
        return f"{len(hosts)} {words} ({', '.join(hosts)}){then}" if hosts else ""

    previous = "restored" if kind == "rollback" else "on the old config"
    parts = [some("new", "on the new config"), some("old", previous),
             f"{len(by['unchanged'])} unchanged" if by.get("unchanged") else "",
             some("pending", "committed, not confirmed", ": the revert timer puts it back"),
             some("unreachable", "not reached"),
             some("unknown", "in an UNKNOWN state", ": check with netpipe drift")]
    sentence = "network now: " + "; ".join(p for p in parts if p)
    if kind != "rollback" and not (by.keys() & {"new", "pending", "unknown"}):
        sentence += ": as before this deploy, nothing of it remains"
    return sentence
