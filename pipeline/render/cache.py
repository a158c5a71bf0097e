"""Incremental builds: a device whose inputs did not change is not rendered or linted again.

Each device's key is a content hash of everything its configs are made from: its design
record (every fact a template can print), the templates of its platform (every file in
the folder, includes too), the declared secrets, netpipe's own code, and the linters it
is checked with (vtysh and nft by path and file identity, root or not). What a clean
build rendered for a key is kept in ``build/cache/<host>.json`` and used as long as the
key is the same; only configs with no finding at all are kept.

The cache lives in the repository's ``build/`` folder, which a merge request could fill:
so every entry carries an HMAC under a key that never leaves this machine
(``$XDG_CACHE_HOME/netpipe/cache.key``, else ``~/.cache/netpipe/cache.key``). An entry
that is not this machine's own, a symlink, an oversized file or anything malformed is a
miss, never an error; a machine without a private key builds everything.

The intent is kept too: what each intent file (the inventory's three files together)
validated into, pickled, under ``build/cache-intent/`` by the hash of the file's bytes and
sealed with the same key (checked before anything is unpickled). An unchanged file is not
read and validated again; the rules and the design still see the whole intent.

``validate`` needs only the verdict, not the texts: ``build/cache-index.json`` lists each
kept host's key under one HMAC for the whole list, so a run that writes nothing reads one small
file instead of every kept config (61 MB at 5,002 devices).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import json
import os
import pickle
import secrets
import stat
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import files, pickling
from pipeline.design import Device, Firewall, Interface
from pipeline.render.render import Rendered, template_root

FOLDER = "build/cache"
INDEX = "build/cache-index.json"  # beside the folder: no host can be named like it
MAX_ENTRY = 16 * 1024 * 1024
MAX_INDEX = 64 * 1024 * 1024
INTENT_FOLDER = "build/cache-intent"
MAX_INTENT = 256 * 1024 * 1024
_CODE = Path(__file__).resolve().parent.parent


def _key_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "netpipe" / "cache.key"


def machine_key() -> bytes | None:
    """This machine's private key (made on first use, mode 0600), or None if it cannot be."""
    path = _key_file()
    try:
        st = path.lstat()
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o077:
            key = path.read_bytes()
            return key if len(key) == 32 else None
        return None
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError:
        return None
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


_FIELDS = tuple(f.name for f in dataclasses.fields(Device))


class _Fingerprints:
    """Content hashes of design records, through pickle (C speed; the Python version is in
    the key). A set is pickled sorted (its order varies between runs); the parts of the
    firewall every router shares are hashed once per build, not once per router, and so is
    an interface record the design shares between switches (their unused and access
    ports). Equal bytes need equal content, so a fingerprint can miss but never mistake a
    change."""

    def __init__(self) -> None:
        self.shared: dict[tuple[int, ...], tuple[Any, bytes]] = {}
        self.interfaces: dict[int, bytes] = {}  # id -> digest of a record held below
        self.held: list[Interface] = []  # alive, so no other object gets their ids

    def of(self, device: Device) -> bytes:
        parts: list[Any] = []
        for name in _FIELDS:
            value = getattr(device, name)
            if isinstance(value, (frozenset, set)):
                value = sorted(value)
            elif isinstance(value, Firewall):
                value = hashlib.sha256(self._firewall(value)).digest()
            elif name == "interfaces":
                value = self._interfaces(value)
            parts += (name, value)
        return hashlib.sha256(_pickle(parts)).digest()

    def _interfaces(self, records: list[Interface]) -> bytes:
        known = self.interfaces
        digests = [known.get(i) for i in map(id, records)]
        if None in digests:
            for k, record in enumerate(records):
                if digests[k] is None:
                    digests[k] = known[id(record)] = hashlib.sha256(_pickle(record)).digest()
                    self.held.append(record)
        return b"".join(digests)  # type: ignore[arg-type]  # None filled in above

    def _firewall(self, fw: Firewall) -> bytes:
        parts = [(f.name, getattr(fw, f.name)) for f in dataclasses.fields(fw)
                 if f.name != "bgp_peers"]
        ident = tuple(id(v) for _, v in parts)
        seen = self.shared.get(ident)
        if seen is None or any(a is not b for a, (_, b) in zip(seen[0], parts, strict=True)):
            seen = (tuple(v for _, v in parts), _pickle(parts))
            self.shared[ident] = seen
        return seen[1] + _pickle(fw.bgp_peers)


