"""The state store against real files and real git repositories (no mocks).

Every behaviour runs on three backends: the filesystem store, the git store in a local
repository, and the git store pushing to a bare ``origin``, because deploy and rollback
must not care which one the CLI opened.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from pipeline.change.history import pick_undo
from pipeline.change.journal import EXIT_USAGE, DeployResult, Lease, under_lock
from pipeline.change.store import (
    FilesystemStore,
    GitStore,
    LockHeld,
    LockLost,
    Store,
    StoreError,
    default_kind,
    open_store,
)

BACKENDS = ("fs", "git", "git-origin")
ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
CONFIGS = {
    "r1": "hostname r1\ninterface eth0\n description Zürich ↔ Gent — über\n",
    "sw-2": "hostname sw-2\n banner motd ¡hola! 日本語 no trailing newline",
    "fw.gent": "line one\r\nline two\r\n\tindented\r\n",
}


def git(repo: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", "-C", str(repo), "-c", "user.name=tester",
                           "-c", "user.email=tester@example.net", *args],
                          capture_output=True, text=True, check=False)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def new_repo(path: Path) -> Path:
    """A network repository with one commit on main, as a user would have it."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("network\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "initial")
    return path


@dataclass(frozen=True)
class Backend:
    kind: str
    root: Path  # the network repository (a plain directory for fs)
    origin: Path | None = None

    def open(self, root: Path | None = None) -> Store:
        """A fresh store object, as a new CLI run or CI job would make."""
        root = root or self.root
        if self.kind == "fs":
            return open_store(root)
        return GitStore(root, push=self.kind == "git-origin")


def make_backend(kind: str, tmp_path: Path) -> Backend:
    if kind == "fs":
        root = tmp_path / "net"
        root.mkdir()
        return Backend(kind, root)
    root = new_repo(tmp_path / "net")
    if kind == "git":
        return Backend(kind, root)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "origin", "main")
    return Backend(kind, root, origin)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return make_backend(request.param, tmp_path)


@pytest.fixture(params=BACKENDS[1:])
def git_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return make_backend(request.param, tmp_path)


# -- the lock


def test_second_acquire_is_refused_naming_holder_and_since(backend: Backend) -> None:
    first = backend.open().acquire_lock("alice@laptop pid 1234", "deploy 3f2a1c0")
    assert datetime.fromisoformat(first.since).utcoffset() is not None  # ISO-8601, UTC
    with pytest.raises(LockHeld) as held:
        backend.open().acquire_lock("gitlab-ci job 5678", "deploy 9e8d7c6")
    assert held.value.info == first
    assert "alice@laptop pid 1234" in str(held.value)
    assert first.since in str(held.value)
    assert backend.open().lock_info() == first


def test_release_needs_the_token(backend: Backend) -> None:
    store = backend.open()
    lock = store.acquire_lock("alice", "deploy a")
    store.release_lock(replace(lock, token="not-the-token"))
    store.release_lock(replace(lock, token=""))
    assert backend.open().lock_info() == lock
    with pytest.raises(LockHeld):
        backend.open().acquire_lock("bob", "deploy b")

    store.release_lock(lock)
    assert backend.open().lock_info() is None
    again = backend.open().acquire_lock("bob", "deploy b")
    assert again.token != lock.token
    assert backend.open().lock_info() == again


def test_break_lock_removes_it_and_records_who_broke_whose(backend: Backend) -> None:
    stale = backend.open().acquire_lock("crashed-runner pid 1", "deploy abc")
    assert backend.open().events() == []

    broken = backend.open().break_lock("bob@ops")
    assert broken == stale
    assert backend.open().lock_info() is None
    (event,) = backend.open().events()
    assert event["event"] == "lock broken"
    assert event["by"] == "bob@ops"
    assert event["lock"]["holder"] == "crashed-runner pid 1"
    assert event["lock"]["since"] == stale.since
    assert datetime.fromisoformat(event["at"]) >= datetime.fromisoformat(stale.since)

    assert backend.open().break_lock("bob@ops") is None, "nothing left to break"
    assert len(backend.open().events()) == 1, "breaking nothing records nothing"

    # The crashed runner comes back and releases: the new holder's lock must survive.
    carol = backend.open().acquire_lock("carol", "rollback")
    backend.open().release_lock(stale)
    assert backend.open().lock_info() == carol


def _race(backend: Backend, n: int, barrier: Barrier, out: Any) -> None:
    store = backend.open()
    barrier.wait()
    try:
        out.put(("won", store.acquire_lock(f"racer {n}", "race").token))
    except LockHeld as held:
        out.put(("held", held.info.token))


