"""Where ``netpipe render`` writes, and how: only into a folder that is netpipe's own.

``--out`` may not be the repository, a folder above it, a file, or a non-empty folder
netpipe did not make (a marker file says it did): a render replaces its folder, so a
wrong ``--out`` would otherwise delete whatever was there. The new output is written
beside the old one and swapped in with one rename, so a reader sees the previous
render or the new one, never half of each; a render that fails leaves the previous one
in place and marks it stale.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import tempfile
from pathlib import Path

from pipeline.render.render import Rendered

MARKER = ".netpipe-render"
STALE = "STALE"
_RENAME_EXCHANGE = 2


class OutputRefused(Exception):
    """``--out`` names a place netpipe must not replace; nothing was written."""


def check(out: Path, root: Path) -> None:
    """Raises OutputRefused unless ``out`` is missing, empty, or an earlier render."""
    root = root.resolve()
    if out.is_symlink():
        raise OutputRefused(f"{out} is a symbolic link: name the folder itself")
    where = out.resolve()
    if where == root or root.is_relative_to(where):
        raise OutputRefused(f"{out} is the repository or a folder above it: a render "
                            "replaces its output folder")
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputRefused(f"{out} exists and is not a folder")
    if (out / MARKER).is_file() or not any(out.iterdir()):
        return
    raise OutputRefused(f"{out} is a folder netpipe did not make (no {MARKER} in it) and is "
                        "not empty: a render replaces its output folder")


def write(rendered: dict[str, Rendered], out: Path) -> dict[str, dict[str, Path]]:
    """Write ``out/<host>/<file>`` beside ``out``, then swap it in (``check`` first)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        paths: dict[str, dict[str, Path]] = {}
        for host, item in sorted(rendered.items()):
            (new / host).mkdir()
            paths[host] = {}
            for name, text in sorted(item.files.items()):
                (new / host / name).write_text(text, encoding="utf-8")
                paths[host][name] = out / host / name
        (new / MARKER).write_text("netpipe render output: replaced as a whole by every "
                                  "render; edit the intent, not these files\n")
        _swap(new, out)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    return paths


def mark_stale(out: Path, why: str) -> bool:
    """Mark an earlier render in ``out`` as stale; False when there is none to mark."""
    if out.is_symlink() or not (out / MARKER).is_file():
        return False
    (out / STALE).write_text(f"These configs are stale: {why}. They are from an earlier "
                             "render; do not deploy them.\n", encoding="utf-8")
    return True


def _swap(new: Path, out: Path) -> None:
    """``new`` becomes ``out`` in one step when the kernel can exchange the two names."""
    if not out.exists():
        os.rename(new, out)
        return
    if _exchange(new, out):
        shutil.rmtree(new)  # now holds the previous render
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
