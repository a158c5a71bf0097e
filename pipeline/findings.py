"""Findings: the one currency every check stage pays in.

A finding points at a file and line like a compiler error, carries a stable code
(documented in docs/rules.md) and a hint that says how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import NamedTuple

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Loc(NamedTuple):
    """A position in a source file (1-based line and column). A tuple, not a dataclass:
    the loader makes one for every key and item of every file (at 5,000 devices, 340,000)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    file: str
    line: int = 0
    column: int = 0
    hint: str = ""

    @classmethod
    def at(
        cls, loc: Loc | None, code: str, message: str, hint: str = "",
        severity: Severity = Severity.ERROR,
    ) -> Finding:
        loc = loc or Loc("<unknown>")
        return cls(code, severity, message, loc.file, loc.line, loc.column, hint)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.code)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["severity"] = str(self.severity)
        return data

    def __str__(self) -> str:
        where = str(Loc(self.file, self.line, self.column))
        text = f"{where}: {self.code} {self.severity} {self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


EXCERPT_CHARS = 32


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A short, escaped quote of untrusted text for a message.

    Messages end up in CI logs and merge-request reports: they may quote what they refuse,
    but never more than ``limit`` characters of it, and never a raw control character.
    """
    text = value if isinstance(value, str) else str(value)
    cut = text[:limit]
    quoted = repr(cut)
    return quoted + "…" if len(text) > limit else quoted


def clip(text: object, limit: int = 120) -> str:
    """Text from a tool or library (not a quote of a file): control characters escaped,
    cut at ``limit``."""
    raw = text if isinstance(text, str) else str(text)
    cut = _CONTROL.sub(lambda m: repr(m.group())[1:-1], raw[:limit])
    return cut + "…" if len(raw) > limit else cut


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.is_error for f in findings)


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Stable order (file, line, column, code) and no exact duplicates."""
    return sorted(set(findings), key=Finding.sort_key)
