"""Rendered-config lint against FRR's and nftables' own parsers, and IOS structure checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import system
from pipeline.build import build
from pipeline.render import lint
from pipeline.render.lint import lint_frr, lint_interfaces, lint_ios, lint_nft, lint_sysctl
from tests.conftest import REPO, require


def require_parsers() -> None:
    """The real parsers run for any user; only their absence skips (never in CI)."""
    require(system.describe_missing(system.LINT) or None, "lint with the real parsers")


def test_example_configs_pass_the_real_parsers() -> None:
    require_parsers()
    result = build(REPO)
    assert result.ok
    assert not [f for f in result.findings if f.code == "NP390"], "a parser was skipped"
    assert sum(1 for r in result.rendered.values() if r.platform == "frr") == 4


def test_a_missing_parser_is_named_with_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lint, "_tool", lambda name: None)
    monkeypatch.setattr(system, "VTYSH", system.Need("/nonexistent/vtysh", "frr", "test"))
    [finding] = lint.lint_frr("build/configs/r1/frr.conf", "router ospf\nexit\n")
    assert finding.code == "NP390"
    assert "/nonexistent/vtysh is missing (apt-get install frr)" in finding.message


def _routers() -> dict[str, object]:
    result = build(REPO, run_lint=False)
    return {h: r for h, r in result.rendered.items() if r.platform == "frr"}


@pytest.mark.parametrize("budget", ["per-run", "in-all"])
def test_a_check_that_does_not_finish_is_a_finding(monkeypatch: pytest.MonkeyPatch,
                                                   budget: str) -> None:
    """A rendered file can make a checker slow (16 million characters a file, for every
    router): a run past its timeout raised TimeoutExpired out of the lint (an internal
    error), and the runs had no bound in all. Each file a check could not finish is a
    finding with its checker's code, and the lint goes on."""
    require_parsers()
    lint.forget()
    if budget == "per-run":
        monkeypatch.setattr(system, "CHECK_TIMEOUT", 0)
    else:
        monkeypatch.setattr(lint, "CHECKS_SECONDS", 0.0)
    routers = _routers()
    findings = lint.lint(routers)  # type: ignore[arg-type]
    external = {(h, f) for h, r in routers.items() for f in r.files  # type: ignore[attr-defined]
                if ("frr", f) in lint.EXTERNAL}
    unfinished = {tuple(f.file.split("/")[-2:]) for f in findings if "did not finish" in f.message}
    assert unfinished == external, findings[:5]
    codes = {f.file.rsplit("/", 1)[-1]: f.code for f in findings}
    assert codes["frr.conf"] == "NP310" and codes["nftables.conf"] == "NP311"
    lint.forget()


def test_frr_rejection_points_at_the_line() -> None:
    require_parsers()
    text = "interface eth1\n ip address 10.0.0.1/24\nexit\nrouter ospf\n bogus command\nexit\n"
    findings = lint_frr("x/frr.conf", text)
    assert [(f.code, f.line) for f in findings] == [("NP310", 5)]
    assert "bogus command" in findings[0].message


def test_frr_accepts_valid_config() -> None:
    require_parsers()
    assert lint_frr("x/frr.conf", "router ospf\n ospf router-id 10.0.0.1\nexit\n") == []


def test_nft_rejection_points_at_line_and_column() -> None:
    require_parsers()
    text = "table inet t {\n\tchain c {\n\t\tip saddr @nosuchset accept\n\t}\n}\n"
    findings = lint_nft("x/nftables.conf", text)
    assert [(f.code, f.line, f.column) for f in findings] == [("NP311", 3, 12)]


def test_nft_check_leaves_host_ruleset_alone() -> None:
    require_parsers()
    text = "table inet netpipe_lint_probe {\n\tchain c {\n\t}\n}\n"
    assert lint_nft("x/nftables.conf", text) == []
    if shutil.which("nft") and os.geteuid() == 0:
        listing = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True)
        assert "netpipe_lint_probe" not in listing.stdout


