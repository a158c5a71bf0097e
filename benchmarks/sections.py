"""docs/benchmarks.md is written by several benchmarks, each owning a marked section."""

from __future__ import annotations

from pathlib import Path


def replace(path: Path, begin: str, end: str, section: str) -> None:
    """Put ``section`` (which starts with ``begin`` and ends with ``end``) in place of the
    marked section of ``path``, or at its end; the rest of the file stays as it is."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)
