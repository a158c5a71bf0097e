"""Deployment state: the network lock, backups of running configs, deployment records.

``deploy`` takes the lock and backs up every config it will touch before it touches a device;
``rollback`` must later read those backups with no render and no remote. The state must
outlive CI artifacts, so there are two backends behind one interface:

* ``FilesystemStore`` (default, ``<root>/.netpipe/state``): the lock is a file created with
  ``O_EXCL`` so exactly one process wins; every other write is a temp file + ``os.replace``.
* ``GitStore``: the same layout as commits on a branch of the network repository, written
  with plumbing and a private index so the user's working tree, index and HEAD are never
  touched; the lock is the ref ``refs/netpipe/lock``. With ``push=True`` and an ``origin``
  remote, origin is the source of truth and every change is a compare-and-swap push.

Layout: ``lock.json``, ``deployments/<id>.json``, ``backups/<id>/<host>.conf``,
``events.jsonl``. Callers mask secrets before saving; nothing here logs config contents.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import random
import re
import secrets
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

DEFAULT_BRANCH = "netpipe-state"
LOCK_REF = "refs/netpipe/lock"
_ATTEMPTS = 60
_STAMP = "%Y%m%dT%H%M%SZ"
_ID = re.compile(r"(\d{8}T\d{6}Z)-([0-9a-f]{6})")
# Hosts and deployment ids become path components (and git tree paths): no separators,
# no leading dot, nothing git's "<rev>:<path>" or cat-file --batch would misread.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+-]*")


LEASE = 900  # seconds a lock stays fresh without renewal; a deploy renews it every batch


@dataclass(frozen=True)
class LockInfo:
    """Who holds the network lock; ``token`` tells this acquisition from a later one.

    The lock is a lease: its holder renews it (``renewed``) before every batch. Nothing
    breaks an expired lease by itself (a slow deploy must never find its lock taken);
    expiry only tells a human that the holder has probably died.
    """

    holder: str
    since: str
    reason: str
    token: str
    renewed: str = ""
    lease: int = 0

    def expired(self, now: datetime | None = None) -> bool:
        if not self.lease:
            return False
        try:
            last = datetime.strptime(self.renewed or self.since, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return False
        now = now or datetime.now(UTC)
        return now > last.replace(tzinfo=UTC) + timedelta(seconds=self.lease)


class LockHeld(Exception):
    """Someone else holds the lock; the message names them so a human can judge staleness."""

    def __init__(self, info: LockInfo) -> None:
        super().__init__(info)  # args stay (info,) so the exception pickles across processes
        self.info = info

    def __str__(self) -> str:
        i = self.info
        text = f"the network is locked by {i.holder} since {i.since} ({i.reason})"
        if i.expired():
            text += (f"; its lease expired (last renewed {i.renewed or i.since}): the holder has "
                     "probably died")
        return text


class StoreError(Exception):
    """The store itself failed (git error, unreachable origin, persistent contention)."""


class LockLost(StoreError):
    """Our lock is gone: someone broke it (``rollback --force``, ``lock --break``)."""


class Store(Protocol):
    """What deploy and rollback need from a state backend."""

    def acquire_lock(self, holder: str, reason: str) -> LockInfo: ...
    def renew_lock(self, info: LockInfo) -> LockInfo: ...
    def release_lock(self, info: LockInfo) -> None: ...
    def break_lock(self, by: str) -> LockInfo | None: ...
    def lock_info(self) -> LockInfo | None: ...
    def new_deployment_id(self) -> str: ...
    def save_backup(self, deployment_id: str, host: str, config: str) -> None: ...
    def load_backup(self, deployment_id: str, host: str) -> str: ...
    def backup_hosts(self, deployment_id: str) -> list[str]: ...
    def save_deployment(self, record: dict[str, Any]) -> None: ...
    def deployments(self) -> list[dict[str, Any]]: ...
    def events(self) -> list[dict[str, Any]]: ...


def open_store(root: Path, kind: str = "fs", location: str | None = None,
               offline: bool = False) -> Store:
    """The store the CLI asked for: ``fs`` (location = directory) or ``git`` (location =
    branch). The git store pushes to ``origin`` when the repository has one, because a
    state that stays on a CI runner is lost with it; ``offline`` keeps it local for now
    (origin is down) and the next run that reaches origin merges what was written."""
    if kind == "fs":
        return FilesystemStore(Path(location) if location else root / ".netpipe" / "state")
    if kind == "git":
        return GitStore(root, location or DEFAULT_BRANCH, push=True, offline=offline)
    raise ValueError(f"unknown state store {kind!r} (fs or git)")


def has_origin(root: Path) -> bool:
    proc = subprocess.run(["git", "-C", str(root), "remote"], capture_output=True, check=False)
    return proc.returncode == 0 and "origin" in proc.stdout.decode().split()


def default_kind(root: Path, asked: str | None) -> tuple[str, str]:
    """(store kind, warning): one lock per network, not per clone.

    Wherever the network repository has an ``origin``, the git store (on origin) is the
    default, so a laptop and CI share one lock and one set of backups. A local-only store
    is said out loud: chosen explicitly beside an origin, or the only option without one.
    """
    origin = has_origin(root)
    if asked == "git" or (asked is None and origin):
        return "git", ""
    if asked == "fs" and origin:
        return "fs", ("WARNING: --state fs keeps the lock and backups in this clone only; a "
                      "deploy from CI or another clone will not see them")
    return "fs", ("note: the network repository has no origin remote, so the lock and backups "
                  "live in this directory only (.netpipe/state)")


# -- shared helpers


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check(what: str, value: object) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(f"invalid {what} {value!r}: letters, digits and _.@+- only")
    return value


def _next_id(floor: str | None) -> str:
    """UTC second + random suffix, strictly after ``floor`` (the newest id known), so ids
    taken within one second still sort in the order they were taken."""
    candidate = f"{datetime.now(UTC).strftime(_STAMP)}-{secrets.token_hex(3)}"
    match = _ID.fullmatch(floor) if floor else None
    if match is None or candidate > match.group(0):
        return candidate
    stamp, low = match.group(1), int(match.group(2), 16) + 1
    if low > 0xFFFFFF:
        later = datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC) + timedelta(seconds=1)
        stamp, low = later.strftime(_STAMP), 0
    return f"{stamp}-{low + secrets.randbelow(0x1000000 - low):06x}"


def _lock_bytes(info: LockInfo) -> bytes:
    return json.dumps(asdict(info), sort_keys=True).encode()


def _parse_lock(raw: bytes | None) -> LockInfo | None:
    """None for missing or half-written content (a lock being created right now)."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return LockInfo(str(data["holder"]), str(data["since"]), str(data["reason"]),
                        str(data["token"]), str(data.get("renewed", "")),
                        int(data.get("lease", 0)))
    except (ValueError, KeyError, TypeError):
        return None


