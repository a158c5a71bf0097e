"""Error cases as golden pairs (the netlab way): each tests/errors/*.yaml edits a copy
of the example network and names the findings that must come out, file and line.

Case format::

    description: what is wrong
    edit:
      intent/sites/hq.yaml:
        - {replace: "old text", with: "new text"}     # must match exactly once
        - {append: "text"}
      intent/extra.yaml: {write: "whole file"}
      intent/routing.yaml: {delete: true}
    expect:
      - {code: NP101, file: intent/sites/hq.yaml, line: 11}
      - {code: NP010, file: …, line: 5, message: "part of it", hint: "part of it",
         not_in_hint: "did you mean"}

Every expected finding must appear (with ``message``/``hint`` in its text when given, and
``not_in_hint`` not in its hint), and no error with a code outside ``expect``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.build import build
from tests.conftest import copy_example

CASES = sorted((Path(__file__).parent / "errors").glob("*.yaml"))


def apply_edits(root: Path, edits: dict[str, Any]) -> None:
    for rel, ops in edits.items():
        path = root / rel
        if isinstance(ops, dict):
            if ops.get("delete"):
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(ops["write"], encoding="utf-8")
            continue
        text = path.read_text(encoding="utf-8")
        for op in ops:
            if "replace" in op:
                count = text.count(op["replace"])
                assert count == 1, f"{rel}: {op['replace']!r} found {count} times, want 1"
                text = text.replace(op["replace"], op["with"])
            else:
                text += op["append"]
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_error_case(case: Path, tmp_path: Path) -> None:
    spec = yaml.safe_load(case.read_text(encoding="utf-8"))
    root = copy_example(tmp_path / "net")
    apply_edits(root, spec.get("edit", {}))
    result = build(root)
    got = {(f.code, f.file, f.line) for f in result.findings}
    for want in spec["expect"]:
        key = (want["code"], want["file"], want["line"])
        assert key in got, f"missing {key}; got:\n" + "\n".join(map(str, result.findings))
        there = [f for f in result.findings if (f.code, f.file, f.line) == key]
        if "message" in want:
            assert any(want["message"] in f.message for f in there), there
        if "hint" in want:
            assert any(want["hint"] in f.hint for f in there), there
        if "not_in_hint" in want:
            assert all(want["not_in_hint"] not in f.hint for f in there), there
    wanted_codes = {w["code"] for w in spec["expect"]}
    stray = [f for f in result.findings if f.is_error and f.code not in wanted_codes]
    assert not stray, "unexpected errors:\n" + "\n".join(map(str, stray))
    if any(f.is_error for f in result.findings):
        assert not result.rendered, "a build with errors must not hand over configs"


def test_every_rule_code_has_a_case() -> None:
    from pipeline.intent.rules import RULES

    covered = set()
    for case in CASES:
        covered |= {w["code"] for w in yaml.safe_load(case.read_text())["expect"]}
    missing = sorted(set(RULES) - covered)
    assert not missing, f"rule codes without a negative case in tests/errors: {missing}"
