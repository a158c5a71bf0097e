"""Small rules of the change tasks that depend on the platform."""

from __future__ import annotations

import pytest

from pipeline.change.tasks import KEEPS_MESSAGE, revert_timer


@pytest.mark.parametrize(("asked", "ios"), [(1, 60), (60, 60), (61, 120), (120, 120),
                                            (90_000, 7200)])
def test_the_ios_revert_timer_is_whole_minutes_never_shorter(asked: int, ios: int) -> None:
    assert revert_timer("ios", asked) == ios
    assert revert_timer("frr", asked) == asked


def test_only_drivers_that_keep_a_message_get_one() -> None:
    assert "frr" in KEEPS_MESSAGE and "ios" not in KEEPS_MESSAGE