def test_interfaces_rejection_points_at_the_attribute() -> None:
    require_parsers()
    text = ("auto lo\niface lo inet loopback\n\nauto eth3.110\niface eth3.110\n"
            "    address 10.1.10.300/24\n    mtu 1500\n\nauto eth4\niface eth4\n"
            "    mtux 1500\n")
    findings = lint_interfaces("x/interfaces", text)
    assert {(f.code, f.line) for f in findings} >= {("NP312", 6), ("NP312", 11)}, findings
    assert any("10.1.10.300/24" in f.message for f in findings)
    assert any("mtux" in f.message for f in findings)


def test_interfaces_of_the_example_pass_and_leave_the_machine_alone() -> None:
    require_parsers()
    result = build(REPO, run_lint=False)
    before = Path("/etc/network/interfaces").read_text() if Path(
        "/etc/network/interfaces").exists() else None
    for host, item in result.rendered.items():
        if item.platform == "frr":
            assert lint_interfaces(f"{host}/interfaces", item.files["interfaces"]) == []
            assert lint_sysctl(f"{host}/sysctl.conf", item.files["sysctl.conf"]) == []
    after = Path("/etc/network/interfaces").read_text() if Path(
        "/etc/network/interfaces").exists() else None
    assert before == after


def test_interfaces_check_runs_on_the_systems_python(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    # ifupdown2 is Debian's program (`#!/usr/bin/env python3`): a `python3` first on the
    # caller's PATH (a pyenv shim, a venv without its modules) must not run it.
    require_parsers()
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho 'error: x: line1: not the system python' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    lint.forget()
    text = "auto lo\niface lo inet loopback\n\nauto eth1\niface eth1\n    mtu 1500\n"
    assert lint_interfaces("x/interfaces", text) == []
    lint.forget()


def test_interfaces_check_needs_no_run_network_on_the_machine() -> None:
    # /run/network exists once ifupdown2 has run on a machine (its boot service, or the
    # lab); a fresh runner with ifupdown2 just installed has none, and the check mounted
    # its private tmpfs there: every router failed NP312 and `make demo` stopped at its
    # first validate. The check runs here in a view of the machine without /run/network.
    require_parsers()
    text = "auto lo\niface lo inet loopback\n\nauto eth1\niface eth1\n    mtu 1500\n"
    code = ("import sys; from pipeline.render.lint import lint_interfaces; "
            "found = lint_interfaces('x/interfaces', sys.stdin.read()); "
            "print([f.message for f in found]); sys.exit(1 if found else 0)")
    hide = 'mount -t tmpfs none /run && test ! -e /run/network && exec "$0" -c "$1"'
    proc = subprocess.run(["unshare", *lint._UNSHARE_MOUNT, "sh", "-c", hide, sys.executable,
                           code], input=text, capture_output=True, text=True, cwd=REPO,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_validate_needs_nothing_the_lab_leaves_on_the_machine() -> None:
    # The lab makes its boxes' mount points on the machine when they are missing
    # (/run/network, /run/chrony, /var/tmp/network, ...): a suite that ran lab tests first
    # hid that the lint needed /run/network (above). The whole validate, every checker,
    # runs here with /run and /var/tmp as a fresh boot has them: empty.
    require_parsers()
    fresh = 'mount -t tmpfs none /run && mount -t tmpfs none /var/tmp && exec "$@"'
    proc = subprocess.run(["unshare", *lint._UNSHARE_MOUNT, "sh", "-c", fresh, "sh",
                           sys.executable, "-m", "pipeline.cli", "validate", "--root",
                           str(REPO), "--no-cache"], capture_output=True, text=True,
                          cwd=REPO, timeout=300, check=False)
    assert proc.returncode == 0 and "no findings" in proc.stdout, proc.stdout + proc.stderr


def test_sysctl_rejection_points_at_the_key() -> None:
    require_parsers()
    text = ("net.ipv4.ip_forward = 1\nnet.ipv4.conf.eth3/110.rp_filter = 1\n"
            "net.ipv4.conf.eth3/110.rp_filtr = 1\nnet.ipv4.ip_forward = maybe\n")
    findings = lint_sysctl("x/sysctl.conf", text)
    assert sorted((f.code, f.line) for f in findings) == [("NP313", 3), ("NP313", 4)], findings


@pytest.mark.parametrize(("linter", "text", "code", "line"), [
    (lint.lint_chrony, "server 10.2.20.11 iburst\nsever 10.2.20.12 iburst\n", "NP314", 2),
    (lint.lint_rsyslog, '*.* action(type="omfwd" target="10.2.20.12" port="514")\n*.* bogus(\n',
     "NP315", 2),
    (lint.lint_snmpd, "agentAddress udp:161\nrocommunity x 10.2.99.0/24\nrocomunity x 10/8\n",
     "NP316", 3),
    (lint.lint_resolv, "search example\nnameserver 10.0.0.1\nnamesever 10.0.0.2\n", "NP317", 3),
    (lint.lint_resolv, "".join(f"nameserver 10.0.0.{n}\n" for n in range(1, 5)), "NP317", 4),
])
def test_service_file_rejection_points_at_the_line(linter: lint.Linter, text: str, code: str,
                                                   line: int) -> None:
    """Each router service file through its daemon's own parser (snmpd: started on it in a
    throw-away namespace); resolv.conf by resolv.conf(5)."""
    require_parsers()
    findings = linter("x/file", text)
    assert {(f.code, f.line) for f in findings} == {(code, line)}, findings
    assert linter("x/file", text.splitlines(keepends=True)[0]) == []


def test_a_checker_that_prints_half_a_character_is_read() -> None:
    # rsyslogd quotes one byte of a character it refuses ('\303' of 'é'): its output is not
    # UTF-8, and decoding it strictly made a template's stray letter an internal error.
    require_parsers()
    text = '*.* action(type="omfwd" target="10.2.20.12" port="514")\né\n'
    findings = lint.lint_rsyslog("x/rsyslog.conf", text)
    assert {(f.code, f.line) for f in findings} == {("NP315", 2)}, findings


IOS_OK = """vlan 10
 name USERS
ip access-list standard MGMT
 permit 10.0.0.0 0.0.0.255
interface Gi1/0/1
 switchport access vlan 10
interface Gi1/0/2
 switchport trunk allowed vlan 10
line vty 0 4
 access-class MGMT in
ip scp server enable
enable secret 9 $9$abc$def
username breakglass privilege 15 secret 9 $9$abc$def
aaa new-model
aaa authentication login default group TAC local
archive
 path flash:netpipe-archive
ip default-gateway 10.0.0.1
ip route 0.0.0.0 0.0.0.0 10.0.0.1
"""


def test_ios_clean() -> None:
    assert lint_ios("s/running.conf", IOS_OK) == []


@pytest.mark.parametrize(("old", "new", "code", "line"), [
    (" switchport access vlan 10", " switchport access vlan 20", "NP301", 6),
    (" access-class MGMT in", " access-class MGNT in", "NP302", 10),
    (" switchport trunk allowed vlan 10", " switchport trunk allowed vlan 10,30-31", "NP304", 8),
])
def test_ios_findings(old: str, new: str, code: str, line: int) -> None:
    findings = lint_ios("s/running.conf", IOS_OK.replace(old, new))
    assert [(f.code, f.line) for f in findings] == [(code, line)]


def test_a_config_that_repeats_a_mistake_gets_bounded_findings() -> None:
    """A template can print hundreds of thousands of lines a check refuses (16 million
    characters a file, for every device): 2 MB of trunks carrying every undefined VLAN took
    40 s and 775 MB of findings (each listed 4,094 ids; each counted its line from the
    top). The findings stop after MAX_LISTED, each one short, at its line."""
    first = IOS_OK.count("\n") + 1
    text = IOS_OK + "interface Gi1/0/3\n switchport trunk allowed vlan 1-4094\n" * 40_000
    findings = [f for f in lint_ios("s", text) if f.code == "NP304"]
    assert len(findings) == lint.MAX_LISTED + 1
    assert [f.line for f in findings[:3]] == [first + 1, first + 3, first + 5]
    assert findings[-1].line == first + 2 * lint.MAX_LISTED + 1
    assert "stopped" in findings[-1].message
    assert max(len(f.message) for f in findings) < 200, findings[0].message


def test_trunk_lists_are_checked_up_to_a_budget() -> None:
    """Every VLAN defined, every trunk list a new one of thousands of ids: no finding to
    stop at, each list a set operation; past a million ids in all the check stops."""
    vlans = "".join(f"vlan {v}\n" for v in range(1, 4095))
    trunks = "".join(f"interface Gi1/0/{n}\n switchport trunk allowed vlan 1-4094,{n}\n"
                     for n in range(1, 300))
    findings = lint_ios("s", vlans + IOS_OK + trunks)
    assert [(f.code, "stopped" in f.message) for f in findings] == [("NP304", True)]


def test_ios_duplicate_address() -> None:
    text = ("interface Vlan10\n ip address 10.0.0.2 255.255.255.0\n"
            "interface Vlan20\n ip address 10.0.0.2 255.255.255.0\n")
    assert [(f.code, f.line) for f in lint_ios("s", text) if f.code != "NP305"] == [
        ("NP303", 4)]


@pytest.mark.parametrize("line", [
    " switchport trunk allowed vlan 10,,20", " switchport trunk allowed vlan -",
    " switchport trunk allowed vlan 1-99999999999999",  # a memory bomb when expanded
    " switchport trunk allowed vlan 10-5", " switchport trunk allowed vlan 0,4095",
    " switchport trunk native vlan " + "9" * 5000,  # over int()'s 4,300 digits
    " switchport access vlan " + "9" * 5000])
def test_ios_vlan_lists_a_template_gets_wrong_are_findings(line: str) -> None:
    # The template is the merge request's: a line the lint cannot read is its finding, at
    # its line, never an internal error (ValueError, MemoryError before).
    text = IOS_OK.replace(" switchport trunk allowed vlan 10", line)
    text += "vlan " + "1" * 5000 + "\n"
    findings = lint_ios("s/running.conf", text)
    assert [(f.code, f.line) for f in findings] == [
        ("NP304" if "trunk" in line else "NP301", 8)], findings


@pytest.mark.parametrize(("old", "new", "line", "words"), [
    (" path flash:netpipe-archive\n", "", 16, "archive"),
    ("archive\n path flash:netpipe-archive\n", "", 1, "archive"),
    ("ip scp server enable\n", "", 1, "scp"),
    ("username breakglass privilege 15 secret", "username breakglass secret", 13, "local user"),
    ("username breakglass privilege 15 secret 9", "username breakglass privilege 15 password 0",
     1, "local user"),
    ("enable secret 9", "enable password", 1, "enable secret"),
    ("group TAC local", "group TAC", 15, "local"),
    ("ip route 0.0.0.0 0.0.0.0 10.0.0.1\n", "", 18, "ip route 0.0.0.0"),
    ("ip default-gateway 10.0.0.1\n", "", 18, "ip default-gateway"),
    ("ip route 0.0.0.0 0.0.0.0 10.0.0.1", "ip route 0.0.0.0 0.0.0.0 10.0.0.9", 19, "differ"),
])
def test_ios_replace_essentials(old: str, new: str, line: int, words: str) -> None:
    """NP305: a replace candidate without what NAPALM and the break-glass login need."""
    assert old in IOS_OK
    findings = lint_ios("s/running.conf", IOS_OK.replace(old, new))
    assert [(f.code, f.line) for f in findings] == [("NP305", line)], findings
    assert words in findings[0].message


def test_example_ios_configs_keep_their_management() -> None:
    result = build(REPO, run_lint=False)
    for host, item in result.rendered.items():
        if item.platform == "ios":
            assert lint_ios(host, item.files["running.conf"]) == [], host
