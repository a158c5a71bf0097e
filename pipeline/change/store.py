"""Deployment state: the network lock, backups of running configs, deployment records.

Filesystem backend (default, ``.netpipe/state``). The lock is a file created with
O_EXCL, so exactly one process wins; every write is a temp file + ``os.replace``.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class LockInfo:
    holder: str
    since: str
    reason: str
    token: str


class LockHeld(Exception):
    def __init__(self, info: LockInfo) -> None:
        super().__init__(f"the network is locked by {info.holder} since {info.since} "
                         f"({info.reason})")
        self.info = info


class Store(Protocol):
    def acquire_lock(self, holder: str, reason: str) -> LockInfo: ...
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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    tmp.write_text(text, encoding="utf-8", newline="")
    os.replace(tmp, path)


class FilesystemStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def _lock(self) -> Path:
        return self.path / "lock.json"

    def acquire_lock(self, holder: str, reason: str) -> LockInfo:
        info = LockInfo(holder, _now(), reason, secrets.token_hex(8))
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self._lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            current = self.lock_info()
            if current is None:  # released in between: try once more
                return self.acquire_lock(holder, reason)
            raise LockHeld(current) from None
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(info), handle)
        return info

    def lock_info(self) -> LockInfo | None:
        try:
            return LockInfo(**json.loads(self._lock.read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def release_lock(self, info: LockInfo) -> None:
        current = self.lock_info()
        if current is not None and current.token == info.token:
            self._lock.unlink(missing_ok=True)

    def break_lock(self, by: str) -> LockInfo | None:
        current = self.lock_info()
        if current is None:
            return None
        self._lock.unlink(missing_ok=True)
        self._event({"event": "lock broken", "by": by, "when": _now(), "lock": asdict(current)})
        return current

    def _event(self, event: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / "events.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(event) + "\n")

    def events(self) -> list[dict[str, Any]]:
        path = self.path / "events.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def new_deployment_id(self) -> str:
        return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)

    def save_backup(self, deployment_id: str, host: str, config: str) -> None:
        _write(self.path / "backups" / deployment_id / f"{host}.conf", config)

    def load_backup(self, deployment_id: str, host: str) -> str:
        path = self.path / "backups" / deployment_id / f"{host}.conf"
        if not path.exists():
            raise KeyError(f"no backup of {host} in {deployment_id}")
        return path.read_text(encoding="utf-8")

    def backup_hosts(self, deployment_id: str) -> list[str]:
        folder = self.path / "backups" / deployment_id
        return sorted(p.stem for p in folder.glob("*.conf")) if folder.is_dir() else []

    def save_deployment(self, record: dict[str, Any]) -> None:
        _write(self.path / "deployments" / f"{record['id']}.json",
               json.dumps(record, indent=2, sort_keys=True))

    def deployments(self) -> list[dict[str, Any]]:
        folder = self.path / "deployments"
        if not folder.is_dir():
            return []
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def open_store(root: Path, kind: str = "fs", location: str | None = None) -> Store:
    if kind == "fs":
        return FilesystemStore(Path(location) if location else root / ".netpipe" / "state")
    raise ValueError(f"unknown state store {kind!r}")
