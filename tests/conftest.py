"""Shared fixtures: a scratch copy of the example network that a test may edit."""

from __future__ import annotations

import shutil
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
