"""Shared fixtures: a scratch copy of the example network that a test may edit."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_PARTS = ("intent", "inventory", "templates")


def copy_example(dest: Path) -> Path:
    for part in EXAMPLE_PARTS:
        shutil.copytree(REPO / part, dest / part)
    return dest


@pytest.fixture
def network(tmp_path: Path) -> Path:
    """A private copy of the example network (intent, inventory, templates)."""
    return copy_example(tmp_path / "net")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden from the current render")


def require(reason: str | None, what: str) -> None:
    """Go on if ``reason`` is None; else skip with it, or in CI fail: "CI must <what>"."""
    import os

    if reason and os.environ.get("CI"):
        pytest.fail(f"CI must {what}: {reason}")
    if reason:
        pytest.skip(reason)


# In CI nothing may be skipped: a lab test that skips there proves nothing, so a skip
# (no root, FRR or sshd missing) fails the run instead of passing quietly.
_SKIPPED: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import os

    if os.environ.get("CI") and _SKIPPED and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    import os

    if os.environ.get("CI") and _SKIPPED:
        terminalreporter.write_line(
            f"FAILED: {len(_SKIPPED)} test(s) skipped in CI, where every test must run: "
            + ", ".join(_SKIPPED[:10]), red=True)


@pytest.fixture(autouse=True)
def _no_build_cache() -> Iterator[None]:
    """Tests build from scratch: a config kept by an earlier test (with other patches in
    place) must not stand in for this one's. tests/test_incremental.py turns it back on.

    Not through ``monkeypatch``: an autouse fixture that requests it moves its teardown
    after every other fixture's, so a test's environment changes would still be in place
    when a lab fixture redeploys the base network."""
    from pipeline.render import cache

    real = cache.machine_key
    cache.machine_key = lambda: None
    yield
    cache.machine_key = real
