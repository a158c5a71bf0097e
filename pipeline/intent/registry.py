"""The registry of semantic rules: each rule is a function registered with a stable code,
a title and a severity. ``docs/rules.md`` lists every code (a test keeps the two in step).
Rules read the validated intent and yield findings that point at the line that is wrong.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pipeline.findings import Finding, Loc, Severity
from pipeline.intent.memo import sharing
from pipeline.intent.model import Site
from pipeline.intent.parse import Intent

Check = Callable[[Intent], Iterable[Finding]]


@dataclass(frozen=True)
class RuleInfo:
    code: str
    title: str
    severity: Severity
    check: Check


RULES: dict[str, RuleInfo] = {}


def rule(code: str, title: str, severity: Severity = Severity.ERROR) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        RULES[code] = RuleInfo(code, title, severity, check)
        return check
    return register


def check(intent: Intent) -> list[Finding]:
    """Run every rule; a rule's severity applies to all of its findings."""
    findings: list[Finding] = []
    with sharing():
        for info in RULES.values():
            for f in info.check(intent):
                findings.append(Finding(info.code, info.severity, f.message, f.file, f.line,
                                        f.column, f.hint))
    return findings


def found(loc: Loc, message: str, hint: str = "") -> Finding:
    """A finding whose code and severity ``check`` fills in from the rule."""
    return Finding.at(loc, "", message, hint)


def did_you_mean(name: str, known: Iterable[str], where: str) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"did you mean {close[0]!r}?" if close else f"define it in {where}"


def site_of(intent: Intent, device: str) -> Site | None:
    host = intent.hosts.get(device)
    return intent.sites.get(host.data.site) if host else None