def _new_lock(holder: str, reason: str) -> LockInfo:
    now = _now()
    return LockInfo(holder, now, reason, secrets.token_hex(16), now, LEASE)


def _lost(info: LockInfo, current: LockInfo | None) -> LockLost:
    if current is None:
        return LockLost(f"the network lock of {info.holder} was broken (it is gone)")
    return LockLost(f"the network lock of {info.holder} was broken; it is now held by "
                    f"{current.holder} since {current.since} ({current.reason})")


def _unknown_lock(since: str = "") -> LockInfo:
    """A lock whose content cannot be read still blocks; this names it for break_lock."""
    return LockInfo("unknown (unreadable lock)", since, "", "")


def _record_bytes(record: Mapping[str, Any]) -> tuple[str, bytes]:
    if not isinstance(record, Mapping) or "id" not in record:
        raise ValueError("a deployment record needs an 'id'")
    dep_id = _check("deployment id", record["id"])
    return dep_id, json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False).encode()


def _event_line(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event, sort_keys=True, ensure_ascii=False).encode() + b"\n"


def _parse_events(raw: bytes | None) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for line in (raw or b"").splitlines():
        if line.strip():
            try:
                events.append(json.loads(line))
            except ValueError:  # a torn last line from a crash must not hide the others
                log.warning("state: skipping an unreadable line in events.jsonl")
    return events


def _broken_event(by: str, info: LockInfo) -> dict[str, Any]:
    return {"event": "lock broken", "by": by, "at": _now(), "lock": asdict(info)}


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.25, 0.01 * (attempt + 1))))


# -- filesystem backend


