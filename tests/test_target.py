"""NETPIPE_TARGET: production (default) or lab, for a CI runner that hosts the lab."""

from __future__ import annotations

import pytest

from pipeline.cli import main, parser
from tests.conftest import REPO


def test_netpipe_target_lab_makes_lab_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETPIPE_TARGET", "lab")
    for command in ("diff", "deploy", "rollback", "drift", "verify"):
        assert parser().parse_args([command]).lab, command
    monkeypatch.setenv("NETPIPE_TARGET", "production")
    assert not parser().parse_args(["deploy"]).lab


def test_netpipe_target_unknown_is_refused(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NETPIPE_TARGET", "prod")
    assert main(["deploy", "--root", str(REPO)]) == 2
    assert "NETPIPE_TARGET='prod': use one of production, lab" in capsys.readouterr().err
