"""Offline preview of a change: the intended configs of the working tree against those of
a git revision, per device, with the blast radius.

What a merge request would change in every device's intended config needs no device and
no credential: both sides are rendered from intent (the base from git's object store),
and secrets stay ``<secret:NAME>`` placeholders on both sides. So the merge-request
preview runs in an MR pipeline, which GitLab never gives production credentials; the
live dry-run diff against the running devices stays the deploy job's first step.
"""

from __future__ import annotations

import difflib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.build import Build, build
from pipeline.change.blast import BlastError, BlastRadius, blast_radius
from pipeline.change.diff import HostDiff, count_lines
from pipeline.change.remediation import RUNNING_FILE, remediation
from pipeline.change.revision import RevisionError, describe, extract

NO_FILE = "/dev/null"


class PreviewError(Exception):
    """The base revision cannot be read (no git, unknown revision, refused tree)."""


@dataclass(frozen=True)
class Preview:
    base: str  # the resolved commit
    head: str  # what the working tree is (short commit, "+dirty" for uncommitted intent)
    hosts: dict[str, HostDiff]
    radius: BlastRadius
    note: str = ""  # why the base side is empty (it does not build), else ""


def file_diff(host: str, name: str, old: str | None, new: str | None,
              base: str, head: str) -> str:
    """Unified diff of one intended file; an absent side reads as /dev/null."""
    before = f"{base[:12]}/{host}/{name}" if old is not None else NO_FILE
    after = f"{head}/{host}/{name}" if new is not None else NO_FILE
    return "".join(difflib.unified_diff((old or "").splitlines(keepends=True),
                                        (new or "").splitlines(keepends=True),
                                        before, after))


def host_diff(host: str, platform: str, old: Mapping[str, str] | None,
              new: Mapping[str, str] | None, base: str, head: str) -> HostDiff:
    """One device: the diffs of all its files (added and removed devices included)."""
    old, new = old or {}, new or {}
    text = "".join(file_diff(host, name, old.get(name), new.get(name), base, head)
                   for name in sorted(old.keys() | new.keys()))
    added, removed = count_lines(text)
    running = RUNNING_FILE.get(platform, "")
    commands = (remediation(platform, old[running], new[running])
                if text and running in old and running in new else "")
    return HostDiff(host, platform, reachable=True, changed=bool(text), diff=text,
                    added=added, removed=removed, remediation=commands)


def preview(root: Path, base: str, current: Build) -> Preview:
    """Per-device diff of intended configs since ``base``, and the blast radius.

    ``current`` is the working tree's build; it must be ok (the caller reports findings).
    """
    try:
        with tempfile.TemporaryDirectory(prefix="netpipe-base-") as tmp:
            sha = extract(root, base, Path(tmp))
            then = build(Path(tmp), run_lint=False)
    except RevisionError as exc:
        raise PreviewError(str(exc)) from None
    head = describe(root)
    note = "" if then.ok else (f"the intent at {sha[:12]} does not build: every device is "
                               "shown against an empty config")
    old = {h: r.files for h, r in then.rendered.items()}
    platforms = {h: r.platform for h, r in {**then.rendered, **current.rendered}.items()}
    hosts = {h: host_diff(h, platforms[h], old.get(h), current.rendered[h].files
                          if h in current.rendered else None, sha, head)
             for h in sorted(platforms)}
    try:
        radius = blast_radius(root, sha, current)
    except BlastError as exc:
        raise PreviewError(str(exc)) from None
    return Preview(sha, head, hosts, radius, note)
