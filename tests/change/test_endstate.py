"""The end-state sentence after a deploy or rollback."""

from __future__ import annotations

from pipeline.change.endstate import end_state
from pipeline.change.outcome import Outcome


def outcomes(**states: str) -> dict[str, Outcome]:
    return {h.replace("_", "-"): Outcome(h.replace("_", "-"), s) for h, s in states.items()}


def test_a_rolled_back_batch_leaves_the_network_as_before() -> None:
    text = end_state(outcomes(hq_core1="old", gent_core1="unchanged", wh_core1="unchanged"))
    assert text == ("network now: 1 on the old config (hq-core1); 2 unchanged: "
                    "as before this deploy, nothing of it remains")


def test_earlier_batches_stay_on_the_new_config() -> None:
    text = end_state(outcomes(hq_edge1="new", hq_core1="old", wh_core1="old"))
    assert text == ("network now: 1 on the new config (hq-edge1); "
                    "2 on the old config (hq-core1, wh-core1)")


def test_an_unknown_device_is_called_out() -> None:
    text = end_state(outcomes(hq_core1="unknown", wh_core1="unreachable"))
    assert "1 in an UNKNOWN state (hq-core1): check with netpipe drift" in text
    assert "1 not reached (wh-core1)" in text and "nothing of it remains" not in text


def test_a_pending_device_is_not_called_done() -> None:
    text = end_state(outcomes(hq_core1="pending", wh_core1="old"))
    assert "1 committed, not confirmed (hq-core1): the revert timer puts it back" in text
    assert "nothing of it remains" not in text


def test_rollback_wording() -> None:
    text = end_state(outcomes(hq_core1="old", wh_core1="unchanged"), kind="rollback")
    assert text == "network now: 1 restored (hq-core1); 1 unchanged"
    assert end_state({}) == ""