def test_eight_processes_race_and_exactly_one_wins(backend: Backend) -> None:
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(backend, n, barrier, out)) for n in range(8)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    winners = [token for what, token in results if what == "won"]
    assert len(winners) == 1, results
    assert {token for what, token in results if what == "held"} <= set(winners), \
        "every loser must be told about the winner's lock"
    current = backend.open().lock_info()
    assert current is not None and current.token == winners[0]


# -- backups and deployments


def test_backups_round_trip_byte_for_byte(backend: Backend) -> None:
    store = backend.open()
    dep = store.new_deployment_id()
    for host, config in CONFIGS.items():
        store.save_backup(dep, host, config)

    fresh = backend.open()
    assert fresh.backup_hosts(dep) == sorted(CONFIGS)
    for host, config in CONFIGS.items():
        assert fresh.load_backup(dep, host) == config
    with pytest.raises(KeyError):
        fresh.load_backup(dep, "r9")
    with pytest.raises(KeyError):
        fresh.load_backup("20000101T000000Z-000000", "r1")
    assert fresh.backup_hosts("20000101T000000Z-000000") == []

    store.save_backup(dep, "r1", "")
    assert backend.open().load_backup(dep, "r1") == ""
    with pytest.raises(ValueError):
        store.save_backup(dep, "../../etc/passwd", "x")
    with pytest.raises(ValueError):
        store.save_backup("../x", "r1", "x")


def test_backups_are_stored_as_utf8_bytes_at_the_documented_path(backend: Backend) -> None:
    store = backend.open()
    store.save_backup("d1", "fw.gent", CONFIGS["fw.gent"])
    if backend.kind == "fs":
        raw = (backend.root / ".netpipe/state/backups/d1/fw.gent.conf").read_bytes()
    else:
        raw = subprocess.run(["git", "-C", str(backend.root), "cat-file", "blob",
                              "netpipe-state:backups/d1/fw.gent.conf"],
                             capture_output=True, check=True).stdout
    assert raw == CONFIGS["fw.gent"].encode("utf-8")


def test_deployments_round_trip_oldest_first(backend: Backend) -> None:
    store = backend.open()
    ids = [store.new_deployment_id() for _ in range(3)]
    assert all(ID.fullmatch(i) for i in ids), ids
    assert ids == sorted(ids) and len(set(ids)) == 3, "ids taken in one second still sort"
    records: list[dict[str, Any]] = [
        {"id": i, "result": "ok", "revision": "3f2a1c0", "backups": ["r1", "sw-2"],
         "note": "Zürich ↔ Gent", "n": n, "nested": {"ok": True, "none": None}}
        for n, i in enumerate(ids)]
    for record in reversed(records):  # saved newest first on purpose
        store.save_deployment(record)
    assert backend.open().deployments() == records

    store.save_deployment({**records[1], "result": "failed"})
    got = backend.open().deployments()
    assert [r["id"] for r in got] == ids, "overwriting an id updates it in place"
    assert got[1]["result"] == "failed"

    with pytest.raises(ValueError):
        store.save_deployment({"result": "ok"})
    with pytest.raises(TypeError):
        store.save_deployment({"id": "20990101T000000Z-000000", "when": datetime.now()})
    assert len(backend.open().deployments()) == 3, "a failed save leaves nothing behind"


def test_new_ids_sort_after_every_known_deployment(backend: Backend) -> None:
    store = backend.open()
    store.save_deployment({"id": "29991231T235959Z-000001"})
    assert backend.open().new_deployment_id() > "29991231T235959Z-000001"
    store.save_deployment({"id": "29991231T235959Z-ffffff"})
    nxt = backend.open().new_deployment_id()
    assert ID.fullmatch(nxt) and nxt.startswith("30000101T000000Z-")


def _write_backup(backend: Backend, n: int, barrier: Barrier) -> None:
    store = backend.open()
    barrier.wait()
    store.save_backup("d1", f"r{n}", f"hostname r{n}\n")


