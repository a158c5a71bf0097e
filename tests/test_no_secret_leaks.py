"""Secrets stay out of logs, diffs and reports, even when a device quotes them back."""

from __future__ import annotations

import logging

import pytest
from nornir.core.task import Task

from pipeline.change.diff import HostDiff, as_markdown, error_text
from pipeline.change.targets import Target, nornir_for
from pipeline.secrets import mask

SECRET = "Sup3r-s3cret!"


def failing(task: Task) -> None:
    raise ValueError(f"line 12: % Unknown command: neighbor 1.2.3.4 password {SECRET}")


def test_failed_task_tracebacks_are_not_logged(capfd: pytest.CaptureFixture[str],
                                               caplog: pytest.LogCaptureFixture) -> None:
    # Nornir logs "task failed with traceback" (the device's message, secret included);
    # netpipe keeps the libraries' loggers to themselves and reports errors masked.
    caplog.set_level(logging.DEBUG)
    nr = nornir_for({"r1": Target("r1", "frr", "r1")})
    result = nr.run(task=failing)
    assert result["r1"].failed
    out, err = capfd.readouterr()
    assert SECRET not in out + err
    assert not [r for r in caplog.records if SECRET in r.getMessage()]
    assert SECRET not in error_text(result["r1"][0].exception, {"BGP_PW": SECRET})


def test_mask() -> None:
    text = f"neighbor 1.2.3.4 password {SECRET}\nsnmp <secret:SNMP>\n"
    masked = mask(text, {"BGP_PW": SECRET})
    assert SECRET not in masked and "<secret:SNMP>" not in masked


def test_merge_request_note_carries_only_masked_diffs() -> None:
    diff = mask(f"+ neighbor 1.2.3.4 password {SECRET}\n", {"BGP_PW": SECRET})
    note = as_markdown({"r1": HostDiff("r1", "frr", True, True, diff, 1, 0)})
    assert SECRET not in note and "<secret:masked>" in note


@pytest.mark.parametrize("value", ["x\nusername evil", "a\rb", "", "tab\there"])
def test_resolve_refuses_a_value_that_would_add_lines(value: str) -> None:
    from pipeline.secrets import BadSecret, resolve

    with pytest.raises(BadSecret, match="SNMP_RO_COMMUNITY") as info:
        resolve("snmp-server community <secret:SNMP_RO_COMMUNITY> RO\n",
                {"SNMP_RO_COMMUNITY": value})
    assert value not in str(info.value) or not value


def test_every_kind_accepts_what_the_lab_generates() -> None:
    """The lab fills secrets with its own values; they must fit every kind they may meet."""
    from pipeline.lab.lab import lab_secrets
    from pipeline.secrets import KINDS, problem

    values = lab_secrets(["SNMP_RO_COMMUNITY", "TACACS_KEY", "BGP_ISP_PASSWORD"], env={})
    for value in values.values():
        for kind in set(KINDS) - {"password_hash"}:
            assert problem(kind, value) is None, (kind, value)
