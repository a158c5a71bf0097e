"""Router files that differ only in the router's own values are checked once.

Each check of a router service file starts a daemon (chronyd, rsyslogd, snmpd, dnsmasq,
sysctl, ifupdown2): started once per router, the external lint grew with the estate. These
tests count process starts (operations, never time) on generated estates of two sizes, and
check that a finding found once still reaches every router whose file gave it, at its line.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from benchmarks.estate import generate
from pipeline.design import design
from pipeline.intent.parse import parse
from pipeline.render import lint
from pipeline.render.neutral import neutral
from pipeline.render.render import Rendered, render
from pipeline.system import LINT, describe_missing

SERVICES = ("chrony.conf", "rsyslog.conf", "snmpd.conf", "dhcp-relay.conf", "sysctl.conf",
            "interfaces")


@pytest.fixture(autouse=True)
def require_parsers() -> None:
    if missing := describe_missing(LINT):
        pytest.skip(f"lint parsers missing: {missing}")


def _routers(root: Path, devices: int) -> dict[str, Rendered]:
    generate(root, devices)
    intent, findings = parse(root)
    assert intent is not None and not findings
    rendered, problems = render(design(intent), root, intent.network.secrets)
    assert not problems
    return {host: replace(item, files={f: t for f, t in item.files.items() if f in SERVICES})
            for host, item in rendered.items() if item.platform == "frr"}


@pytest.fixture(scope="module")
def estates(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Rendered]]:
    """6 and 10 routers: 4 and 8 sites (a core each) and the two hubs."""
    return [_routers(tmp_path_factory.mktemp(f"estate{n}"), n) for n in (42, 82)]


def _starts(monkeypatch: pytest.MonkeyPatch, work: Any) -> tuple[int, Any]:
    """(processes started while ``work`` ran, its result)."""
    started: list[str] = []

    class Counting(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, args: Any, *rest: Any, **options: Any) -> None:
            started.append(str(args[0]))
            super().__init__(args, *rest, **options)

    with monkeypatch.context() as patch:
        patch.setattr(subprocess, "Popen", Counting)
        lint.forget()
        result = work()
    return len(started), result


def test_process_starts_do_not_grow_with_routers(
        estates: list[dict[str, Rendered]], monkeypatch: pytest.MonkeyPatch) -> None:
    small, large = estates
    assert len(large) > len(small) + 3
    counts = []
    for rendered in estates:
        count, findings = _starts(monkeypatch, lambda r=rendered: lint.lint(r))
        assert findings == []
        counts.append(count)
    assert 0 < counts[0] == counts[1], counts
    # Cores share one text per file, the two hubs another: far fewer starts than files.
    assert counts[1] <= 2 * len(SERVICES) * 2, counts


def _break(rendered: dict[str, Rendered], fname: str, old: str, new: str
           ) -> Iterator[tuple[str, int]]:
    """Break ``fname`` the same way in every router; (host, line) of each broken line."""
    for host, item in rendered.items():
        text = item.files[fname]
        assert old in text, (host, fname)
        item.files[fname] = text.replace(old, new, 1)
        yield host, text[:text.index(old)].count("\n") + 1


@pytest.mark.parametrize(("fname", "old", "new", "code"), [
    ("chrony.conf", "makestep 1 3", "makestep 1 x", "NP314"),
    ("snmpd.conf", "agentAddress udp:161", "agentAdress udp:161", "NP316"),
    ("interfaces", "    mtu 1500", "    mtux 1500", "NP312"),
    ("sysctl.conf", "net.ipv4.ip_forward = 1", "net.ipv4.ip_forwarding = 1", "NP313"),
])
def test_a_finding_checked_once_names_every_router_and_its_line(
        estates: list[dict[str, Rendered]], monkeypatch: pytest.MonkeyPatch,
        fname: str, old: str, new: str, code: str) -> None:
    rendered = {h: replace(r, files={fname: r.files[fname]}) for h, r in estates[0].items()}
    broken = set(_break(rendered, fname, old, new))
    count, findings = _starts(monkeypatch, lambda: lint.lint(rendered, "build"))
    got = {(f.file, f.line) for f in findings if f.code == code}
    assert {(f"build/{host}/{fname}", line) for host, line in broken} <= got
    assert {f.file for f in findings} == {f"build/{host}/{fname}" for host, _ in broken}
    assert all("netpipe-router" not in f.message for f in findings)
    assert count <= 3  # the cores' text and each hub's (their link addresses differ)


def test_only_values_known_safe_are_replaced() -> None:
    text = ("# r1: written by netpipe\nsysName r1\nsysLocation r1\n"
            "    address 10.1.2.3/24\n    address 10.1.2.9/24\n    address 127.0.0.1/8\n"
            "    alias to r2 eth1\n    alias to r2 $(x)\n    address 10.01.2.3/24\n")
    same = neutral("r1", "snmpd.conf", text)
    lines = same.text.split("\n")
    assert lines[0] == "# netpipe-router: written by netpipe"
    assert lines[1] == "sysName netpipe-router"
    assert lines[2] == "sysLocation r1"  # not a field known to be the name
    assert lines[3:] == text.split("\n")[3:]  # addresses only in interfaces files
    iface = neutral("r1", "interfaces", text)
    lines = iface.text.split("\n")
    assert lines[1:3] == ["sysName r1", "sysLocation r1"]
    # Same network, same placeholder network; the host part and prefix length kept.
    assert lines[3].endswith(".3/24") and lines[4].endswith(".9/24")
    assert lines[3].rsplit(".", 1)[0] == lines[4].rsplit(".", 1)[0] != "    address 10.1.2"
    assert lines[5] == "    address 127.0.0.1/8"  # special addresses are kept
    assert lines[6] != "    alias to r2 eth1"
    assert lines[7] == "    alias to r2 $(x)"  # text outside the safe set is checked as is
    assert lines[8] == "    address 10.01.2.3/24"  # not canonical: checked as is
    assert iface.restore(f"bad {lines[3].split()[1]} in netpipe-router") == \
        "bad 10.1.2.3/24 in r1"
    odd = neutral("r 1", "chrony.conf", "# r 1: written\n")
    assert odd.text == "# r 1: written\n"  # a name outside the model's pattern: kept