def test_concurrent_writers_all_land(backend: Backend) -> None:
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(8)
    procs = [ctx.Process(target=_write_backup, args=(backend, n, barrier)) for n in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    store = backend.open()
    assert store.backup_hosts("d1") == [f"r{n}" for n in range(8)]
    assert all(store.load_backup("d1", f"r{n}") == f"hostname r{n}\n" for n in range(8))
    if backend.kind != "fs":
        assert git(backend.root, "rev-list", "--count", "netpipe-state") == "8"


def test_fs_layout_and_default_location(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    assert isinstance(store, FilesystemStore)
    assert store.path == tmp_path / ".netpipe" / "state"
    lock = store.acquire_lock("alice", "deploy a")
    assert json.loads((store.path / "lock.json").read_text()) == {
        "holder": "alice", "since": lock.since, "reason": "deploy a", "token": lock.token,
        "renewed": lock.since, "lease": 900}
    store.save_backup("d1", "r1", "x")
    store.save_deployment({"id": "d1"})
    store.break_lock("bob")
    assert sorted(str(p.relative_to(store.path)) for p in store.path.rglob("*")
                  if p.is_file()) == [".lock.mutex", "backups/d1/r1.conf", "deployments/d1.json",
                                      "events.jsonl"]
    assert isinstance(open_store(tmp_path, "fs", str(tmp_path / "x")), FilesystemStore)
    with pytest.raises(ValueError):
        open_store(tmp_path, "s3")


def test_fs_lock_file_left_empty_by_a_crash_still_blocks_and_can_be_broken(
        tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path)
    (tmp_path / "lock.json").write_bytes(b"")  # created by O_EXCL, never written
    with pytest.raises(LockHeld) as held:
        store.acquire_lock("alice", "deploy a")
    assert "unknown" in held.value.info.holder
    broken = store.break_lock("bob")
    assert broken is not None and "unknown" in broken.holder
    assert store.acquire_lock("alice", "deploy a").holder == "alice"


# -- the git store


def test_git_store_leaves_the_users_checkout_alone(git_backend: Backend) -> None:
    root = git_backend.root
    head = git(root, "rev-parse", "HEAD")
    staged = git(root, "ls-files", "-s")
    store = git_backend.open()

    lock = store.acquire_lock("alice", "deploy a")
    dep = store.new_deployment_id()
    for host, config in CONFIGS.items():
        store.save_backup(dep, host, config)
    store.save_deployment({"id": dep, "result": "ok"})
    store.release_lock(lock)
    store.acquire_lock("crashed", "deploy b")
    store.break_lock("bob")

    assert git(root, "status", "--porcelain") == ""
    assert git(root, "rev-parse", "HEAD") == head
    assert git(root, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert git(root, "ls-files", "-s") == staged

    # One commit per change (3 backups, 1 deployment, 1 event), on an orphan branch.
    assert git(root, "rev-list", "--count", "netpipe-state") == "5"
    assert git(root, "merge-base", "main", "netpipe-state", check=False) == ""
    assert set(git(root, "log", "--format=%an <%ae>|%cn", "netpipe-state").splitlines()) \
        == {"netpipe <netpipe@localhost>|netpipe"}
    assert sorted(git(root, "ls-tree", "-r", "--name-only", "netpipe-state").splitlines()) \
        == sorted([f"backups/{dep}/{h}.conf" for h in CONFIGS]
                  + [f"deployments/{dep}.json", "events.jsonl"])

    # A user with work in progress: staged and untracked changes stay exactly as they were.
    (root / "README.md").write_text("network, edited\n")
    git(root, "add", "README.md")
    (root / "notes.txt").write_text("wip\n")
    before = git(root, "status", "--porcelain")
    store.save_deployment({"id": dep, "result": "rolled back"})
    store.acquire_lock("alice", "deploy c")
    assert git(root, "status", "--porcelain") == before
    assert git(root, "diff", "--cached", "--name-only") == "README.md"
    assert (root / "README.md").read_text() == "network, edited\n"
    assert git(root, "rev-parse", "HEAD") == head


def test_git_lock_is_a_ref(git_backend: Backend) -> None:
    lock = git_backend.open().acquire_lock("alice", "deploy a")
    content = git(git_backend.root, "cat-file", "-p", "refs/netpipe/lock:lock.json")
    assert json.loads(content)["token"] == lock.token
    git_backend.open().release_lock(lock)
    assert git(git_backend.root, "rev-parse", "-q", "--verify", "refs/netpipe/lock",
               check=False) == ""


def test_git_store_refuses_to_run_on_its_own_checked_out_branch(tmp_path: Path) -> None:
    root = new_repo(tmp_path / "net")
    git(root, "checkout", "-q", "-b", "netpipe-state")
    with pytest.raises(StoreError):
        GitStore(root)


def test_a_fresh_clone_of_origin_sees_the_state(tmp_path: Path) -> None:
    """A new CI job starts from a clone: it must see the last job's lock and history."""
    root = new_repo(tmp_path / "net")
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "origin", "main")
    job1 = open_store(root, "git")
    assert isinstance(job1, GitStore) and job1.remote == "origin"

    lock = job1.acquire_lock("gitlab-ci job 1", "deploy 3f2a1c0")
    dep = job1.new_deployment_id()
    job1.save_backup(dep, "r1", CONFIGS["r1"])
    job1.save_deployment({"id": dep, "result": "ok"})

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    assert "origin/netpipe-state" in git(clone, "branch", "-r")
    assert git(clone, "ls-remote", "origin", "refs/netpipe/lock") != ""
    job2 = GitStore(clone, push=True)
    assert job2.deployments() == [{"id": dep, "result": "ok"}]
    assert job2.load_backup(dep, "r1") == CONFIGS["r1"]
    assert job2.lock_info() == lock
    with pytest.raises(LockHeld) as held:
        job2.acquire_lock("gitlab-ci job 2", "deploy 9e8d7c6")
    assert "gitlab-ci job 1" in str(held.value)

    job1.release_lock(lock)
    lock2 = job2.acquire_lock("gitlab-ci job 2", "deploy 9e8d7c6")
    # Both jobs write; neither loses the other's commits.
    dep2 = job2.new_deployment_id()
    job1.save_deployment({"id": "manual-note", "result": "n/a"})
    job2.save_deployment({"id": dep2, "result": "ok"})
    job2.release_lock(lock2)
    ids = [d["id"] for d in GitStore(root, push=True).deployments()]
    assert sorted(ids) == sorted([dep, dep2, "manual-note"])
    assert git(origin, "rev-list", "--count", "netpipe-state") == "4"
    assert GitStore(root, push=True).lock_info() is None


def test_unreachable_origin_reads_locally_but_will_not_lock(tmp_path: Path) -> None:
    root = new_repo(tmp_path / "net")
    GitStore(root).save_deployment({"id": "d1", "result": "ok"})
    git(root, "remote", "add", "origin", str(tmp_path / "gone.git"))
    store = GitStore(root, push=True)
    assert store.deployments() == [{"id": "d1", "result": "ok"}], \
        "rollback must work from the local copy"
    with pytest.raises(StoreError):
        store.acquire_lock("alice", "deploy a")


def test_diverged_state_branches_are_merged_keeping_both(tmp_path: Path) -> None:
    """State written while origin was out of reach is merged into origin's, never lost:
    records and backups have paths of their own, events are a union of lines."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    other = new_repo(tmp_path / "other")
    git(other, "remote", "add", "origin", str(origin))
    remote_side = GitStore(other, push=True)
    remote_side.save_deployment({"id": "d-origin"})
    remote_side.break_lock("nobody")  # nothing to break: no event
    root = new_repo(tmp_path / "net")
    local = GitStore(root)
    local.save_deployment({"id": "d-local"})
    local.save_backup("d-local", "r1", "hostname r1\n")
    local.acquire_lock("offline", "rollback")
    local.break_lock("me")
    git(root, "remote", "add", "origin", str(origin))
    GitStore(root, push=True).save_deployment({"id": "d-new"})
    fresh = GitStore(other, push=True)
    assert sorted(d["id"] for d in fresh.deployments()) == ["d-local", "d-new", "d-origin"]
    assert fresh.load_backup("d-local", "r1") == "hostname r1\n"
    assert [e["by"] for e in fresh.events()] == ["me"]


def test_the_same_record_changed_on_both_sides_needs_a_human(tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    other = new_repo(tmp_path / "other")
    git(other, "remote", "add", "origin", str(origin))
    GitStore(other, push=True).save_deployment({"id": "d1", "result": "ok"})
    root = new_repo(tmp_path / "net")
    GitStore(root).save_deployment({"id": "d1", "result": "failed"})
    git(root, "remote", "add", "origin", str(origin))
    with pytest.raises(StoreError, match="by hand"):
        GitStore(root, push=True).save_deployment({"id": "d2"})
    assert [d["result"] for d in GitStore(root).deployments()] == ["failed"]


def test_offline_store_writes_locally_and_the_next_online_run_reconciles(
        tmp_path: Path) -> None:
    """``rollback --offline``: origin is down; lock, record and events stay in the clone
    and reach origin with the next run that can push."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    root = new_repo(tmp_path / "net")
    git(root, "remote", "add", "origin", str(origin))
    GitStore(root, push=True).save_deployment({"id": "d1", "result": "ok"})
    moved = tmp_path / "origin-down.git"
    origin.rename(moved)
    with pytest.raises(StoreError):
        GitStore(root, push=True).acquire_lock("alice", "rollback")
    offline = GitStore(root, push=True, offline=True)
    lock = offline.acquire_lock("alice", "rollback (offline)")
    offline.save_deployment({"id": "r1", "kind": "rollback", "result": "ok"})
    offline.release_lock(lock)
    assert [d["id"] for d in offline.deployments()] == ["d1", "r1"]
    moved.rename(origin)
    other = new_repo(tmp_path / "other")
    git(other, "remote", "add", "origin", str(origin))
    assert [d["id"] for d in GitStore(other, push=True).deployments()] == ["d1"]
    GitStore(root, push=True).events()  # any online run reconciles
    GitStore(root, push=True).save_deployment({"id": "d2"})
    assert [d["id"] for d in GitStore(other, push=True).deployments()] == ["d1", "d2", "r1"]


def test_renewing_a_lease_and_losing_it(backend: Backend) -> None:
    store = backend.open()
    lock = store.acquire_lock("alice", "deploy a")
    assert lock.lease > 0 and lock.renewed == lock.since
    renewed = store.renew_lock(lock)
    assert renewed.token == lock.token and backend.open().lock_info() == renewed
    backend.open().break_lock("bob (rollback --force)")
    with pytest.raises(LockLost, match="broken"):
        store.renew_lock(renewed)
    carol = backend.open().acquire_lock("carol", "rollback")
    with pytest.raises(LockLost, match="carol"):
        store.renew_lock(renewed)
    assert backend.open().lock_info() == carol, "a lost lock is never brought back"


def test_an_expired_lease_still_holds_but_says_so(backend: Backend) -> None:
    store = backend.open()
    lock = store.acquire_lock("crashed-runner", "deploy x")
    later = datetime.strptime(lock.since, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=UTC) + timedelta(seconds=lock.lease + 1)
    assert replace(lock).expired(later)
    old = replace(lock, renewed="2000-01-01T00:00:00Z")
    assert "lease expired" in str(LockHeld(old))
    with pytest.raises(LockHeld):
        backend.open().acquire_lock("alice", "deploy y")


def test_default_store_is_the_network_wide_one(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert default_kind(plain, None)[0] == "fs" and "no origin" in default_kind(plain, None)[1]
    root = new_repo(tmp_path / "net")
    git(root, "remote", "add", "origin", str(tmp_path / "origin.git"))
    assert default_kind(root, None) == ("git", "")
    kind, warning = default_kind(root, "fs")
    assert kind == "fs" and warning.startswith("WARNING") and "this clone only" in warning


@pytest.fixture(autouse=True)
def _no_git_identity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """As on a CI runner: no global git config, so no identity but the store's own."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)
    yield


# -- records of jobs that ended without finishing


def test_a_record_left_running_is_marked_interrupted_by_the_next_holder(
        backend: Backend) -> None:
    """A job killed between commit and confirm leaves its record `running` (it says which
    devices may have changed). The next deploy or rollback holds the lock, so no job can
    still be writing it: it is marked `interrupted`, its devices as they were recorded."""
    store = backend.open()
    killed = {"id": "20260101T000000Z-aaaaaa", "kind": "deploy", "result": "running",
              "backups": ["r1"], "devices": {"r1": {"state": "pending", "detail": ""}}}
    store.save_deployment(killed)

    def body(lease: Lease) -> DeployResult:
        own = {"id": "20260102T000000Z-bbbbbb", "kind": "deploy", "result": "running"}
        lease.store.save_deployment(own)  # its own record, still being written
        return DeployResult(own["id"], 0, "done")

    under_lock(store, "test", body)
    by_id = {r["id"]: r for r in backend.open().deployments()}
    marked = by_id[killed["id"]]
    assert marked["result"] == "interrupted"
    assert marked["devices"] == killed["devices"] and marked["backups"] == ["r1"]
    assert "ended without finishing" in marked["interrupted"]["why"]
    assert by_id["20260102T000000Z-bbbbbb"]["result"] == "running"  # ours: left to us
    assert pick_undo(list(by_id.values())).id == killed["id"]  # still undone by its record


def test_a_refused_lock_marks_nothing(backend: Backend) -> None:
    store = backend.open()
    store.save_deployment({"id": "20260101T000000Z-aaaaaa", "result": "running"})
    held = store.acquire_lock("someone else", "a deploy")
    result = under_lock(backend.open(), "test", lambda lease: DeployResult("x", 0, "done"))
    assert result.exit_code == EXIT_USAGE
    assert [r["result"] for r in store.deployments()] == ["running"]
    store.release_lock(held)
