"""Facts the rules share are derived once per rule run, and never outlive it."""

from __future__ import annotations

from pipeline.intent.memo import shared, sharing


class _Intent:
    pass


def test_shared_facts_are_derived_once_per_intent_and_run() -> None:
    calls: list[int] = []

    @shared
    def fact(intent: object) -> list[int]:
        calls.append(id(intent))
        return [len(calls)]

    one, two = _Intent(), _Intent()
    with sharing():
        assert fact(one) is fact(one)
        assert fact(two) == [2]
        with sharing():  # a nested run shares the outer one's facts
            assert fact(one) == [1]
    assert calls == [id(one), id(two)]
    assert fact(one) == [3] and fact(one) == [4]  # outside a run: every call, nothing kept
