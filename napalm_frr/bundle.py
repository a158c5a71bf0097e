"""One candidate string for every config target of a Linux router.

The renderer emits a device's ``frr.conf``, ``nftables.conf`` and box files (``interfaces``,
``sysctl.conf``: see :mod:`napalm_frr.boxfiles`) as one text, each file introduced by a marker
line that is a comment in its own syntax::

    ! netpipe:file frr.conf
    ...FRR config...
    # netpipe:file nftables.conf
    ...nftables ruleset...
    # netpipe:file interfaces
    ...ifupdown2 interfaces...

Any file may be absent (that target is then left alone). Pure functions, no I/O except
:func:`read_bundle_dir`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from napalm_frr import boxfiles

FRR_CONF = "frr.conf"
NFT_CONF = "nftables.conf"
TARGETS: tuple[str, ...] = (FRR_CONF, NFT_CONF, *(f.name for f in boxfiles.FILES))
MARKERS: dict[str, str] = {
    FRR_CONF: "! netpipe:file frr.conf",
    **{name: f"# netpipe:file {name}" for name in TARGETS[1:]},
}
_MARKER_RE = re.compile(r"^[!#] netpipe:file (\S+)[ \t]*$")


class BundleError(ValueError):
    """The candidate text or directory does not follow the marker convention."""


def split_bundle(text: str) -> dict[str, str]:
    """Split a marker-delimited text into ``{target: content}`` (targets in file order).

    Text before the first marker may only be blank or comment lines. Unknown or repeated
    targets, and a text without any marker, are errors: guessing the target is unsafe.
    """
    lines = text.splitlines()
    if not any(_MARKER_RE.match(line) for line in lines):
        raise BundleError(
            "no 'netpipe:file' marker found; expected '! netpipe:file frr.conf' and/or "
            "'# netpipe:file nftables.conf' lines"
        )
    files: dict[str, list[str]] = {}
    current: list[str] | None = None
    for lineno, line in enumerate(lines, start=1):
        match = _MARKER_RE.match(line)
        if match:
            name = match.group(1)
            if name not in MARKERS:
                raise BundleError(f"line {lineno}: unknown target {name!r} (expected {TARGETS})")
            if name in files:
                raise BundleError(f"line {lineno}: target {name!r} appears twice")
            current = files[name] = []
        elif current is not None:
            current.append(line)
        elif line.strip() and not line.lstrip().startswith(("!", "#")):
            raise BundleError(
                f"line {lineno}: content before the first 'netpipe:file' marker: {line.strip()!r}"
            )
    return {name: _as_file(lines) for name, lines in files.items()}


def join_bundle(files: Mapping[str, str]) -> str:
    """Inverse of :func:`split_bundle`: targets in canonical order, each behind its marker."""
    unknown = set(files) - set(TARGETS)
    if unknown:
        raise BundleError(f"unknown targets {sorted(unknown)} (expected {TARGETS})")
    parts = []
    for name in TARGETS:
        if name in files:
            parts.append(MARKERS[name] + "\n" + _as_file(files[name].splitlines()))
    return "".join(parts)


def read_bundle_dir(path: str | Path) -> dict[str, str]:
    """Read the targets' files (``frr.conf``, ``nftables.conf``, ...) from a directory (at
    least one must exist)."""
    directory = Path(path)
    if not directory.is_dir():
        raise BundleError(f"{directory} is not a directory")
    files = {
        name: (directory / name).read_text(encoding="utf-8")
        for name in TARGETS
        if (directory / name).is_file()
    }
    if not files:
        raise BundleError(f"{directory} holds none of {', '.join(TARGETS)}")
    return files


def _as_file(lines: list[str]) -> str:
    """Lines as file content: trailing blank lines dropped, one final newline (or empty)."""
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return "\n".join(lines) + "\n" if lines else ""
