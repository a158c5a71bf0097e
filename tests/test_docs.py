"""docs/rules.md and the code agree: every code emitted is documented, and nothing more."""

from __future__ import annotations

import re

from pipeline.intent.rules import RULES
from tests.conftest import REPO

CODE = re.compile(r"\bNP\d{3}\b")


def documented() -> dict[str, str]:
    rows = {}
    for line in (REPO / "docs" / "rules.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 2 and CODE.fullmatch(cells[0]):
            rows[cells[0]] = cells[1]
    return rows


def emitted() -> set[str]:
    codes: set[str] = set()
    for path in (REPO / "pipeline").rglob("*.py"):
        codes |= set(re.findall(r'"(NP\d{3})"', path.read_text()))
    return codes


def test_every_emitted_code_is_documented() -> None:
    missing = emitted() - set(documented())
    assert not missing, f"codes not in docs/rules.md: {sorted(missing)}"


def test_no_documented_code_is_dead() -> None:
    dead = set(documented()) - emitted()
    assert not dead, f"docs/rules.md lists codes nothing emits: {sorted(dead)}"


def test_rule_severities_match_docs() -> None:
    docs = documented()
    for code, info in RULES.items():
        assert docs[code] == info.severity.value, code
