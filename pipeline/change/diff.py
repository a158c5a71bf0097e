"""Dry-run diff: what a change would do to each device, secrets masked by position
(``masking``): a rotated secret's old value is hidden as well as the new one.

Per device: ``load_replace_candidate`` + ``compare_config`` + ``discard_config``, in
parallel through Nornir. The same run serves ``netpipe diff`` (a merge request's
preview) and ``netpipe drift`` (running vs intended on a schedule).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nornir.core import Nornir

from pipeline import owned
from pipeline.change.tasks import Unreachable, load_and_compare, run_all
from pipeline.masking import learned, redact

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
             secrets: Mapping[str, str]) -> dict[str, HostDiff]:
    """Diff every host of ``nr`` against its candidate; unreachable hosts are reported."""
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
    nr.close_connections()
    return report


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
        fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", d.diff)), default=0))
        lines += ["", f"<details><summary><code>{d.host}</code>: +{d.added} -{d.removed}"
                  "</summary>", "", f"{fence}diff", d.diff.rstrip(), fence, "", "</details>"]
    for d in sorted(failed, key=lambda x: x.host):
        lines += ["", f"- `{d.host}`: {d.error}"]
    return "\n".join(lines) + "\n"


def check_out(out: Path, root: Path) -> None:
    """Raises owned.OutputRefused unless ``out`` is missing, empty or an earlier diff:
    called before any device is contacted."""
    owned.check(out, root, MARKER)


def write(report: Mapping[str, HostDiff], out: Path, extra: dict[str, Any] | None = None,
          markdown_extra: str = "", title: str = "netpipe diff") -> None:
    """``out/<host>.diff``, ``out/summary.json`` and ``out/summary.md`` (the MR note),
    replacing the folder whole (``check_out`` first)."""
    files = {f"{host}.diff": d.diff for host, d in report.items() if d.changed}
    files["summary.json"] = as_json(report, extra) + "\n"
    files["summary.md"] = as_markdown(report, title) + markdown_extra
    owned.replace(out, files, MARKER, "netpipe diff output: replaced as a whole by every "
                  "diff\n")
