"""Run the checks: poll the routers until they agree with the intent (or time runs
out), then, in the lab, send the probes."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pipeline.design import Firewall
from pipeline.lab.plan import LabPlan
from pipeline.verify.checks import Check, Expectation, Observer, check_device
from pipeline.verify.probes import Result, failures, matrix, plan_probes, run_probes

POLL = 1.0


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    probes: list[Result] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # device -> could not be checked

    @property
    def ok(self) -> bool:
        return (not self.errors and all(c.ok for c in self.checks)
                and all(r.ok for r in self.probes))

    def regressions(self, baseline: Report) -> list[Check]:
        """Failing checks that passed in ``baseline`` or were not there at all."""
        failing_before = {c.key for c in baseline.checks if not c.ok}
        return [c for c in self.checks if not c.ok and c.key not in failing_before]

    def probe_regressions(self, baseline: Report) -> list[Result]:
        """Probes not as intended now that were as intended in ``baseline`` (or not sent)."""
        wrong_before = {_probe_key(r) for r in baseline.probes if not r.ok}
        return [r for r in self.probes if not r.ok and _probe_key(r) not in wrong_before]

    def problems(self, baseline: Report, final: bool) -> list[str]:
        """What stops a deploy: what the change made worse than ``baseline``.

        Unreachable devices always; checks and probes only when they were fine before
        the deploy (or new), so a fault the network already had (an ISP session down)
        is not blamed on the change. ``final`` is kept for the protocol: probes run
        only in the last batch's check, when the whole change is in.
        """
        problems = [f"{d}: unreachable ({e})" for d, e in self.errors.items()]
        problems += [f"{c.device} {c.kind} {c.subject}: {c.detail}"
                     for c in self.regressions(baseline)]
        problems += [_probe_text(r) for r in self.probe_regressions(baseline)]
        return problems

    def preexisting(self, baseline: Report) -> list[str]:
        """Faults now that were there before the deploy too (reported, never blamed)."""
        regressed = {c.key for c in self.regressions(baseline)}
        wrong = {_probe_key(r) for r in self.probe_regressions(baseline)}
        return ([f"{c.device} {c.kind} {c.subject}: {c.detail}" for c in self.checks
                 if not c.ok and c.key not in regressed]
                + [_probe_text(r) for r in self.probes if not r.ok and _probe_key(r) not in wrong])

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": self.errors,
            "checks": [c.__dict__ for c in self.checks],
            "probes": [{"src": r.probe.src.name, "src_zone": r.probe.src.zone,
                        "dst": r.probe.dst.name, "dst_zone": r.probe.dst.zone,
                        "service": r.probe.service, "intended": r.probe.expect,
                        "decided_by": r.probe.decided_by, "passed": r.passed,
                        "got": r.seen, "ok": r.ok}
                       for r in self.probes],
        }

    def text(self) -> str:
        lines = []
        by_device: dict[str, list[Check]] = {}
        for c in self.checks:
            by_device.setdefault(c.device, []).append(c)
        for device, checks in sorted(by_device.items()):
            bad = [c for c in checks if not c.ok]
            counts = {k: sum(1 for c in checks if c.kind == k) for k in ("ospf", "bgp", "route")}
            summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
            lines.append(f"{device:<16} {'ok ' if not bad else 'FAIL'} {summary}")
            lines += [f"    {c.kind} {c.subject}: {c.detail}" for c in bad]
        for device, error in sorted(self.errors.items()):
            lines.append(f"{device:<16} UNREACHABLE {error}")
        if self.probes:
            passed = sum(r.ok for r in self.probes)
            lines += ["", f"firewall probes: {passed}/{len(self.probes)} as intended", "",
                      matrix(self.probes)]
            lines += [f"FAIL {f}" for f in failures(self.probes)]
        lines.append("")
        lines.append("verify: passed" if self.ok else "verify: FAILED")
        return "\n".join(lines)


def _probe_key(r: Result) -> tuple[str, str, str]:
    return (r.probe.src.name, r.probe.dst.name, r.probe.service)


def _probe_text(r: Result) -> str:
    return (f"probe {r.probe.src.zone}->{r.probe.dst.zone} {r.probe.service} "
            f"got {r.seen}, intended {'open' if r.probe.expect else 'shut'} "
            f"({r.probe.decided_by})")


def _check_all(expect: Mapping[str, Expectation], connect: Callable[[str], Observer],
               report: Report) -> list[Check]:
    def one(device: str) -> list[Check]:
        try:
            return check_device(expect[device], connect(device))
        except Exception as exc:  # a device we cannot read is a finding, not a crash
            report.errors[device] = f"{type(exc).__name__}: {exc}"
            return []

    with ThreadPoolExecutor(8) as pool:
        return [c for checks in pool.map(one, sorted(expect)) for c in checks]


def verify(expect: Mapping[str, Expectation], connect: Callable[[str], Observer], *,
           wait: float = 0.0, lab: LabPlan | None = None, firewall: Firewall | None = None,
           settled: Callable[[Report], bool] | None = None) -> Report:
    """Routing checks, re-polled for up to ``wait`` seconds until ``settled`` (default:
    all pass), then the probes when in the lab."""
    deadline = time.monotonic() + wait
    done = settled or (lambda r: r.ok)
    while True:
        report = Report()
        report.checks = _check_all(expect, connect, report)
        if done(report) or time.monotonic() >= deadline:
            break
        time.sleep(POLL)
    if lab is not None and firewall is not None:
        report.probes = run_probes(plan_probes(firewall, lab))
    return report
