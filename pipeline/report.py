"""Findings as text (compiler style), JSON, JUnit XML or GitLab Code Quality."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree as ET

from pipeline.findings import Finding, Severity

FORMATS = ("text", "json", "junit", "codeclimate")


def as_text(findings: Sequence[Finding]) -> str:
    if not findings:
        return "no findings"
    errors = sum(f.is_error for f in findings)
    lines = [str(f) for f in findings]
    lines.append(f"{errors} error(s), {len(findings) - errors} warning(s)")
    return "\n".join(lines)


def as_json(findings: Sequence[Finding], extra: dict[str, Any] | None = None) -> str:
    data: dict[str, Any] = dict(extra or {})
    data["findings"] = [f.as_dict() for f in findings]
    return json.dumps(data, indent=2, sort_keys=False)


def as_junit(findings: Sequence[Finding], suite: str = "netpipe validate") -> str:
    """One test case per finding (failures for errors), or one passing case when clean."""
    root = ET.Element("testsuites")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(max(1, len(findings))),
                       failures=str(sum(f.is_error for f in findings)), errors="0")
    if not findings:
        ET.SubElement(ts, "testcase", classname="netpipe", name="validate")
    for f in findings:
        case = ET.SubElement(ts, "testcase", classname=f.file, name=f"{f.code} line {f.line}",
                             file=f.file, line=str(f.line))
        tag = "failure" if f.is_error else "skipped"
        node = ET.SubElement(case, tag, message=f"{f.code} {f.message}")
        node.text = str(f)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def as_codeclimate(findings: Sequence[Finding]) -> str:
    """GitLab Code Quality: shows each finding inline on the merge-request diff."""
    items = []
    for f in findings:
        digest = hashlib.sha256(f"{f.code}|{f.file}|{f.line}|{f.message}".encode()).hexdigest()
        items.append({
            "description": f"{f.code} {f.message}" + (f" (hint: {f.hint})" if f.hint else ""),
            "check_name": f.code,
            "fingerprint": digest,
            "severity": "major" if f.severity is Severity.ERROR else "minor",
            "location": {"path": f.file, "lines": {"begin": max(1, f.line)}},
        })
    return json.dumps(items, indent=2)


def render_findings(findings: Sequence[Finding], fmt: str,
                    extra: dict[str, Any] | None = None) -> str:
    if fmt == "json":
        return as_json(findings, extra)
    if fmt == "junit":
        return as_junit(findings)
    if fmt == "codeclimate":
        return as_codeclimate(findings)
    return as_text(findings)
