"""A device's reported state comes from what was observed, never safer than that
(``pipeline.change.outcome``): scenario 4 of issue 11 as unit cases."""

from __future__ import annotations

from pipeline.change.outcome import Observation, after_commit_error, after_revert, observed


def test_a_commit_whose_restore_also_failed_is_not_old() -> None:
    error = "CommitError: nft -f failed: x; RESTORE ALSO FAILED: restore.sh failed: y"
    assert after_commit_error("r1", error) is None  # the device must be read


def test_a_commit_the_device_undid_itself_is_old() -> None:
    restored = "CommitError: nft -f failed: x (device restored to its previous configuration)"
    out = after_commit_error("r1", restored)
    assert out is not None and out.state == "old"
    untouched = "CommitError: backup failed, nothing was changed: disk full"
    assert after_commit_error("r1", untouched).state == "old"  # type: ignore[union-attr]


def test_any_other_commit_error_needs_a_reading() -> None:
    assert after_commit_error("sw1", "ReplaceConfigException: Candidate config could not "
                                     "be applied") is None


def test_a_lost_confirm_reply_is_resolved_by_reading_the_device() -> None:
    confirmed = observed("r1", Observation(pending=False, on_candidate=True), "confirm failed")
    assert confirmed.state == "new"
    timer_won = observed("r1", Observation(pending=False, on_candidate=False, on_backup=True),
                         "confirm failed")
    assert timer_won.state == "old"
    still = observed("r1", Observation(pending=True), "confirm failed")
    assert still.state == "pending"
    unreadable = observed("r1", Observation(error="timeout"), "confirm failed: timeout")
    assert unreadable.state == "unknown" and "could not read" in unreadable.detail


def test_neither_old_nor_new_is_unknown() -> None:
    out = observed("r1", Observation(pending=False, on_candidate=False, on_backup=False), "")
    assert out.state == "unknown" and "neither" in out.detail


def test_a_failed_revert_never_promises_a_cancelled_timer() -> None:
    """Health check failed, the revert cancelled the timer and then failed: the report
    must not say the timer will fire."""
    gone = after_revert("r1", "rollback failed: restore.sh failed",
                        Observation(pending=False, on_candidate=True, on_backup=False),
                        "health check failed")
    assert gone.state == "new"
    assert "ROLLBACK FAILED" in gone.detail and "timer" not in gone.detail
    armed = after_revert("r1", "connection reset", Observation(pending=True), "health")
    assert armed.state == "pending" and "revert timer restores" in armed.detail
    unread = after_revert("r1", "connection reset", None, "health")
    assert unread.state == "unknown" and "timer" not in unread.detail


def test_a_revert_that_worked_is_old() -> None:
    assert after_revert("r1", None, None, "health check failed").state == "old"
