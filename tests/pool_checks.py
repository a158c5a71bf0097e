"""Checks of forked work, run by tests/test_pool.py in a fresh interpreter.

pool.run forks only in a single-threaded process, and a test session may have threads
left from earlier tests (SSH stand-ins, lab helpers): there these checks would pass
without a fork. Each function raises AssertionError on failure.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.estate import generate
from pipeline import pool
from pipeline.build import build
from pipeline.design import design
from pipeline.intent.parse import parse
from pipeline.render import render as render_module
from pipeline.render.lint import lint
from pipeline.render.render import SHIPPED_TEMPLATES, render


def _pids(items: Sequence[int]) -> list[tuple[int, int]]:
    return [(item, os.getpid()) for item in items]


def _slow_pids(items: Sequence[int]) -> list[tuple[int, int]]:
    time.sleep(0.05)  # this process takes shares too: long enough for the worker to start
    return _pids(items)


def shared() -> None:
    items = list(range(200))
    done = [pair for part in pool.run(_slow_pids, items, processes=2) for pair in part]
    assert [item for item, _ in done] == items
    assert {pid for _, pid in done} - {os.getpid()}, "not forked"


def _big(items: Sequence[int]) -> list[str]:
    time.sleep(0.05)  # as _slow_pids
    return [f"{item}:" + "x" * 3000 for item in items]


def results_through_memory_or_the_pipe() -> None:
    """The same results whether they fit their shared-memory slot or not (then the pipe)."""
    items = list(range(200))
    want = _big(items)
    ways: list[list[bool]] = []  # per run: each worker result through memory or not
    receive = pool._receive

    def seen(stream: Any, memory: Any) -> Any:
        answer = receive(stream, memory)
        if answer is not None:
            ways[-1].append(answer[3])
        return answer

    pool._receive = seen
    ways.append([])
    assert [x for part in pool.run(_big, items, processes=2) for x in part] == want
    ways.append([])
    pool.BOARD = 4096 * 32  # 32 shares of 6 or 7 results, each about 20 KB: none fits
    assert [x for part in pool.run(_big, items, processes=2) for x in part] == want
    ways.append([])
    pool.BOARD = 0  # no memory at all
    assert [x for part in pool.run(_big, items, processes=2) for x in part] == want
    assert all(ways) and all(ways[0]) and not any(ways[1]) and not any(ways[2]), ways


def _fails_in(where: str, how: str) -> Callable[[Sequence[int]], list[int]]:
    """A job that does ``how`` (raise, or die) in the worker or in this process, slowly
    enough that both take shares."""
    parent = os.getpid()

    def job(items: Sequence[int]) -> list[int]:
        time.sleep(0.02)
        here = os.getpid() == parent
        if (where == "parent") == here:
            if how == "die":
                os._exit(3)
            with open(LEFT, "a") as out:  # the pid of the process that failed
                out.write(f"{os.getpid()}\n")
            raise ValueError(f"share of {items[0]} failed")
        return list(items)

    return job


LEFT = Path(tempfile.mkdtemp()) / "failed"


def failures_reach_the_caller() -> None:
    """A worker's exception is raised here; a worker that dies is ChildDied, never a hang;
    this process failing kills its workers. No worker is left running either way."""
    items = list(range(200))
    for where, how, expected in (("worker", "raise", ValueError),
                                 ("worker", "die", pool.ChildDied),
                                 ("parent", "raise", ValueError)):
        try:
            pool.run(_fails_in(where, how), items, processes=2)
        except expected:
            pass
        else:
            raise AssertionError(f"{where} {how}: nothing raised")
        kids = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
        assert not kids, f"{where} {how}: workers left: {kids}"
    assert LEFT.read_text().split()[-1] == str(os.getpid())


def _slow_square(item: int) -> int:
    time.sleep(0.002 * (item % 3))
    if item == 77:
        raise ValueError("item 77")
    if item == 88:
        os._exit(5)
    return item * item


def streams_results_as_they_come() -> None:
    """Streamed: every result once, with its index, through memory or the pipe (no
    memory, or more than it holds); the job's exception raised; a child that died is
    ChildDied; closed early, the child is gone."""
    items = list(range(70))
    want = {i: i * i for i in items}
    board = pool.BOARD
    for memory in (board, 0, 64):  # 64 bytes: the first result or two, then the pipe
        pool.BOARD = memory
        with pool.Streamed(_slow_square, items) as child:
            got = dict(child)
        assert got == want, memory
    pool.BOARD = board
    for first, expected in ((0, ValueError), (78, pool.ChildDied)):  # 77 raises, 88 dies
        child = pool.Streamed(_slow_square, list(range(first, 100)))
        seen: list[int] = []
        try:
            seen.extend(i for i, _ in child)
        except expected:
            pass
        else:
            raise AssertionError(f"{expected.__name__}: nothing raised")
        finally:
            child.close()
        assert seen == list(range((77 if first == 0 else 88) - first)), seen
    child = pool.Streamed(time.sleep, [60.0])
    child.close()  # the child sleeps: killed, not waited for a minute
    kids = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
    assert not kids, f"children left: {kids}"


def _estate() -> Path:
    return generate(Path(tempfile.mkdtemp()) / "net", 102).root


def renders_the_same() -> None:
    root = _estate()
    result = build(root, run_lint=False)
    assert result.ok and result.intent is not None
    secrets = result.intent.network.secrets
    one = render(result.devices, root, secrets, processes=1)
    two = render(result.devices, root, secrets, processes=2)
    assert one == two
    assert len(one[0]) == 102 and not one[1]


def limit_reported_once() -> None:
    """A refusal some devices hit (an include out of the folder): reported for the first
    of them, the rest not rendered, exactly as one process does it."""
    root = _estate()
    shutil.copytree(SHIPPED_TEMPLATES, root / "templates")
    ios = root / "templates" / "ios" / "running.conf.j2"
    ios.write_text("{% if d.name.endswith('sw3') %}{% include '../frr/frr.conf.j2' %}"
                   "{% endif %}\n" + ios.read_text())
    result = build(root, run_lint=False)
    assert result.intent is not None and result.devices
    secrets = result.intent.network.secrets
    rendering: list[str] = []
    render_one = render_module._render_one

    def counted(env: Any, tname: str, device: Any, host: str, *rest: Any) -> Any:
        if tname == "running.conf.j2":
            rendering.append(host)
        return render_one(env, tname, device, host, *rest)

    render_module._render_one = counted
    try:
        one = render(result.devices, root, secrets, processes=1)
    finally:
        render_module._render_one = render_one
    # Rendered until the refusal, then never again (not once per later device: a limit
    # that costs seconds to reach would cost them for each of thousands of switches).
    assert rendering[-1] == "s0001-sw3" and len(rendering) == len(set(rendering)), rendering
    two = render(result.devices, root, secrets, processes=2)
    assert one == two
    limits = [f for f in one[1] if f.code == "NP014"]
    assert len(limits) == 1 and limits[0].message.startswith("s0001-sw3:")
    assert "running.conf" in one[0]["s0001-sw2"].files
    assert "running.conf" not in one[0]["s0010-sw2"].files  # after the limit: skipped


def lints_the_same() -> None:
    """Python checks in worker processes, vtysh and nft side by side, nft batched: the
    findings and their order are those of one file at a time."""
    result = build(_estate(), run_lint=False)
    rendered = dict(result.rendered)
    core = rendered["s0003-core1"]
    rendered["s0003-core1"] = dataclasses.replace(core, files={
        **core.files, "nftables.conf": core.files["nftables.conf"].replace(
            "tcp dport 443", "tcp dport 99999", 1),
        "frr.conf": core.files["frr.conf"].replace("router ospf", "router ospf\n bogus", 1)})
    one = lint(rendered, processes=1)
    assert one == lint(rendered, processes=2)
    assert sorted({(f.code, f.file) for f in one}) == [
        ("NP310", "build/configs/s0003-core1/frr.conf"),
        ("NP311", "build/configs/s0003-core1/nftables.conf")]


def _slow_pid() -> int:
    time.sleep(0.5)
    return os.getpid()


def _missing() -> int:
    raise KeyError("missing")


def rules_alongside() -> None:
    """The rules run in a forked child while the parent designs; a child that dies is an
    error, never a hang."""
    assert pool.alongside(os.getpid, 100)() != os.getpid(), "not forked"
    small = pool.alongside(os.getpid, 10)
    assert small.done() and small() == os.getpid()  # small: here, before going on
    slow = pool.alongside(_slow_pid, 100)
    assert not slow.done()
    child = slow()
    assert slow.done() and slow() == child != os.getpid()
    try:
        pool.alongside(lambda: os._exit(3), 100)()
    except pool.ChildDied:
        pass
    else:
        raise AssertionError("a dead child went unnoticed")
    try:
        pool.alongside(_missing, 100)()
    except KeyError:
        pass
    else:
        raise AssertionError("the child's exception was lost")


def design_fails_where_rules_refuse() -> None:
    """Designed alongside the rules, intent the rules refuse may crash the design (a
    switch's management VLAN the site does not have): the answer is the rule's finding."""
    root = _estate()
    site = root / "intent" / "sites" / "s0001.yaml"
    text = site.read_text()
    site.write_text(text.replace("management: {vlan: 99,", "management: {vlan: 98,", 1))
    intent, problems = parse(root)
    assert intent is not None and not problems
    try:
        design(intent)
    except StopIteration:
        pass
    else:
        raise AssertionError("the design no longer fails here: pick another breakage")
    result = build(root, run_lint=False)
    assert not result.ok and not result.devices and not result.rendered
    assert [(f.code, f.file, f.line) for f in result.findings if f.is_error] == [
        ("NP122", "intent/sites/s0001.yaml", 19)]


def lints_beside_slow_rules() -> None:
    """Rules still running when a few changed devices are rendered: their lint runs
    meanwhile. When the rules then refuse, the answer is theirs alone (no lint finding,
    nothing rendered); when they pass, the build is the one the rules-first order gives.
    Many devices render beside the rules too, but their lint (seconds) waits for them."""
    import pipeline.build as build_module
    from benchmarks.estate import add_vlan
    from pipeline.findings import Finding, Severity

    root = _estate()
    assert build(root, incremental=True).ok
    add_vlan(root, site=1)
    check, linted = build_module.check, []

    def slow(intent: object, refuse: bool) -> list[Finding]:
        time.sleep(1.0)
        return [Finding("NP999", Severity.ERROR, "refused", "intent/network.yaml", 1, 1)] \
            if refuse else check(intent)  # type: ignore[arg-type]

    def lint(rendered: dict[str, object], prefix: str) -> list[Finding]:
        linted.append(len(rendered))
        return [Finding("NP310", Severity.ERROR, "lint", f"{prefix}/s0002-core1/frr.conf", 1, 1)]

    build_module.lint = lint  # type: ignore[assignment]
    build_module.check = lambda intent: slow(intent, refuse=True)  # type: ignore[assignment]
    refused = build(root, incremental=True)
    assert linted == [2], "not linted beside the rules"
    assert [f.code for f in refused.findings] == ["NP999"]
    assert not refused.rendered and not refused.devices
    build_module.check = lambda intent: slow(intent, refuse=False)  # type: ignore[assignment]
    passed = build(root, incremental=True)
    assert linted == [2, 2]
    assert [f.code for f in passed.findings] == ["NP310"]
    assert passed.rendered == {} and len(passed.devices) == 102
    build_module.check = lambda intent: slow(intent, refuse=True)  # type: ignore[assignment]
    everything = build(root)
    assert linted == [2, 2], "linted 102 devices beside the rules"
    assert [f.code for f in everything.findings] == ["NP999"]


def parses_the_same() -> None:
    """Files loaded by a forked child (the largest first) while this process recalls the
    rest give the intent and findings, in order, that one process gives: clean, after a
    change, and with findings in several files on both sides."""
    from pipeline.render.cache import Cache

    root = generate(Path(tempfile.mkdtemp()) / "net", 702).root
    keeper = Cache.open(root)
    assert keeper is not None
    log = root.parent / "keepers"  # a file: a forked child's memory is its own
    log.touch()
    keep = keeper.keep

    def counted(name: str, digest: bytes, payload: bytes) -> None:
        with log.open("a") as out:
            out.write(f"{os.getpid()}\n")
        keep(name, digest, payload)

    def pids() -> set[str]:
        return set(log.read_text().split())

    keeper.keep = counted  # type: ignore[method-assign]
    os.environ["NETPIPE_WORKERS"] = "1"
    serial = parse(root)
    del os.environ["NETPIPE_WORKERS"]
    assert serial[0] is not None and not serial[1]
    assert parse(root, keeper) == serial and len(pids()) == 2, "not loaded in a child"
    topology, site = root / "intent/topology.yaml", root / "intent/sites/s0003.yaml"
    topology.write_text(topology.read_text().replace("ospf: {area: 0,", "ospf: {area: x,", 2))
    site.write_text(site.read_text().replace("zone: office", "zone: ofice", 1)
                    .replace("name: ", "nam: ", 1))
    (root / "inventory/groups.yaml").write_text("ios: [1]\n")
    os.environ["NETPIPE_WORKERS"] = "1"
    broken = parse(root)
    del os.environ["NETPIPE_WORKERS"]
    assert broken[0] is None and len({f.file for f in broken[1]}) == 3, broken[1]
    log.write_text("")
    assert parse(root, keeper) == broken
    assert not pids()  # what changed has findings: nothing new kept
    assert parse(root) == broken


if __name__ == "__main__":
    globals()[sys.argv[1]]()
