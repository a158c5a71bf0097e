"""The offline pipeline as one call: intent -> check -> design -> render -> lint.

A flat public API in the spirit of pyavd: ``build(root)`` gives everything the
change stage needs, or findings and nothing else. Later stages never run on
intent that has errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline.design import Device, design
from pipeline.findings import Finding, has_errors, sorted_findings
from pipeline.intent.parse import Intent, parse
from pipeline.intent.rules import check
from pipeline.render.lint import lint
from pipeline.render.render import Rendered, render


@dataclass
class Build:
    intent: Intent | None = None
    devices: dict[str, Device] = field(default_factory=dict)
    rendered: dict[str, Rendered] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)


def build(root: Path, *, run_lint: bool = True, out_prefix: str = "build/configs") -> Build:
    result = Build()
    intent, findings = parse(root)
    result.findings = findings
    if intent is None:
        result.findings = sorted_findings(findings)
        return result
    result.intent = intent
    findings += check(intent)
    if has_errors(findings):
        result.findings = sorted_findings(findings)
        return result
    result.devices = design(intent)
    rendered, render_findings = render(result.devices, root, intent.network.secrets)
    findings += render_findings
    if not has_errors(render_findings):
        result.rendered = rendered
        if run_lint:
            findings += lint(rendered, out_prefix)
    result.findings = sorted_findings(findings)
    if not result.ok:
        result.rendered = {}
    return result
