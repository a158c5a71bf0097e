"""When a deploy's health check stops polling: converged, not merely "no worse"."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.change.deploy import settled


@dataclass
class FakeReport:
    worse: list[str] = field(default_factory=list)  # what the change made worse
    before: list[str] = field(default_factory=list)  # faults the baseline had too

    @property
    def ok(self) -> bool:
        return not self.worse and not self.before

    def problems(self, baseline: object, final: bool) -> list[str]:
        return self.worse

    def preexisting(self, baseline: object) -> list[str]:
        return self.before


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_regression_keeps_polling() -> None:
    done = settled(FakeReport(), final=True, clock=Clock())
    assert not done(FakeReport(worse=["hq-core1 ospf: down"]))


def test_everything_passing_is_settled_at_once() -> None:
    assert settled(FakeReport(), final=True, clock=Clock())(FakeReport())


def test_faults_still_changing_are_convergence_not_the_networks() -> None:
    clock = Clock()
    done = settled(FakeReport(), final=True, steady=5.0, clock=clock)
    assert not done(FakeReport(before=["route a missing", "route b missing"]))
    clock.now += 3
    assert not done(FakeReport(before=["route b missing"]))  # routes are arriving
    clock.now += 3
    assert not done(FakeReport(before=["route b missing"]))  # unchanged for 3 s only
    clock.now += 2
    assert done(FakeReport(before=["route b missing"]))  # unchanged for 5 s: it stays
