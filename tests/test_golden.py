"""Golden files: the example network's rendered configs, byte for byte.

A template or intent change that alters a config shows up here as a diff to review;
`make golden` rewrites the files when the change is intended.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from pipeline.build import build
from tests.conftest import REPO

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, str]]:
    result = build(REPO)
    assert result.ok, "\n".join(map(str, result.findings))
    return {h: r.files for h, r in result.rendered.items()}


def test_golden(rendered: dict[str, dict[str, str]], request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--update-golden"):
        for host, files in rendered.items():
            for name, text in files.items():
                path = GOLDEN / host / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    expected = {p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*") if p.is_file()}
    got = {f"{h}/{n}" for h, files in rendered.items() for n in files}
    assert got == expected, f"missing golden: {got - expected}; stale golden: {expected - got}"
    for key in sorted(got):
        host, name = key.split("/")
        want = (GOLDEN / key).read_text(encoding="utf-8")
        got_text = rendered[host][name]
        diff = "".join(difflib.unified_diff(want.splitlines(True), got_text.splitlines(True),
                                            f"golden/{key}", f"rendered/{key}"))
        assert not diff, f"{key} differs from its golden file (make golden if intended):\n{diff}"


def test_every_device_has_golden_files() -> None:
    from pipeline.intent.parse import parse

    intent, _ = parse(REPO)
    assert intent is not None
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(intent.hosts)


def test_render_is_deterministic(rendered: dict[str, dict[str, str]]) -> None:
    again = build(REPO)
    assert {h: r.files for h, r in again.rendered.items()} == rendered


def test_no_secret_values_in_configs(rendered: dict[str, dict[str, str]]) -> None:
    text = "\n".join(t for files in rendered.values() for t in files.values())
    assert "<secret:TACACS_KEY>" in text and "<secret:BGP_ISP_PASSWORD>" in text
    assert "password" not in text.replace("password-encryption", "").replace(
        "password <secret:", "")
