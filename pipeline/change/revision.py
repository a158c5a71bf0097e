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


def tree_at(root: Path, rev: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary directory holding the network repository's intent as of ``rev``."""
    sha = _git(root, "rev-parse", "--verify", f"{rev}^{{commit}}")
    if sha.returncode != 0:
        raise RevisionError(f"unknown revision {rev!r}: {sha.stderr.decode().strip()}")
    present = [d for d in NETWORK_DIRS
               if _git(root, "cat-file", "-e", f"{rev}:{d}").returncode == 0]
    archive = _git(root, "archive", "--format=tar", rev, *present)
    if archive.returncode != 0:
        raise RevisionError(archive.stderr.decode().strip())
    tmp = tempfile.TemporaryDirectory(prefix="netpipe-rev-")
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(tmp.name, filter="data")
    return tmp
