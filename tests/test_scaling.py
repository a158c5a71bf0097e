"""Every stage grows linearly with the estate: counted in operations, never timed.

The generated estate (benchmarks/estate.py) at 4, 8 and 16 sites. Each stage's operations
are counted as Python and C function calls (``sys.setprofile``), which sees a loop
hidden in a library as well as one in netpipe. The growth from 8 to 16 sites, divided by
the growth from 4 to 8, is 2 for a linear stage (fixed costs cancel out), a little more
for n·log n, and 4 for a quadratic one: a stage over 2.5 fails the test.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from benchmarks.estate import generate
from pipeline.design import design
from pipeline.intent.parse import Intent, parse
from pipeline.intent.rules import RULES
from pipeline.render.render import render

SIZES = (42, 82, 162)  # 4, 8 and 16 sites of ten devices, plus two hubs
LIMIT = 2.5


def operations(work: Callable[[], Any]) -> tuple[int, Any]:
    """(calls made while ``work`` ran, its result)."""
    count = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        result = work()
    finally:
        sys.setprofile(None)
    return count, result


def _stages(root: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    counts["parse"], (intent, findings) = operations(lambda: parse(root))
    assert isinstance(intent, Intent) and not findings
    for code, info in RULES.items():
        counts[code], _ = operations(lambda check=info.check: list(check(intent)))
    counts["design"], devices = operations(lambda: design(intent))
    counts["render"], (_, problems) = operations(  # in this process: the profile sees it all
        lambda: render(devices, root, intent.network.secrets, processes=1))
    assert not problems
    return counts


@pytest.fixture(scope="module")
def counts(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, int]]:
    roots = [generate(tmp_path_factory.mktemp(f"estate{n}"), n).root for n in SIZES]
    _stages(roots[0])  # warm caches (compiled templates, pydantic validators) first
    return [_stages(root) for root in roots]


def growth(small: int, middle: int, large: int) -> float:
    """(large - middle) / (middle - small): 2 when linear, 4 when quadratic."""
    return (large - middle) / max(1, middle - small)


def test_every_stage_grows_linearly(counts: list[dict[str, int]]) -> None:
    small, middle, large = counts
    over = {stage: round(growth(small[stage], middle[stage], large[stage]), 2)
            for stage in small
            if large[stage] - small[stage] > 100  # stages that do not grow at all pass
            and growth(small[stage], middle[stage], large[stage]) > LIMIT}
    assert not over, f"superlinear stages (growth per doubling, 2 is linear): {over}"


def test_the_counter_sees_a_quadratic_loop() -> None:
    """The measure itself: a quadratic stage fails it, a linear one passes."""
    def quadratic(n: int) -> Callable[[], int]:
        return lambda: sum(1 for a in range(n) for b in range(n) if abs(a - b) < 1)

    def linear(n: int) -> Callable[[], int]:
        return lambda: sum(abs(a) for a in range(n))

    for make, expected in ((quadratic, 4.0), (linear, 2.0)):
        ops = [operations(make(n))[0] for n in (100, 200, 400)]
        assert growth(*ops) == pytest.approx(expected, rel=0.05)
