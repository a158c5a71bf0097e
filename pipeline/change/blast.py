"""Blast radius of a merge request: which intent lines changed since a revision, and
which devices each change reaches.

The configs at the base revision are rendered again from ``git archive`` and compared
per device with the working tree's; a changed hunk reaches the devices whose config
changed and that depend on its file (``Device.sources``; a template reaches the devices
of its platform).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.build import Build, build
from pipeline.change.revision import NETWORK_DIRS, RevisionError, tree_at

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class BlastError(Exception):
    pass


@dataclass(frozen=True)
class Change:
    file: str
    lines: tuple[int, int]
    kind: str  # added | removed | modified
    summary: str
    devices: tuple[str, ...]


@dataclass(frozen=True)
class BlastRadius:
    base: str
    changes: tuple[Change, ...]
    devices_changed: tuple[str, ...]
    devices_added: tuple[str, ...]
    devices_removed: tuple[str, ...]
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def markdown(self) -> str:
        lines = [f"### Blast radius since `{self.base[:12]}`", ""]
        if self.note:
            lines += [f"> {self.note}", ""]
        lines += ["| intent | change | devices |", "| --- | --- | --- |"]
        for c in self.changes:
            where = f"{c.file}:{c.lines[0]}" + (f"-{c.lines[1]}" if c.lines[1] != c.lines[0]
                                                else "")
            devices = ", ".join(f"`{d}`" for d in c.devices) or "none"
            summary = c.summary.replace("|", "\\|")
            lines.append(f"| `{where}` | {c.kind}: `{summary}` | {devices} |")
        if self.devices_added or self.devices_removed:
            lines += ["", f"New devices: {', '.join(self.devices_added) or 'none'}; "
                          f"removed: {', '.join(self.devices_removed) or 'none'}"]
        return "\n".join(lines) + "\n"


def _git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise BlastError(proc.stderr.strip() or f"git {' '.join(args)} failed")
    return proc.stdout


@dataclass
class _Hunk:
    file: str
    first: int
    last: int
    kind: str
    summary: str = ""


def _hunks(root: Path, base: str) -> list[_Hunk]:
    """One entry per changed hunk, with line numbers in the new file."""
    present = [d for d in NETWORK_DIRS if (root / d).exists()]
    out = _git(root, "diff", "--unified=0", "--no-color", "--no-ext-diff", base, "--", *present)
    hunks: list[_Hunk] = []
    old_file = new_file = ""
    for line in out.splitlines():
        if line.startswith("--- "):
            old_file = line[6:] if line.startswith("--- a/") else ""
        elif line.startswith("+++ "):
            new_file = line[6:] if line.startswith("+++ b/") else ""
        elif match := _HUNK.match(line):
            old_count = int(match[2]) if match[2] is not None else 1
            start, count = int(match[3]), int(match[4]) if match[4] is not None else 1
            kind = "added" if old_count == 0 else "removed" if count == 0 else "modified"
            first, last = (start, start + count - 1) if count else (max(start, 1),) * 2
            hunks.append(_Hunk(new_file or old_file, first, last, kind))
        elif hunks and line[:1] in "+-" and not hunks[-1].summary:
            hunks[-1].summary = line[1:].strip()[:80]
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "--", *present)
    for rel in untracked.splitlines():
        text = (root / rel).read_text(errors="replace").splitlines()
        hunks.append(_Hunk(rel, 1, max(1, len(text)), "added",
                           (text[0].strip() if text else "")[:80]))
    return hunks


def _configs(result: Build) -> dict[str, dict[str, str]]:
    return {h: r.files for h, r in result.rendered.items()}


def blast_radius(root: Path, base: str, current: Build | None = None) -> BlastRadius:
    if not (root / ".git").exists() and _git(root, "rev-parse", "--git-dir") == "":
        raise BlastError(f"{root} is not a git repository")
    sha = _git(root, "rev-parse", "--verify", f"{base}^{{commit}}").strip()
    now = current or build(root, run_lint=False)
    try:
        tree = tree_at(root, sha)
    except RevisionError as exc:
        raise BlastError(str(exc)) from None
    with tree:
        then = build(Path(tree.name), run_lint=False)
    note = ""
    old, new = _configs(then), _configs(now)
    if not then.ok:
        note = f"the intent at {sha[:12]} does not validate: every device counts as changed"
        changed = set(new)
    else:
        changed = {h for h in new if old.get(h) != new[h]}
    devices = now.devices
    changes = []
    for hunk in _hunks(root, sha):
        if hunk.file.startswith("templates/"):
            platform = hunk.file.split("/")[1] if hunk.file.count("/") >= 2 else ""
            reach = [h for h in changed if h in devices and devices[h].platform == platform]
        else:
            reach = [h for h in changed if h not in devices or hunk.file in devices[h].sources]
        changes.append(Change(hunk.file, (hunk.first, hunk.last), hunk.kind, hunk.summary,
                              tuple(sorted(reach))))
    return BlastRadius(
        base=sha, changes=tuple(changes), devices_changed=tuple(sorted(changed)),
        devices_added=tuple(sorted(set(new) - set(old))),
        devices_removed=tuple(sorted(set(old) - set(new))), note=note,
    )
