"""Reading a network repository's files: regular files inside it, and nothing else.

Intent, inventory and templates arrive through merge requests, and CI reads them with
every production secret in its environment. So whatever netpipe reads must be a
regular file below the repository root, reached without following a symbolic link
(each component is opened relative to its parent with ``O_NOFOLLOW``), and its size is
checked on the open file before a byte is read. A symlink to ``/etc/shadow`` or
``/proc/self/environ``, a FIFO that never ends, or a device are refused, not read;
the refusal says what the path is, never what it holds.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: should a FIFO slip past the lstat check, opening it must not wait for a writer.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_CHUNK = 64 * 1024


class Refused(Exception):
    """``rel`` cannot be read; ``reason`` says why (never what the file holds)."""

    def __init__(self, rel: str, reason: str, *, missing: bool = False,
                 size: int | None = None) -> None:
        super().__init__(f"{rel} {reason}")
        self.rel = rel
        self.reason = reason
        self.missing = missing
        self.size = size
        """Set when the file is larger than the limit: its size in bytes."""


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


def plain_name(name: str) -> bool:
    """A file name netpipe lists and shows as it is: letters, digits, '.', '_', '-'.
    Anything else (control characters, bytes that are not UTF-8) would reach CI logs raw."""
    return _PLAIN_NAME.fullmatch(name) is not None


def shown(name: str) -> str:
    """``name`` safe to print: control characters, non-UTF-8 bytes and the rest escaped."""
    return name if plain_name(name) else repr(name)[1:-1].encode(
        "ascii", "backslashreplace").decode("ascii")[:64]


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def parts_of(rel: str) -> list[str]:
    """The components of a repository-relative path; refuses anything that could leave it."""
    parts = rel.split("/")
    if (not rel or rel.startswith("/") or "\\" in rel or "\0" in rel
            or any(p in ("", ".", "..") for p in parts)):
        raise Refused(rel, "is not a plain path inside the repository")
    return parts


def _lstat(name: str, dir_fd: int, rel: str) -> os.stat_result:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        raise Refused(rel, "is missing", missing=True) from None
    except OSError as exc:
        raise Refused(rel, f"cannot be read ({exc.strerror})") from None


@contextlib.contextmanager
def _open_dir(root: Path, parts: list[str]) -> Iterator[int]:
    """A descriptor of ``root/parts…``, each component a real folder (no symlink)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for i, part in enumerate(parts):
            rel = "/".join(parts[: i + 1])
            st = _lstat(part, fd, rel)
            if not stat.S_ISDIR(st.st_mode):
                raise Refused(rel, f"is {_kind(st.st_mode)}, not a folder")
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise Refused(rel, f"cannot be opened ({exc.strerror})") from None
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def kind(root: Path, rel: str) -> str | None:
    """What ``rel`` is inside ``root``: None (missing), "file", "folder", or why it is refused.

    Raises Refused if a folder on the way is not a real folder.
    """
    parts = parts_of(rel)
    with _open_dir(root, parts[:-1]) as fd:
        try:
            st = _lstat(parts[-1], fd, rel)
        except Refused as exc:
            if exc.missing:
                return None
            raise
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISDIR(st.st_mode):
        return "folder"
    return _kind(st.st_mode)


def listdir(root: Path, rel: str) -> list[str]:
    """Sorted entry names of the real folder ``rel`` (Refused if missing or not a folder)."""
    with _open_dir(root, parts_of(rel)) as fd:
        return sorted(os.listdir(fd))


def read_bytes(root: Path, rel: str, limit: int) -> bytes:
    """The bytes of the regular file ``root/rel``, at most ``limit`` of them."""
    parts = parts_of(rel)
    with _open_dir(root, parts[:-1]) as dfd:
        st = _lstat(parts[-1], dfd, rel)
        if not stat.S_ISREG(st.st_mode):
            raise Refused(rel, f"is {_kind(st.st_mode)}: netpipe reads only regular files "
                               "inside the repository")
        if st.st_size > limit:
            raise Refused(rel, f"is {st.st_size} bytes, over the {limit} byte limit",
                          size=st.st_size)
        try:
            fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=dfd)
        except OSError as exc:  # swapped for a symlink since the lstat: ELOOP
            raise Refused(rel, f"cannot be opened ({exc.strerror})") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
                raise Refused(rel, "changed while being read")
            chunks: list[bytes] = []
            total = 0
            while chunk := os.read(fd, _CHUNK):
                total += len(chunk)
                if total > limit:
                    raise Refused(rel, f"grew over the {limit} byte limit while being read",
                                  size=total)
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