def _pickle(value: Any) -> bytes:
    """Bytes that depend on the content only: no memo (``fast``), so two equal records
    pickle alike whether or not they share objects (records made from recalled intent
    share fewer). Nothing pickled here refers to itself."""
    return pickling.dumps(value, fast=True)


def _tree(root: Path) -> bytes:
    """Hash of every regular file under ``root`` (names and contents), in name order."""
    h = hashlib.sha256()
    for folder, _, names in sorted(os.walk(root, followlinks=False)):
        if "__pycache__" in Path(folder).parts:
            continue
        for name in sorted(names):
            path = Path(folder, name)
            with contextlib.suppress(OSError):
                if stat.S_ISREG(path.lstat().st_mode):
                    h.update(str(path.relative_to(root)).encode() + b"\0")
                    h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.digest()


def _tools() -> bytes:
    """The linters this build runs: a new vtysh or nft, or root or not, is another key."""
    import shutil

    from pipeline.render import nftcheck

    parts = [f"root={nftcheck.AS_ROOT} python={sys.version}"]
    for tool in ("vtysh", "nft", "unshare"):
        where = shutil.which(tool)
        if where is not None:
            st = os.stat(where)
            parts.append(f"{tool}={where}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}")
    return "\n".join(parts).encode()


@dataclass
class Cache:
    root: Path
    key: bytes
    salt: dict[str, bytes] = field(default_factory=dict)  # platform -> hash of the rest
    fingerprints: _Fingerprints = field(default_factory=_Fingerprints)
    code: bytes = b""  # hash of netpipe's own code, once per build
    index: dict[str, str] | None = None  # the index as read (or written) by this build

    def _code(self) -> bytes:
        if not self.code:
            self.code = _tree(_CODE)
        return self.code

    # -- validated intent, by file content (pipeline.intent.parse.Keeper)

    def _intent_mac(self, name: str, digest: bytes, payload: bytes) -> bytes:
        import pydantic
        import pydantic_core

        body = hmac.new(self.key, b"netpipe-intent-1\0", hashlib.sha256)
        for part in (self._code(), sys.version.encode(), pydantic.VERSION.encode(),
                     pydantic_core.__version__.encode(), name.encode(), digest):
            body.update(hashlib.sha256(part).digest())
        body.update(payload)
        return body.digest()

    def _intent_entry(self, name: str) -> str:
        return f"{INTENT_FOLDER}/{hashlib.sha256(name.encode()).hexdigest()[:40]}.bin"

    def has(self, name: str, digest: bytes) -> bool:
        """Whether an entry for these bytes is there (its first 64 bytes: the seal and the
        digest); :meth:`recall` checks the seal."""
        try:  # never through a link, never waiting on a pipe
            fd = os.open(self.root / self._intent_entry(name),
                         os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return False
        with os.fdopen(fd, "rb") as entry:
            return stat.S_ISREG(os.fstat(fd).st_mode) and entry.read(64)[32:] == digest

    def recall(self, name: str, digest: bytes) -> Any | None:
        """What these intent files validated into when they had these bytes, if this
        machine kept it (its HMAC is checked before anything is unpickled)."""
        try:
            raw = files.read_bytes(self.root, self._intent_entry(name), MAX_INTENT)
        except (files.Refused, OSError):
            return None
        mac, kept, payload = raw[:32], raw[32:64], raw[64:]
        if kept != digest or not hmac.compare_digest(
                mac, self._intent_mac(name, digest, payload)):
            return None
        try:
            return pickle.loads(payload)
        except Exception:  # sealed by this machine, but written by another netpipe
            return None

    def keep(self, name: str, digest: bytes, payload: bytes) -> None:
        """Keep what these files validated into (clean, just loaded; ``payload``, its pickle,
        shares what the value shares); best effort."""
        folder = _folder(self.root, INTENT_FOLDER)
        if folder is None:
            return
        _replace_bytes(folder, Path(self._intent_entry(name)).name,
                       self._intent_mac(name, digest, payload) + digest + payload)

    @classmethod
    def open(cls, root: Path) -> Cache | None:
        key = machine_key()
        return cls(root, key) if key is not None else None

    def _salt(self, platform: str, declared: Mapping[str, str]) -> bytes:
        if platform not in self.salt:
            h = hashlib.sha256(b"netpipe-cache-3")
            h.update(self._code())
            h.update(_tree(template_root(self.root) / platform))
            h.update(json.dumps(sorted(declared.items())).encode())
            h.update(_tools())
            self.salt[platform] = h.digest()
        return self.salt[platform]

    def keys(self, devices: Mapping[str, Device], declared: Mapping[str, str]
             ) -> dict[str, str]:
        """Each device's key; none when the templates cannot be read (render says why)."""
        try:
            for platform in {d.platform for d in devices.values()}:
                self._salt(platform, declared)
        except files.Refused:
            return {}
        return {host: hashlib.sha256(self._salt(d.platform, declared) + host.encode() + b"\0"
                                     + self.fingerprints.of(d)).hexdigest()
                for host, d in devices.items()}

    def _mac(self, host: str, key: str, platform: str, texts: Mapping[str, str]) -> str:
        body = json.dumps([host, key, platform, sorted(texts.items())]).encode()
        return hmac.new(self.key, body, hashlib.sha256).hexdigest()

    def _index_mac(self, entries: Mapping[str, str]) -> str:
        body = json.dumps(["index", sorted(entries.items())]).encode()  # never an entry's
        return hmac.new(self.key, body, hashlib.sha256).hexdigest()

    def _index(self) -> dict[str, str]:
        """host -> key of every entry the index vouches for: all of them if its HMAC is
        this machine's, else none (one HMAC for the whole index: 5,002 hosts, 2 ms)."""
        if self.index is None:
            self.index = {}
            try:
                kept = json.loads(files.read_bytes(self.root, INDEX, MAX_INDEX))
                entries, mac = kept["keys"], kept["mac"]
            except (files.Refused, OSError, ValueError, KeyError, TypeError):
                return self.index
            if isinstance(entries, dict) and isinstance(mac, str) \
                    and all(isinstance(k, str) for k in entries.values()) \
                    and hmac.compare_digest(mac, self._index_mac(entries)):
                self.index = entries
        return self.index

    def clean(self, keys: Mapping[str, str]) -> set[str]:
        """Hosts whose key is unchanged since a clean build, from the index alone."""
        index = self._index()
        return {host for host, key in keys.items() if index.get(host) == key}

    def load(self, keys: Mapping[str, str]) -> dict[str, Rendered]:
        """The kept configs of every host whose key is unchanged (and whose entry is this
        machine's own)."""
        found: dict[str, Rendered] = {}
        for host, key in keys.items():
            try:
                entry = json.loads(files.read_bytes(self.root, f"{FOLDER}/{host}.json",
                                                    MAX_ENTRY))
                if not isinstance(entry, dict) or entry.get("key") != key:
                    continue
                platform, texts = entry["platform"], entry["files"]
                if not (isinstance(platform, str) and isinstance(texts, dict)
                        and all(isinstance(t, str) for t in texts.values())):
                    continue
                if hmac.compare_digest(str(entry.get("mac")),
                                       self._mac(host, key, platform, texts)):
                    found[host] = Rendered(host, platform, dict(texts))
            except (files.Refused, OSError, ValueError, KeyError, TypeError):
                continue
        return found

    def save(self, rendered: Iterable[Rendered], keys: Mapping[str, str]) -> None:
        """Keep these configs (clean, just built) under their keys; best effort."""
        folder = _folder(self.root, FOLDER)
        if folder is None:
            return
        index = dict(self._index())
        for item in rendered:
            key = keys.get(item.host)
            if key is None:
                continue
            entry = {"key": key, "platform": item.platform, "files": item.files,
                     "mac": self._mac(item.host, key, item.platform, item.files)}
            if _replace(folder, f"{item.host}.json", entry):
                index[item.host] = key
        _replace(self.root / "build", Path(INDEX).name,
                 {"keys": index, "mac": self._index_mac(index)})
        self.index = index


def _folder(root: Path, rel: str) -> Path | None:
    """``root/rel`` made if need be, or None if it (or a folder on the way) is a symlink."""
    path = root
    try:
        for part in Path(rel).parts:
            path = path / part
            if path.is_symlink():
                return None
            path.mkdir(exist_ok=True)
    except OSError:
        return None
    return path


def _replace(folder: Path, name: str, value: object) -> bool:
    """Write ``folder/name`` as JSON in one step (a reader sees the old or the new)."""
    return _replace_bytes(folder, name, json.dumps(value).encode())


def _replace_bytes(folder: Path, name: str, data: bytes) -> bool:
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, folder / name)
        return True
    except OSError:
        return False
