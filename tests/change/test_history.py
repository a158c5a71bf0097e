"""Which deployment a rollback undoes, and which intent verifies it: the decisions as
small pure functions over deployment records (``pipeline.change.history``)."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.change.history import HistoryError, intent_before, may_differ, pick_undo

A, B = "a" * 40, "b" * 40


def rec(rid: str, result: str = "ok", kind: str = "deploy", revision: str = A,
        **devices: str) -> dict[str, Any]:
    return {"id": rid, "kind": kind, "result": result, "revision": revision,
            "backups": sorted(devices), "who": "alice", "when": "t",
            "devices": {h: {"state": s, "detail": ""} for h, s in devices.items()}}


def rollback(rid: str, undoes: str, result: str = "ok", verified: str = "") -> dict[str, Any]:
    return {"id": rid, "kind": "rollback", "result": result, "restored_from": undoes,
            "verified_against": verified, "backups": [], "devices": {}}


def test_the_newest_deployment_that_changed_something() -> None:
    records = [rec("d1", r1="new"), rec("d2", r1="new", r2="unchanged")]
    assert pick_undo(records).id == "d2"


def test_a_killed_job_is_undone_by_its_own_record() -> None:
    """Scenario 5: the job was killed between batches; its record, written before the
    first device, is what the rollback undoes (not the deployment before it)."""
    killed = rec("d2", result="running", r1="new", r2="pending", r3="old")
    undo = pick_undo([rec("d1", r1="new", r2="new", r3="new"), killed])
    assert undo.id == "d2"
    assert may_differ(killed) == ["r1", "r2"]


def test_failed_and_reverted_deployments_are_passed_over_and_named() -> None:
    records = [rec("d1", r1="new"), rec("d2", result="failed", r1="old", r2="old"),
               rec("d3", r1="unchanged")]
    undo = pick_undo(records)
    assert undo.id == "d1"
    assert undo.skipped == ["d3: changed nothing",
                            "d2: failed, every device left on its old config"]
    assert "passed over: d3" in undo.describe()


def test_a_failed_deployment_that_left_an_unknown_device_is_undone() -> None:
    records = [rec("d1", r1="new"), rec("d2", result="failed", r1="unknown", r2="old")]
    assert pick_undo(records).id == "d2"


def test_rolling_back_twice_does_not_silently_undo_two_deployments() -> None:
    records = [rec("d1", r1="new"), rec("d2", r1="new"), rollback("d3", "d2")]
    with pytest.raises(HistoryError, match=r"already rolled back by d3.*--to.*d1"):
        pick_undo(records)
    assert pick_undo(records, to="d1").id == "d1"


def test_to_names_a_deployment_that_must_have_backups() -> None:
    records = [rec("d1", r1="new"), rec("d2", r1="unchanged") | {"backups": []}]
    with pytest.raises(HistoryError, match="no deployment d9"):
        pick_undo(records, to="d9")
    with pytest.raises(HistoryError, match="took no backups"):
        pick_undo(records, to="d2")


def test_nothing_to_roll_back() -> None:
    with pytest.raises(HistoryError, match="nothing to roll back"):
        pick_undo([rec("d1", result="failed", r1="old")])


def test_a_failed_rollback_does_not_count_as_undone() -> None:
    records = [rec("d1", r1="new"), rollback("d2", "d1", result="failed")]
    assert pick_undo(records).id == "d1"


def test_verify_against_the_deployment_before() -> None:
    records = [rec("d1", revision=B, r1="new"), rec("d2", revision=A, r1="new")]
    assert intent_before(records, "d2") == B


def test_verify_never_against_the_intent_being_rolled_back() -> None:
    """The backups predate every record: no intent is known (not the working tree)."""
    assert intent_before([rec("d1", r1="new")], "d1") is None


def test_verify_skips_failed_deployments_that_left_nothing_changed() -> None:
    records = [rec("d1", revision=B, r1="new"), rec("d2", result="failed", r1="old"),
               rec("d3", r1="new")]
    assert intent_before(records, "d3") == B


def test_an_unknown_device_before_means_no_known_intent() -> None:
    records = [rec("d1", revision=B, r1="new"), rec("d2", result="failed", r1="unknown"),
               rec("d3", r1="new")]
    assert intent_before(records, "d3") is None


def test_a_dirty_revision_is_no_intent() -> None:
    records = [rec("d1", revision="", r1="new"), rec("d2", r1="new")]
    assert intent_before(records, "d2") is None


def test_after_a_verified_rollback_its_intent_is_known() -> None:
    records = [rec("d1", revision=B, r1="new"), rec("d2", r1="new"),
               rollback("d3", "d2", verified=B), rec("d4", r1="new")]
    assert intent_before(records, "d4") == B
    unverified = [*records[:2], rollback("d3", "d2"), records[3]]
    assert intent_before(unverified, "d4") is None
