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

    def regressions(self, baseline: Report, final: bool) -> list[Check]:
        """Failing checks that passed in ``baseline``; when ``final``, every failing check."""
        before = {(c.device, c.kind, c.subject) for c in baseline.checks if c.ok}
        return [c for c in self.checks if not c.ok
                and (final or (c.device, c.kind, c.subject) in before)]

    def problems(self, baseline: Report, final: bool) -> list[str]:
        """What stops a deploy: unreachable devices, regressions, probes not as intended."""
        problems = [f"{d}: unreachable ({e})" for d, e in self.errors.items()]
        problems += [f"{c.device} {c.kind} {c.subject}: {c.detail}"
                     for c in self.regressions(baseline, final)]
        problems += [f"probe {r.probe.src.zone}->{r.probe.dst.zone} {r.probe.service} "
                     f"{'open' if r.passed else 'refused'}, intended "
                     f"{'open' if r.probe.expect else 'shut'} ({r.probe.decided_by})"
                     for r in self.probes if not r.ok]
        return problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": self.errors,
            "checks": [c.__dict__ for c in self.checks],
            "probes": [{"src": r.probe.src.name, "src_zone": r.probe.src.zone,
                        "dst": r.probe.dst.name, "dst_zone": r.probe.dst.zone,
                        "service": r.probe.service, "intended": r.probe.expect,
                        "decided_by": r.probe.decided_by, "passed": r.passed, "ok": r.ok}
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
