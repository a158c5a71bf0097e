"""Git revisions of the network repository: what is deployed, and the intent as it was."""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

NETWORK_DIRS = ("intent", "inventory", "templates")


class RevisionError(Exception):
    pass


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)


def describe(root: Path) -> str:
    """Short commit of HEAD, ``+dirty`` for uncommitted intent; "unversioned" outside git."""
    head = _git(root, "rev-parse", "--short=12", "HEAD")
    if head.returncode != 0:
        return "unversioned"
    dirty = _git(root, "status", "--porcelain", "--", *NETWORK_DIRS).stdout.strip()
    return head.stdout.decode().strip() + ("+dirty" if dirty else "")


def extract(root: Path, rev: str, dest: Path) -> str:
    """Write the network directories as of ``rev`` into ``dest``; returns the commit sha.

    Paths are relative to ``root``, so a network kept in a subfolder of a larger
    repository works too; directories absent at ``rev`` are skipped.
    """
    if not rev or rev.startswith("-"):
        raise RevisionError(f"not a revision: {rev!r}")
    sha = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if sha.returncode != 0:
        raise RevisionError(f"unknown revision {rev!r} in {root}")
    commit = sha.stdout.decode().strip()
    present = [d for d in NETWORK_DIRS
               if _git(root, "cat-file", "-e", f"{commit}:./{d}").returncode == 0]
    if not present:
        return commit
    archive = _git(root, "archive", "--format=tar", commit, *present)
    if archive.returncode != 0:
        raise RevisionError(archive.stderr.decode().strip())
    try:
        with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
            tar.extractall(dest, filter="data")  # refuses links and paths leaving dest
    except (tarfile.TarError, OSError) as exc:
        raise RevisionError(f"cannot extract the network at {commit[:12]}: {exc}") from None
    return commit


def tree_at(root: Path, rev: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary directory holding the network repository's intent as of ``rev``."""
    tmp = tempfile.TemporaryDirectory(prefix="netpipe-rev-")
    try:
        extract(root, rev, Path(tmp.name))
    except RevisionError:
        tmp.cleanup()
        raise
    return tmp