def _atomic_write(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of it, even after a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with tmp.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class FilesystemStore:
    """State as plain files, for one machine or a shared mount."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._last_id: str | None = None

    @property
    def _lock(self) -> Path:
        return self.path / "lock.json"

    def acquire_lock(self, holder: str, reason: str) -> LockInfo:
        info = _new_lock(holder, reason)
        data = _lock_bytes(info)
        self.path.mkdir(parents=True, exist_ok=True)
        for attempt in range(_ATTEMPTS):
            try:
                fd = os.open(self._lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                current = self.lock_info()
                if current is not None:
                    raise LockHeld(current) from None
                _backoff(attempt)  # released between our open and our read: try again
                continue
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            return info
        raise StoreError(f"could not create {self._lock}")

    def lock_info(self) -> LockInfo | None:
        return self._read_lock(self._lock)

    def _read_lock(self, path: Path) -> LockInfo | None:
        """Waits briefly for a lock file that is being written (created empty by O_EXCL)."""
        deadline = time.monotonic() + 1.0
        while True:
            try:
                raw = path.read_bytes()
                info = _parse_lock(raw)
                if info is not None:
                    return info
                if time.monotonic() > deadline:
                    mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                    return _unknown_lock(mtime.strftime("%Y-%m-%dT%H:%M:%SZ"))
            except FileNotFoundError:
                return None
            time.sleep(0.02)

    @contextlib.contextmanager
    def _mutex(self) -> Iterator[None]:
        """Renew, release and break exclude each other (acquire needs only O_EXCL): a renewal
        racing a break must never bring the broken lock back."""
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / ".lock.mutex").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def renew_lock(self, info: LockInfo) -> LockInfo:
        with self._mutex():
            current = self.lock_info()
            if current is None or not info.token or current.token != info.token:
                raise _lost(info, current)
            renewed = replace(current, renewed=_now(), lease=LEASE)
            _atomic_write(self._lock, _lock_bytes(renewed))
            return renewed

    def release_lock(self, info: LockInfo) -> None:
        with self._mutex():
            current = self.lock_info()
            if not info.token or current is None or current.token != info.token:
                return
            # Move it aside and check again, so a lock broken and re-taken meanwhile survives.
            aside = self.path / f".lock.{secrets.token_hex(6)}"
            try:
                os.rename(self._lock, aside)
            except FileNotFoundError:
                return
            moved = _parse_lock(aside.read_bytes())
            if moved is None or moved.token != info.token:
                with contextlib.suppress(FileExistsError):
                    os.link(aside, self._lock)
            aside.unlink()

    def break_lock(self, by: str) -> LockInfo | None:
        aside = self.path / f".lock.{secrets.token_hex(6)}"
        with self._mutex():
            try:
                os.rename(self._lock, aside)
            except FileNotFoundError:
                return None
        info = self._read_lock(aside) or _unknown_lock()
        aside.unlink()
        self._append_event(_broken_event(by, info))
        log.warning("state: %s broke the lock of %s (since %s)", by, info.holder, info.since)
        return info

    def _append_event(self, event: Mapping[str, Any]) -> None:
        """One O_APPEND write per line, so concurrent writers never interleave a line."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / "events.jsonl", os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o644)
        try:
            os.write(fd, _event_line(event))
            os.fsync(fd)
        finally:
            os.close(fd)

    def events(self) -> list[dict[str, Any]]:
        try:
            return _parse_events((self.path / "events.jsonl").read_bytes())
        except FileNotFoundError:
            return []

    def new_deployment_id(self) -> str:
        known = [p.stem for p in self._glob("deployments", "*.json")]
        known += [p.name for p in self._glob("backups", "*") if p.is_dir()]
        self._last_id = _next_id(max([*known, self._last_id or ""]))
        return self._last_id

    def _glob(self, folder: str, pattern: str) -> list[Path]:
        base = self.path / folder
        return [p for p in base.glob(pattern) if not p.name.startswith(".")] if base.is_dir() \
            else []

    def _backup(self, deployment_id: str, host: str) -> Path:
        return (self.path / "backups" / _check("deployment id", deployment_id)
                / f"{_check('host', host)}.conf")

    def save_backup(self, deployment_id: str, host: str, config: str) -> None:
        _atomic_write(self._backup(deployment_id, host), config.encode("utf-8"))

    def load_backup(self, deployment_id: str, host: str) -> str:
        try:  # bytes, not read_text: universal newlines would turn \r\n into \n
            return self._backup(deployment_id, host).read_bytes().decode("utf-8")
        except FileNotFoundError:
            raise KeyError(f"no backup of {host} in {deployment_id}") from None

    def backup_hosts(self, deployment_id: str) -> list[str]:
        folder = f"backups/{_check('deployment id', deployment_id)}"
        return sorted(p.name.removesuffix(".conf") for p in self._glob(folder, "*.conf"))

    def save_deployment(self, record: dict[str, Any]) -> None:
        dep_id, data = _record_bytes(record)
        _atomic_write(self.path / "deployments" / f"{dep_id}.json", data)

    def deployments(self) -> list[dict[str, Any]]:
        files = sorted(self._glob("deployments", "*.json"), key=lambda p: p.name)
        return [json.loads(p.read_bytes()) for p in files]


# -- git backend


class GitStore:
    """State as commits on a branch of the network repository, optionally shared via origin.

    Writes build a commit from a private index (``GIT_INDEX_FILE``) and move the branch with
    a compare-and-swap (``update-ref <new> <old>`` locally, ``--force-with-lease`` on origin),
    redoing the whole read-modify-write when another writer got there first.
    """

    def __init__(self, repo_root: Path, branch: str = DEFAULT_BRANCH, push: bool = False,
                 offline: bool = False) -> None:
        self.root = Path(repo_root)
        self.branch = branch
        self.ref = f"refs/heads/{branch}"
        self._env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "netpipe", "GIT_AUTHOR_EMAIL": "netpipe@localhost",
            "GIT_COMMITTER_NAME": "netpipe", "GIT_COMMITTER_EMAIL": "netpipe@localhost",
            "GIT_TERMINAL_PROMPT": "0",  # a CI job must fail, not wait for a password
        }
        self._env.pop("GIT_INDEX_FILE", None)
        self._git("check-ref-format", self.ref)
        head = self._git("symbolic-ref", "-q", "HEAD", check=False).stdout.decode().strip()
        if head == self.ref:
            raise StoreError(f"{branch} is checked out in {self.root}: the state branch must "
                             "not be the working branch")
        remotes = self._git("remote").stdout.decode().split()
        self.remote: str | None = "origin" if push and "origin" in remotes else None
        self.offline = offline and self.remote is not None
        if self.offline:
            self.remote = None  # read and write the local branch; reconciled on the next sync
        self._synced = False
        self._last_id: str | None = None

    # -- git plumbing

    def _git(self, *args: str, data: bytes | None = None, check: bool = True,
             env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(["git", "-C", str(self.root), *args], input=data,
                              capture_output=True, env={**self._env, **(env or {})},
                              check=False)
        if check and proc.returncode:
            words = [a for a in args if not a.startswith("-")][:1]
            raise StoreError(f"git {' '.join(words)} failed in {self.root}: "
                             f"{proc.stderr.decode(errors='replace').strip()}")
        return proc

    def _out(self, *args: str, data: bytes | None = None,
             env: Mapping[str, str] | None = None) -> str:
        return self._git(*args, data=data, env=env).stdout.decode().strip()

    def _rev(self, ref: str) -> str | None:
        proc = self._git("rev-parse", "-q", "--verify", ref, check=False)
        return (proc.stdout.decode().strip() or None) if proc.returncode == 0 else None

    def _is_ancestor(self, old: str, new: str) -> bool:
        return self._git("merge-base", "--is-ancestor", old, new, check=False).returncode == 0

    def _cas(self, ref: str, new: str, old: str | None) -> bool:
        """Atomic: fails if ``ref`` is not at ``old`` (``None``: if it exists at all)."""
        return self._git("update-ref", "-m", "netpipe state", ref, new, old or "",
                         check=False).returncode == 0

    def _cat(self, specs: list[str]) -> list[bytes | None]:
        """Many blobs in one ``cat-file --batch``; None for a missing path."""
        if not specs:
            return []
        out = self._git("cat-file", "--batch", data="".join(f"{s}\n" for s in specs).encode()
                        ).stdout
        blobs: list[bytes | None] = []
        pos = 0
        for _ in specs:
            end = out.index(b"\n", pos)
            header, pos = out[pos:end].split(), end + 1
            if len(header) != 3:  # "<spec> missing"
                blobs.append(None)
                continue
            size = int(header[2])
            blobs.append(out[pos:pos + size] if header[1] == b"blob" else None)
            pos += size + 1
        return blobs

    def _ls(self, commit: str | None, folder: str) -> list[str]:
        if commit is None:
            return []
        out = self._git("ls-tree", "-z", "--name-only", commit, f"{folder}/").stdout.decode()
        return [p.rsplit("/", 1)[-1] for p in out.split("\0") if p]

    def _commit(self, parent: str | None, files: Mapping[str, bytes], message: str,
                merged: str | None = None) -> str:
        """A commit = ``parent``'s tree plus ``files``, built in a throwaway index
        (``merged``: a second parent, for a reconciling merge)."""
        with tempfile.TemporaryDirectory(prefix="netpipe-index-") as tmp:
            env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
            self._git("read-tree", *([parent] if parent else ["--empty"]), env=env)
            entries: list[str] = []
            for path, data in files.items():
                sha = self._out("hash-object", "-w", "--stdin", data=data)
                entries += ["--cacheinfo", f"100644,{sha},{path}"]
            self._git("update-index", "--add", *entries, env=env)
            tree = self._out("write-tree", env=env)
        parents = ["-p", parent] if parent else []
        parents += ["-p", merged] if merged else []
        return self._out("commit-tree", "--no-gpg-sign", tree, *parents, "-m", message)

    # -- origin

    def _push(self, src: str, dst: str, expect: str) -> bool:
        """Compare-and-swap on origin: ``dst`` moves to ``src`` only if it is at ``expect``
        (``""``: only if it does not exist; ``src`` ``""`` deletes). False if rejected."""
        assert self.remote is not None
        proc = self._git("push", "--porcelain", "--no-verify", f"--force-with-lease={dst}:{expect}",
                         self.remote, f"{src}:{dst}", check=False)
        for line in proc.stdout.decode(errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[1].endswith(f":{dst}"):
                if parts[0] == "!":
                    log.debug("state: push to %s rejected: %s", dst, parts[-1])
                return parts[0] != "!"
        raise StoreError(f"cannot push to {self.remote}: "
                         f"{proc.stderr.decode(errors='replace').strip()}")

    def _fetch(self, ref: str) -> str | None:
        """Origin's value of ``ref``, its objects fetched; None if origin has no such ref.
        Fetched into a private temporary ref so concurrent processes never collide."""
        assert self.remote is not None
        for attempt in range(_ATTEMPTS):
            proc = self._git("ls-remote", self.remote, ref, check=False)
            if proc.returncode:
                raise StoreError(f"cannot reach {self.remote}: "
                                 f"{proc.stderr.decode(errors='replace').strip()}")
            shas = [line.split("\t")[0] for line in proc.stdout.decode().splitlines()
                    if line.endswith(f"\t{ref}")]
            if not shas:
                return None
            if self._git("cat-file", "-e", shas[0], check=False).returncode == 0:
                return shas[0]
            tmp = f"refs/netpipe/tmp/{secrets.token_hex(8)}"
            fetched = self._git("-c", "gc.auto=0", "-c", "maintenance.auto=false", "fetch",
                                "--quiet", "--no-tags", "--no-write-fetch-head", self.remote,
                                f"+{ref}:{tmp}", check=False)
            got = self._rev(tmp)
            if got:
                self._git("update-ref", "-d", tmp, check=False)
                return got
            log.debug("state: fetching %s failed (%s); retrying", ref, fetched.stderr[-200:])
            _backoff(attempt)  # the ref moved or vanished between ls-remote and fetch
        raise StoreError(f"could not fetch {ref} from {self.remote}")

    def _sync(self) -> tuple[str | None, str | None]:
        """(base for the next commit, origin's tip): brings the local branch up to origin."""
        local, remote = self._rev(self.ref), self._fetch(self.ref)
        self._synced = True
        if remote is None or remote == local:
            return local, remote
        if local is None or self._is_ancestor(local, remote):
            self._advance(remote)
            return remote, remote
        if self._is_ancestor(remote, local):
            ahead = local  # written while origin was out of reach (rollback --offline)
        else:
            ahead = self._reconcile(local, remote)  # and origin moved on meanwhile
            self._advance(ahead)
        if self._push(ahead, self.ref, remote):  # reconciled now, not at the next write
            log.warning("state: pushed state written while %s was unreachable", self.remote)
            return ahead, ahead
        return ahead, remote

    def _reconcile(self, local: str, remote: str) -> str:
        """Merge state written offline into origin's: records and backups have paths of
        their own (unique ids), events are a union of lines. Only the same record written
        differently on both sides needs a human."""
        base = self._git("merge-base", local, remote, check=False).stdout.decode().strip() or None
        ours = self._changed(base, local)
        theirs = set(self._changed(base, remote))
        files: dict[str, bytes] = {}
        for path in ours:
            mine = self._read(local, path)
            if path == "events.jsonl":
                known = self._read(remote, path)
                seen = set(known.splitlines())
                files[path] = known + b"".join(line + b"\n" for line in mine.splitlines()
                                               if line.strip() and line not in seen)
            elif path in theirs and self._read(remote, path) != mine:
                raise StoreError(f"{self.branch} and {self.remote}/{self.branch} both changed "
                                 f"{path}; merge them by hand (both hold deployment history)")
            else:
                files[path] = mine
        log.warning("state: merged %d file(s) written while %s was unreachable", len(files),
                    self.remote)
        return self._commit(remote, files, "reconcile state written offline", merged=local)

    def _changed(self, base: str | None, commit: str) -> list[str]:
        if base is None:
            out = self._git("ls-tree", "-r", "-z", "--name-only", commit).stdout.decode()
        else:
            out = self._git("diff", "--name-only", "--diff-filter=AM", "-z", base,
                            commit).stdout.decode()
        return [p for p in out.split("\0") if p]

    def _advance(self, new: str) -> None:
        """Move the local branch forward to ``new`` unless it already contains it."""
        for attempt in range(_ATTEMPTS):
            cur = self._rev(self.ref)
            if cur is not None and (cur == new or self._is_ancestor(new, cur)):
                return
            if self._cas(self.ref, new, cur):
                return
            _backoff(attempt)

    def _mirror_lock(self, sha: str | None) -> None:
        """Best effort: the local lock ref shows origin's lock, for people running git."""
        cur = self._rev(LOCK_REF)
        if cur == sha:
            return
        if sha is None:
            self._git("update-ref", "-d", LOCK_REF, cur or "", check=False)
        else:
            self._cas(LOCK_REF, sha, cur)

    # -- state branch

    def _tip(self) -> str | None:
        """The branch to read; origin is consulted once per instance (a new CI job sees the
        last one's state), and a rollback still works from the local copy if it is down."""
        if self.remote and not self._synced:
            try:
                self._sync()
            except StoreError as exc:
                self._synced = True
                log.warning("state: reading the local copy of %s: %s", self.branch, exc)
        return self._rev(self.ref)

    def _change(self, message: str, edit: Callable[[str | None], Mapping[str, bytes]]) -> None:
        """One commit on the branch; ``edit(base)`` is redone if another writer won the race."""
        for attempt in range(_ATTEMPTS):
            if self.remote:
                base, remote = self._sync()
            else:
                base, remote = self._rev(self.ref), None
            new = self._commit(base, edit(base), message)
            if self.remote:
                if self._push(new, self.ref, remote or ""):
                    self._advance(new)
                    return
            elif self._cas(self.ref, new, base):
                return
            _backoff(attempt)
        raise StoreError(f"{self.branch} kept moving; gave up after {_ATTEMPTS} attempts")

    # -- lock

    def _current_lock(self) -> tuple[str, LockInfo] | None:
        if self.remote:
            self._tip()  # any run that reaches origin first brings offline state there
            sha = self._fetch(LOCK_REF)
            self._mirror_lock(sha)
        else:
            sha = self._rev(LOCK_REF)
        if sha is None:
            return None
        (raw,) = self._cat([f"{sha}:lock.json"])
        return sha, _parse_lock(raw) or _unknown_lock()

    def acquire_lock(self, holder: str, reason: str) -> LockInfo:
        info = _new_lock(holder, reason)
        commit = self._commit(None, {"lock.json": _lock_bytes(info)}, f"lock: {holder}: {reason}")
        for attempt in range(_ATTEMPTS):
            won = self._push(commit, LOCK_REF, "") if self.remote else \
                self._cas(LOCK_REF, commit, None)
            if won:
                if self.remote:
                    self._mirror_lock(commit)
                return info
            current = self._current_lock()
            if current is not None:
                raise LockHeld(current[1])
            _backoff(attempt)  # released meanwhile, or a racing writer still mid-update
        raise StoreError(f"could not create {LOCK_REF}")

    def lock_info(self) -> LockInfo | None:
        current = self._current_lock()
        return current[1] if current else None

    def renew_lock(self, info: LockInfo) -> LockInfo:
        for attempt in range(_ATTEMPTS):
            current = self._current_lock()
            if current is None or not info.token or current[1].token != info.token:
                raise _lost(info, current[1] if current else None)
            renewed = replace(current[1], renewed=_now(), lease=LEASE)
            commit = self._commit(None, {"lock.json": _lock_bytes(renewed)},
                                  f"lock renewed: {info.holder}")
            won = (self._push(commit, LOCK_REF, current[0]) if self.remote
                   else self._cas(LOCK_REF, commit, current[0]))
            if won:
                if self.remote:
                    self._mirror_lock(commit)
                return renewed
            _backoff(attempt)  # broken meanwhile (checked on the next round), or contention
        raise StoreError(f"{LOCK_REF} kept changing; could not renew it")

    def _drop_lock(self, sha: str) -> bool:
        if self.remote:
            if not self._push("", LOCK_REF, sha):
                return False
            self._mirror_lock(None)
            return True
        return self._git("update-ref", "-d", LOCK_REF, sha, check=False).returncode == 0

    def release_lock(self, info: LockInfo) -> None:
        for attempt in range(_ATTEMPTS):
            current = self._current_lock()
            if not info.token or current is None or current[1].token != info.token:
                return
            if self._drop_lock(current[0]):
                return
            _backoff(attempt)

    def break_lock(self, by: str) -> LockInfo | None:
        for attempt in range(_ATTEMPTS):
            current = self._current_lock()
            if current is None:
                return None
            if self._drop_lock(current[0]):
                info = current[1]
                self._append_event(_broken_event(by, info),
                                   f"lock of {info.holder} broken by {by}")
                log.warning("state: %s broke the lock of %s (since %s)", by, info.holder,
                            info.since)
                return info
            _backoff(attempt)
        raise StoreError(f"{LOCK_REF} kept changing; could not break it")

    def _append_event(self, event: Mapping[str, Any], message: str) -> None:
        line = _event_line(event)
        self._change(message, lambda base: {"events.jsonl": self._read(base, "events.jsonl")
                                            + line})

    def _read(self, commit: str | None, path: str) -> bytes:
        return (self._cat([f"{commit}:{path}"])[0] or b"") if commit else b""

    def events(self) -> list[dict[str, Any]]:
        return _parse_events(self._read(self._tip(), "events.jsonl"))

    # -- backups and deployments

    def new_deployment_id(self) -> str:
        tip = self._tip()
        known = [n.removesuffix(".json") for n in self._ls(tip, "deployments")]
        known += self._ls(tip, "backups")
        self._last_id = _next_id(max([*known, self._last_id or ""]))
        return self._last_id

    def save_backup(self, deployment_id: str, host: str, config: str) -> None:
        path = f"backups/{_check('deployment id', deployment_id)}/{_check('host', host)}.conf"
        data = config.encode("utf-8")
        self._change(f"backup of {host} for {deployment_id}", lambda _base: {path: data})

    def load_backup(self, deployment_id: str, host: str) -> str:
        path = f"backups/{_check('deployment id', deployment_id)}/{_check('host', host)}.conf"
        tip = self._tip()
        raw = self._cat([f"{tip}:{path}"])[0] if tip else None
        if raw is None:
            raise KeyError(f"no backup of {host} in {deployment_id}")
        return raw.decode("utf-8")

    def backup_hosts(self, deployment_id: str) -> list[str]:
        names = self._ls(self._tip(), f"backups/{_check('deployment id', deployment_id)}")
        return sorted(n.removesuffix(".conf") for n in names if n.endswith(".conf"))

    def save_deployment(self, record: dict[str, Any]) -> None:
        dep_id, data = _record_bytes(record)
        result = record.get("result", "")
        self._change(f"deployment {dep_id}{': ' + str(result) if result else ''}",
                     lambda _base: {f"deployments/{dep_id}.json": data})

    def deployments(self) -> list[dict[str, Any]]:
        tip = self._tip()
        names = sorted(n for n in self._ls(tip, "deployments") if n.endswith(".json"))
        return [json.loads(raw) for raw in self._cat([f"{tip}:deployments/{n}" for n in names])
                if raw is not None]
