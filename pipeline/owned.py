"""Output folders netpipe owns: replaced as a whole, and only when netpipe made them.

An output option (``render --out``, ``diff --out``) may not name the repository, a folder
above it, a file, or a non-empty folder netpipe did not make (a marker file says it
did): writing replaces the folder, so a wrong option would otherwise delete whatever
was there. The new content is written beside the old and swapped in with one rename,
so a reader sees the previous output or the new one, never half of each.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

_RENAME_EXCHANGE = 2


class OutputRefused(Exception):
    """The output option names a place netpipe must not replace; nothing was written."""


def check(out: Path, root: Path, marker: str) -> None:
    """Raises OutputRefused unless ``out`` is missing, empty, or holds ``marker``."""
    root = root.resolve()
    if out.is_symlink():
        raise OutputRefused(f"{out} is a symbolic link: name the folder itself")
    where = out.resolve()
    if where == root or root.is_relative_to(where):
        raise OutputRefused(f"{out} is the repository or a folder above it: netpipe "
                            "replaces its output folder as a whole")
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputRefused(f"{out} exists and is not a folder")
    if (out / marker).is_file() or not any(out.iterdir()):
        return
    raise OutputRefused(f"{out} is a folder netpipe did not make (no {marker} in it) and is "
                        "not empty: netpipe replaces its output folder as a whole")


def replace(out: Path, files: Mapping[str, str], marker: str, why: str) -> None:
    """Write ``files`` (relative paths) and ``marker`` beside ``out``, then swap them in.

    Call ``check`` first: this replaces whatever ``out`` holds.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        for rel, text in sorted(files.items()):
            path = new / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        (new / marker).write_text(why, encoding="utf-8")
        _swap(new, out)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise


def _swap(new: Path, out: Path) -> None:
    """``new`` becomes ``out`` in one step when the kernel can exchange the two names."""
    if not out.exists():
        os.rename(new, out)
        return
    if _exchange(new, out):
        shutil.rmtree(new)  # now holds the previous output
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rename(out, old / "previous")
    os.rename(new, out)
    shutil.rmtree(old)


def _exchange(a: Path, b: Path) -> bool:
    """renameat2(RENAME_EXCHANGE): both names swap atomically (Linux 3.15+, glibc 2.28+)."""
    with contextlib.suppress(AttributeError, OSError):
        libc = ctypes.CDLL(None, use_errno=True)
        at_fdcwd = -100
        result = libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b),
                                _RENAME_EXCHANGE)
        return bool(result == 0)
    return False
