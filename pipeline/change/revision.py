"""Git revisions of the network repository: what is deployed, and the intent as it was."""

from __future__ import annotations

import subprocess
import tempfile
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


def resolve(root: Path, rev: str) -> str:
    """The full commit id ``rev`` names now (``HEAD~1`` must not mean another commit
    when a rollback reads the record later)."""
    if not rev or rev.startswith("-"):
        raise RevisionError(f"not a revision: {rev!r}")
    sha = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if sha.returncode != 0:
        raise RevisionError(f"unknown revision {rev!r} in {root}")
    return sha.stdout.decode().strip()


def deployed_revision(root: Path) -> tuple[str, str]:
    """(commit id, label) of the intent a deploy pushes: the id is "" unless the network
    directories are exactly HEAD's (a dirty tree is no revision anyone can render again)."""
    label = describe(root)
    if label == "unversioned" or label.endswith("+dirty"):
        return "", label
    return resolve(root, "HEAD"), label


def extract(root: Path, rev: str, dest: Path) -> str:
    """Write the network directories as of ``rev`` into ``dest``; returns the commit sha.

    Paths are relative to ``root``, so a network kept in a subfolder of a larger
    repository works too; directories absent at ``rev`` are skipped. Only regular files
    are written, straight from git's object store: a symlink or submodule in the tree is
    refused (it could point anywhere), and no path can leave ``dest``. (Not ``git archive``
    plus ``tarfile``: its ``filter=`` needs Python 3.11.4, Debian 12 ships 3.11.2.)
    """
    commit = resolve(root, rev)
    present = [d for d in NETWORK_DIRS
               if _git(root, "cat-file", "-e", f"{commit}:./{d}").returncode == 0]
    if not present:
        return commit
    listing = _git(root, "ls-tree", "-r", "-z", commit,
                   *(f"./{d}" for d in present))
    if listing.returncode != 0:
        raise RevisionError(listing.stderr.decode(errors="replace").strip())
    entries = _tree_entries(listing.stdout, commit)
    blobs = _blobs(root, [blob for blob, _ in entries])
    base = dest.resolve()
    for (_, rel), data in zip(entries, blobs, strict=True):
        target = (base / rel).resolve()
        if base not in target.parents:
            raise RevisionError(f"{commit[:12]}: path {rel!r} leaves the network directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return commit


def _tree_entries(raw: bytes, commit: str) -> list[tuple[str, str]]:
    """(blob sha, path) of every regular file in ``ls-tree -r -z`` output."""
    entries = []
    for record in raw.split(b"\0"):
        if not record:
            continue
        meta, _, path_bytes = record.partition(b"\t")
        mode, kind, blob = meta.decode().split()
        path = path_bytes.decode("utf-8", "replace")
        if kind != "blob" or mode not in ("100644", "100755"):
            what = {"120000": "a symbolic link", "160000": "a submodule"}.get(mode, mode)
            raise RevisionError(f"{commit[:12]}: {path} is {what}; the network directories "
                                "may hold regular files only")
        entries.append((blob, path))
    return entries


def _blobs(root: Path, shas: list[str]) -> list[bytes]:
    """Many blobs in one ``cat-file --batch``."""
    if not shas:
        return []
    proc = subprocess.run(["git", "-C", str(root), "cat-file", "--batch"],
                          input="".join(f"{s}\n" for s in shas).encode(),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise RevisionError(proc.stderr.decode(errors="replace").strip())
    out, pos, blobs = proc.stdout, 0, []
    for _ in shas:
        end = out.index(b"\n", pos)
        header, pos = out[pos:end].split(), end + 1
        size = int(header[2])
        blobs.append(out[pos:pos + size])
        pos += size + 1
    return blobs


def tree_at(root: Path, rev: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary directory holding the network repository's intent as of ``rev``."""
    tmp = tempfile.TemporaryDirectory(prefix="netpipe-rev-")
    try:
        extract(root, rev, Path(tmp.name))
    except RevisionError:
        tmp.cleanup()
        raise
    return tmp
