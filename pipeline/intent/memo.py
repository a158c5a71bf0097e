"""Facts several rules derive from the same intent, derived once per rule run.

The rules are separate functions over the whole intent, and a few of them walk it for the
same facts (every assigned address, every subnet, every interface use, the zones'
prefixes). Inside :func:`sharing` (the rule run) a function marked :func:`shared` is
computed once per intent; outside it (the design, tests) it is computed on every call, so
nothing stale outlives the run. Callers must not change what they get.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

R = TypeVar("R")

_MEMO: dict[tuple[Callable[..., Any], int], Any] | None = None


def shared(fn: Callable[[Any], R]) -> Callable[[Any], R]:
    @wraps(fn)
    def once(intent: Any) -> R:
        if _MEMO is None:
            return fn(intent)
        key = (fn, id(intent))
        if key not in _MEMO:
            _MEMO[key] = (intent, fn(intent))  # the intent held: its id stays its own
        value: R = _MEMO[key][1]
        return value
    return once


@contextmanager
def sharing() -> Iterator[None]:
    global _MEMO
    outer, _MEMO = _MEMO, {} if _MEMO is None else _MEMO
    try:
        yield
    finally:
        _MEMO = outer
