"""Blast radius of a merge request: which intent lines changed since a revision, and
which devices each change reaches.

A reviewer of a one-line YAML edit needs to see that it rewrites the firewall of every
router. So the network as of the base revision is rendered again (from ``git archive``)
and compared per device with the working tree's; a changed hunk reaches the devices
whose config changed and that depend on its file (``Device.sources``). A template under
``templates/<platform>/`` reaches the devices of that platform that today's facts,
rendered with the base's templates, would configure differently. A device that changed
although no hunk's file is among its sources is never hidden: it is shown against every
intent hunk and listed in ``untraced``, since under-reporting is the dangerous mistake.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.build import Build, build
from pipeline.change.revision import NETWORK_DIRS, RevisionError, extract, resolve
from pipeline.findings import has_errors
from pipeline.intent.parse import INVENTORY, load_inventory
from pipeline.render.render import render

SUMMARY_MAX = 80
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Explicit options, so that a user's diff.noprefix, diff.external, color or textconv
# settings cannot change what we parse.
_DIFF = ("diff", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", "--text",
         "--relative")


class BlastError(Exception):
    """The blast radius cannot be computed: no git repository, unknown revision, git failed."""


@dataclass(frozen=True)
class Change:
    """One changed hunk of an intent, inventory or template file."""

    file: str  # relative to the network repository's root
    lines: tuple[int, int]
    """First and last changed line in the new file; for a pure deletion the line after it
    (or the file's last line); (0, 0) when the new file has no lines (deleted or emptied)."""
    kind: str  # added | removed | modified
    summary: str  # the first non-blank changed line (new text unless removed), <= 80 chars
    devices: tuple[str, ...]  # changed devices this hunk can affect


@dataclass(frozen=True)
class BlastRadius:
    base: str  # the resolved commit sha
    changes: tuple[Change, ...]
    devices_changed: tuple[str, ...]
    """Devices whose rendered config differs from the base's (added and removed ones too)."""
    devices_added: tuple[str, ...]
    devices_removed: tuple[str, ...]
    note: str = ""
    """Why the answer is coarser than usual (a build failed), else empty."""
    untraced: tuple[str, ...] = ()
    """Changed devices whose ``sources`` list no changed file: shown against every hunk."""

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (lists, not tuples) for ``netpipe diff --format json``."""
        return {
            "base": self.base,
            "changes": [{"file": c.file, "lines": list(c.lines), "kind": c.kind,
                         "summary": c.summary, "devices": list(c.devices)}
                        for c in self.changes],
            "devices_changed": list(self.devices_changed),
            "devices_added": list(self.devices_added),
            "devices_removed": list(self.devices_removed),
            "note": self.note,
            "untraced": list(self.untraced),
        }

    def markdown(self) -> str:
        """A section for the merge-request note: one table row per hunk."""
        out = [f"#### Blast radius since `{self.base[:12]}`", ""]
        if self.note:
            out += [f"> {_cell(self.note)}", ""]
        if not self.changes:
            out.append("No change to intent, inventory or templates.")
        else:
            out += ["| file:lines | change | devices |", "| --- | --- | --- |"]
            for c in self.changes:
                devices = ", ".join(_code(d) for d in c.devices) or "none"
                what = f"{c.kind}: {_code(c.summary)}" if c.summary else c.kind
                out.append(f"| {_code(where(c))} | {what} | {devices} |")
        out += ["", f"Devices changed: {_names(self.devices_changed)}; "
                    f"added: {_names(self.devices_added)}; "
                    f"removed: {_names(self.devices_removed)}."]
        if self.untraced:
            out.append(f"Changed through a dependency their `sources` do not record, so shown "
                       f"against every intent hunk: {_names(self.untraced)}.")
        return "\n".join(out) + "\n"


    def text(self) -> str:
        """The same for a terminal or a job log: plain lines, no Markdown."""
        out = [f"blast radius since {self.base[:12]}:"]
        if self.note:
            out.append(f"  note: {_CONTROL.sub(' ', self.note)}")
        if not self.changes:
            out.append("  no change to intent, inventory or templates")
        for c in self.changes:
            what = f"{c.kind}: {c.summary}" if c.summary else c.kind
            out.append(f"  {where(c)}  {what}")
            out.append(f"      -> {', '.join(c.devices) or 'no device'}")
        out.append(f"devices changed: {', '.join(self.devices_changed) or 'none'}; "
                   f"added: {', '.join(self.devices_added) or 'none'}; "
                   f"removed: {', '.join(self.devices_removed) or 'none'}")
        if self.untraced:
            out.append("changed through a dependency their sources do not record, so shown "
                       f"against every intent hunk: {', '.join(self.untraced)}")
        return "\n".join(out) + "\n"


def where(change: Change) -> str:
    """``file:first-last`` as a reviewer would type it (``file:7``, ``file (deleted)``)."""
    first, last = change.lines
    if first == 0:
        return f"{change.file} (deleted)" if change.kind == "removed" else change.file
    return f"{change.file}:{first}" + (f"-{last}" if last != first else "")


def _names(names: Iterable[str]) -> str:
    return ", ".join(_code(n) for n in names) or "none"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return _CONTROL.sub(" ", text).replace("|", "\\|")


def _code(text: str) -> str:
    """An inline code span that survives backticks in the text."""
    ticks = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (ticks + 1)
    pad = " " if ticks else ""
    return f"{fence}{pad}{_cell(text)}{pad}{fence}"


# --------------------------------------------------------------------------- git


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", "--literal-pathspecs", "-c", "core.quotePath=false",
                               "-C", str(root), *args], capture_output=True, check=False)
    except OSError as exc:
        raise BlastError(f"cannot run git: {exc}") from None


def _git(root: Path, *args: str) -> bytes:
    proc = _run(root, *args)
    if proc.returncode != 0:
        why = proc.stderr.decode(errors="replace").strip()
        raise BlastError(f"git {args[0]} failed: {why}")
    return proc.stdout


def _resolve(root: Path, base: str) -> str:
    """The commit sha of ``base``; a clear error for no repository or an unknown name."""
    inside = _run(root, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != b"true":
        raise BlastError(f"{root} is not inside a git work tree")
    try:
        return resolve(root, base)
    except RevisionError as exc:
        raise BlastError(str(exc)) from None


def _changed_files(root: Path, sha: str) -> list[tuple[str, str]]:
    """(status letter, path) of every file changed since ``sha``, untracked ones as "?"."""
    raw = _git(root, *_DIFF, "--name-status", "-z", sha, "--", *NETWORK_DIRS)
    fields = raw.decode(errors="replace").split("\0")
    files = [(fields[i][:1], fields[i + 1]) for i in range(0, len(fields) - 1, 2)]
    untracked = _git(root, "ls-files", "-z", "--others", "--exclude-standard", "--",
                     *NETWORK_DIRS)
    files += [("?", p) for p in untracked.decode(errors="replace").split("\0") if p]
    return sorted(files, key=lambda f: f[1])


@dataclass
class _Hunk:
    file: str
    first: int
    last: int
    kind: str
    summary: str


def _line_count(path: Path) -> int:
    try:
        return len(path.read_bytes().splitlines())
    except OSError:
        return 0


def _clean(lines: list[str]) -> str:
    return next((t for t in (_CONTROL.sub(" ", x).strip() for x in lines) if t), "")


def _summary(text: str, was: str = "") -> str:
    """``text`` cut to SUMMARY_MAX characters around where it first differs from ``was``,
    so that a long YAML flow mapping still shows the value that changed."""
    if len(text) <= SUMMARY_MAX:
        return text
    at = next((i for i, (a, b) in enumerate(zip(text, was, strict=False)) if a != b),
              min(len(text), len(was)))
    start = max(0, min(at - 20, len(text) - (SUMMARY_MAX - 1)))
    if start == 0:
        return text[:SUMMARY_MAX - 1] + "…"
    rest = text[start:]
    return "…" + (rest if len(rest) < SUMMARY_MAX else rest[:SUMMARY_MAX - 2] + "…")


def _file_hunks(root: Path, sha: str, status: str, rel: str) -> list[_Hunk]:
    """The hunks of one file, with line numbers in the working tree's version."""
    length = _line_count(root / rel)
    if status == "?":  # untracked: git diff does not see it, so all of it is new
        try:
            text = (root / rel).read_bytes().decode(errors="replace").splitlines()
        except OSError:
            text = []
        first = 1 if length else 0
        return [_Hunk(rel, first, length, "added", _summary(_clean(text)))]
    out = _git(root, *_DIFF, "--unified=0", sha, "--", rel).decode(errors="replace")
    hunks: list[_Hunk] = []
    added: list[str] = []
    removed: list[str] = []

    def close() -> None:
        if hunks:
            hunk = hunks[-1]
            new, old = _clean(added), _clean(removed)
            hunk.summary = _summary(new, old) if new else _summary(old)
        added.clear()
        removed.clear()

    for line in out.splitlines():
        match = _HUNK.match(line)
        if match:
            close()
            old_count = 1 if match[2] is None else int(match[2])
            start, count = int(match[3]), 1 if match[4] is None else int(match[4])
            if count:
                kind, first, last = ("added" if old_count == 0 else "modified",
                                     start, start + count - 1)
            else:  # git numbers a pure deletion by the line before it
                kind, first = "removed", min(start + 1, length)
                last = first
            hunks.append(_Hunk(rel, first, last, kind, ""))
        elif hunks and line.startswith("+"):
            added.append(line[1:])
        elif hunks and line.startswith("-"):
            removed.append(line[1:])
    close()
    return hunks


def _tree_at(root: Path, sha: str, dest: Path) -> None:
    """Extract the network directories as of ``sha`` into ``dest`` (absent ones skipped)."""
    try:
        extract(root, sha, dest)
    except RevisionError as exc:
        raise BlastError(str(exc)) from None


# --------------------------------------------------------------------------- devices


def _hosts(result: Build, root: Path) -> dict[str, str] | None:
    """Host -> platform, from the build or at least the inventory; None if unreadable."""
    if result.devices:
        return {h: d.platform for h, d in result.devices.items()}
    if result.intent is not None:
        return {h: host.platform for h, host in result.intent.hosts.items()}
    if not (root / INVENTORY[0]).exists():
        return {}  # a revision before the network had devices
    hosts, findings = load_inventory(root)
    return None if has_errors(findings) else {h: host.platform for h, host in hosts.items()}


def _reaches(file: str, platforms: set[str], sources: frozenset[str] | None,
             parsed: set[str] | None) -> bool:
    if file.startswith("templates/"):
        parts = file.split("/")
        return len(parts) >= 3 and parts[1] in platforms
    if sources is not None:
        return file in sources
    return parsed is None or file in parsed  # design did not run: any file it reads


def _template_effect(now: Build, base_root: Path) -> set[str]:
    """Devices that the template edits alone change: today's devices rendered with the
    base's templates, compared with today's configs (a failed render counts as changed)."""
    declared = now.intent.network.secrets if now.intent else None
    old, _ = render(now.devices, base_root, declared)
    return {h for h, r in now.rendered.items() if h not in old or old[h].files != r.files}


def blast_radius(root: Path, base: str, current: Build | None = None) -> BlastRadius:
    """Hunks since ``base`` (working tree included) and the devices each one reaches."""
    sha = _resolve(root, base)
    hunks = [h for status, rel in _changed_files(root, sha)
             for h in _file_hunks(root, sha, status, rel)]
    now = current if current is not None else build(root, run_lint=False)
    by_templates: set[str] | None = None
    with tempfile.TemporaryDirectory(prefix="netpipe-base-") as tmp:
        _tree_at(root, sha, Path(tmp))
        then = build(Path(tmp), run_lint=False)
        hosts_then = _hosts(then, Path(tmp))
        if now.ok and then.ok and any(h.file.startswith("templates/") for h in hunks):
            by_templates = _template_effect(now, Path(tmp))
    hosts_now = _hosts(now, root)
    known = {**(hosts_then or {}), **(hosts_now or {})}

    notes = []
    for label, result in ((f"at {sha[:12]}", then), ("in the working tree", now)):
        if not result.ok:
            notes.append(f"the intent {label} does not build")
    if notes:
        changed = set(known)
        note = "; ".join(notes) + ": every device counts as changed"
    else:
        old = {h: r.files for h, r in then.rendered.items()}
        new = {h: r.files for h, r in now.rendered.items()}
        changed = {h for h in old.keys() | new.keys() if old.get(h) != new.get(h)}
        note = ""
    if hosts_now is None or hosts_then is None:
        added: set[str] = set()
        removed: set[str] = set()
        note += ("; " if note else "") + "the inventory does not load: added and removed " \
                                         "devices are unknown"
    else:
        added, removed = hosts_now.keys() - hosts_then, hosts_then.keys() - hosts_now

    parsed: set[str] | None = None
    if now.intent is not None or then.intent is not None:
        parsed = {f for r in (now, then) if r.intent is not None for f in r.intent.files}

    def sources(host: str) -> frozenset[str] | None:
        found = [r.devices[host].sources for r in (now, then) if host in r.devices]
        return frozenset().union(*found) if found else None

    def platforms(host: str) -> set[str]:
        return {hs[host] for hs in (hosts_now, hosts_then) if hs and host in hs}

    def reaches(hunk: _Hunk, host: str) -> bool:
        if hunk.file.startswith("templates/") and by_templates is not None \
                and host not in by_templates:
            return False
        return _reaches(hunk.file, platforms(host), sources(host), parsed)

    reach = [{d for d in changed if reaches(h, d)} for h in hunks]
    untraced: set[str] = set()
    if not notes:  # the per-device diff is exact, so a device no hunk reaches is a gap
        untraced = changed.difference(*reach)
        for hunk, devices in zip(hunks, reach, strict=True):
            if not hunk.file.startswith("templates/") and (parsed is None or hunk.file in parsed):
                devices |= untraced
    changes = tuple(Change(h.file, (h.first, h.last), h.kind, h.summary, tuple(sorted(ds)))
                    for h, ds in zip(hunks, reach, strict=True))
    return BlastRadius(
        base=sha, changes=changes, devices_changed=tuple(sorted(changed)),
        devices_added=tuple(sorted(added)), devices_removed=tuple(sorted(removed)),
        note=note, untraced=tuple(sorted(untraced)),
    )
