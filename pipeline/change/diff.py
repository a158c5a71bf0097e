"""Dry-run diff: what a change would do to each device, secrets masked by position
(``masking``): a rotated secret's old value is hidden as well as the new one.

Per device: ``load_replace_candidate`` + ``compare_config`` + ``discard_config``, in
parallel through Nornir. The same run serves ``netpipe diff`` (a merge request's
preview) and ``netpipe drift`` (running vs intended on a schedule). For a platform
hier_config knows (IOS), the diff also reads the running config and shows, beside the
unified diff, the command list the replace amounts to (``remediation``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from nornir.core import Nornir

from pipeline import owned
from pipeline.change.remediation import has_remediation, remediation
from pipeline.change.tasks import Unreachable, get_running, load_and_compare, run_all
from pipeline.masking import learned, redact

REMEDIATION = "commands the replace amounts to (hier_config remediation)"
MARKER = ".netpipe-diff"
"""Marks a folder as netpipe diff output (replaced whole by the next diff)."""


@dataclass(frozen=True)
class HostDiff:
    host: str
    platform: str
    reachable: bool
    changed: bool
    diff: str = ""
    added: int = 0
    removed: int = 0
    error: str = ""
    remediation: str = ""
    """IOS: the commands the replace amounts to (hier_config), secrets masked; else ""."""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["host"]
        return data


def count_lines(diff: str) -> tuple[int, int]:
    lines = diff.splitlines()
    added = sum(1 for x in lines if x.startswith("+") and not x.startswith("+++"))
    removed = sum(1 for x in lines if x.startswith("-") and not x.startswith("---"))
    return added, removed


def error_text(exc: BaseException | None, secrets: Mapping[str, str]) -> str:
    if exc is None:
        return "failed"
    return redact(f"{type(exc).__name__}: {exc}" if not isinstance(exc, Unreachable)
                  else str(exc), secrets)


def run_diff(nr: Nornir, configs: Mapping[str, str], platforms: Mapping[str, str],
             secrets: Mapping[str, str], commands: bool = False) -> dict[str, HostDiff]:
    """Diff every host of ``nr`` against its candidate; unreachable hosts are reported.
    ``commands``: also the remediation list of each changed host whose platform has one
    (one more read of its running config)."""
    results = run_all(nr, task=load_and_compare, configs=dict(configs))
    shapes = learned(configs.values(), secrets)  # lines where a template put a secret
    report: dict[str, HostDiff] = {}
    for host, multi in sorted(results.items()):
        first = multi[0]
        if first.failed:
            unreachable = isinstance(first.exception, Unreachable)
            report[host] = HostDiff(host, platforms[host], reachable=not unreachable,
                                    changed=False, error=error_text(first.exception, secrets))
            continue
        diff = redact(str(first.result or ""), secrets, shapes)
        added, removed = count_lines(diff)
        report[host] = HostDiff(host, platforms[host], True, bool(diff), diff, added, removed)
    if commands:
        _add_remediation(nr, report, configs, secrets, shapes)
    nr.close_connections()
    return report


def _add_remediation(nr: Nornir, report: dict[str, HostDiff], configs: Mapping[str, str],
                     secrets: Mapping[str, str], shapes: list[re.Pattern[str]]) -> None:
    wanted = {h for h, d in report.items() if d.changed and has_remediation(d.platform)}
    if not wanted:
        return
    running = run_all(nr.filter(filter_func=lambda h: h.name in wanted), task=get_running)
    for host, multi in running.items():
        d = report[host]
        if multi[0].failed:
            text = f"! not computed: {error_text(multi[0].exception, secrets)}\n"
        else:
            text = redact(remediation(d.platform, str(multi[0].result), configs[host]),
                          secrets, shapes)
        report[host] = replace(d, remediation=text)


def as_json(report: Mapping[str, HostDiff], extra: dict[str, Any] | None = None) -> str:
    data: dict[str, Any] = {"hosts": {h: d.as_dict() for h, d in sorted(report.items())}}
    data.update(extra or {})
    return json.dumps(data, indent=2)


def as_text(report: Mapping[str, HostDiff]) -> str:
    out = []
    for host, d in sorted(report.items()):
        if not d.reachable or d.error:
            out.append(f"=== {host}: {'UNREACHABLE' if not d.reachable else 'ERROR'} {d.error}")
        elif d.changed:
            out.append(f"=== {host}: +{d.added} -{d.removed}\n{d.diff.rstrip()}")
            if d.remediation:
                out.append(f"--- {host}: {REMEDIATION}\n{d.remediation.rstrip()}")
        else:
            out.append(f"=== {host}: no change")
    return "\n".join(out)


def as_markdown(report: Mapping[str, HostDiff], title: str = "netpipe diff") -> str:
    """The merge-request note: a summary table, then one collapsed diff per changed device."""
    changed = [d for d in report.values() if d.changed]
    unchanged = [d for d in report.values() if d.reachable and not d.changed and not d.error]
    failed = [d for d in report.values() if not d.reachable or d.error]
    counts = f"**{len(changed)}** changed, **{len(unchanged)}** unchanged"
    if failed:
        counts += f", **{len(failed)}** unreachable or failed"
    lines = [f"### {title}", "", counts, "",
             "| device | platform | result | + | - |", "| --- | --- | --- | ---: | ---: |"]
    for d in sorted(report.values(), key=lambda x: x.host):
        state = ("unreachable" if not d.reachable else "error" if d.error
                 else "changed" if d.changed else "unchanged")
        lines.append(f"| `{d.host}` | {d.platform} | {state} | {d.added} | {d.removed} |")
    for d in sorted(changed, key=lambda x: x.host):
        lines += ["", f"<details><summary><code>{d.host}</code>: +{d.added} -{d.removed}"
                  "</summary>", "", *_fenced(d.diff, "diff")]
        if d.remediation:
            lines += [f"{REMEDIATION}:", "", *_fenced(d.remediation, "")]
        lines.append("</details>")
    for d in sorted(failed, key=lambda x: x.host):
        lines += ["", f"- `{d.host}`: {d.error}"]
    return "\n".join(lines) + "\n"


def _fenced(text: str, lang: str) -> list[str]:
    """A code block whose fence is longer than any run of backticks in ``text``."""
    fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", text)), default=0))
    return [f"{fence}{lang}", text.rstrip(), fence, ""]


def check_out(out: Path, root: Path) -> None:
    """Raises owned.OutputRefused unless ``out`` is missing, empty or an earlier diff:
    called before any device is contacted."""
    owned.check(out, root, MARKER)


def write(report: Mapping[str, HostDiff], out: Path, extra: dict[str, Any] | None = None,
          markdown_extra: str = "", title: str = "netpipe diff") -> None:
    """``out/<host>.diff`` (and ``<host>.commands``, the remediation list, for IOS),
    ``out/summary.json`` and ``out/summary.md`` (the MR note),
    replacing the folder whole (``check_out`` first)."""
    files = {f"{host}.diff": d.diff for host, d in report.items() if d.changed}
    files |= {f"{host}.commands": d.remediation for host, d in report.items() if d.remediation}
    files["summary.json"] = as_json(report, extra) + "\n"
    files["summary.md"] = as_markdown(report, title) + markdown_extra
    owned.replace(out, files, MARKER, "netpipe diff output: replaced as a whole by every "
                  "diff\n")
