"""The IOS remediation list (hier_config) beside the unified diff: what it says, that it
reaches `netpipe diff`'s text, the merge-request note and build/diff, and that no secret
(the candidate's or one only the switch still has) shows in it.

The live diff runs NAPALM's real ios driver against the IOS SSH STAND-IN (tests/ios_standin):
a stand-in, not IOS; it proves what netpipe reads and shows, not how a switch applies it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.build import build
from pipeline.change import diff as diffs
from pipeline.change.candidate import candidate
from pipeline.change.remediation import remediation
from pipeline.change.targets import nornir_for
from pipeline.cli import main
from tests.change.test_blast import edit, repo
from tests.conftest import REPO
from tests.ios_standin import Device, standin, target
from tests.test_ios_change import SECRETS


def _switch() -> str:
    return build(REPO, run_lint=False).rendered["hq-sw1"].files["running.conf"]


def test_a_port_moved_to_another_vlan_is_one_command() -> None:
    """Single-valued settings are overwritten, not removed first (a `no switchport access
    vlan` would drop the port into VLAN 1 for a moment)."""
    running = _switch()
    intended = running.replace(" switchport access vlan 210", " switchport access vlan 230", 1)
    assert remediation("ios", running, intended) == (
        "interface GigabitEthernet1/0/9\n  switchport access vlan 230\n")
    assert remediation("ios", running, running) == ""
    assert remediation("frr", running, intended) == ""  # FRR: frr-reload does its own


def test_what_the_replace_removes_is_listed_with_its_no() -> None:
    """A switch with lines the intent does not have (a hand-made user, an extra NTP server,
    an old archive path): the replace removes them, and the list says so."""
    intended = _switch()
    running = intended.replace("ntp server 10.2.20.11\n",
                               "ntp server 10.2.20.11\nntp server 192.0.2.1\n")
    running = running.replace(" path flash:netpipe-archive", " path flash:old-archive")
    running = running.replace("!\nvtp mode",
                              "username temp privilege 15 secret 9 $9$x$y\n!\nvtp mode")
    commands = remediation("ios", running, intended).splitlines()
    assert "no username temp" in commands  # removed by name (no hash in the list)
    assert "no ntp server 192.0.2.1" in commands
    assert commands[commands.index("archive") + 1] == "  path flash:netpipe-archive"


def test_live_diff_shows_the_commands_with_every_secret_masked(tmp_path: Path) -> None:
    """hq-sw1 on the stand-in runs an old SNMP community and an old TACACS key that
    nobody told netpipe about; the candidate has new ones. The unified diff, the command
    list, the MR note and build/diff show neither."""
    intended = candidate(build(REPO, run_lint=False).rendered["hq-sw1"], SECRETS)
    running = (intended.replace(SECRETS["SNMP_RO_COMMUNITY"], "0ldC0mmunity")
               .replace(f" key {SECRETS['TACACS_KEY']}", " key 7 0822455D0A16")
               .replace("snmp-server location Vandaele", "snmp-server location Old"))
    device = Device("hq-sw1", running, password="sw-pw")
    with standin(device) as server:
        nr = nornir_for({"hq-sw1": target(server, tmp_path)})
        report = diffs.run_diff(nr, {"hq-sw1": intended}, {"hq-sw1": "ios"}, SECRETS,
                                commands=True)
    d = report["hq-sw1"]
    assert d.changed and not d.error, d
    assert d.remediation.splitlines() == [
        "no snmp-server community <secret:masked> RO MGMT-ACCESS",
        "tacacs server tac1",
        "  key <secret:masked>",
        "snmp-server community <secret:masked> RO MGMT-ACCESS",
        "snmp-server location Vandaele Foods, Belgium",
    ]
    assert "show running-config" in device.commands  # read from the device, not assumed
    out = tmp_path / "diff"
    diffs.write(report, out)
    shown = [diffs.as_text(report), diffs.as_markdown(report), diffs.as_json(report),
             *(p.read_text() for p in out.iterdir() if p.is_file())]
    assert (out / "hq-sw1.commands").read_text() == d.remediation
    for text in shown:
        for secret in ("0ldC0mmunity", "0822455D0A16", *SECRETS.values()):
            assert secret not in text
    text, note = shown[0], shown[1]
    assert f"--- hq-sw1: {diffs.REMEDIATION}\nno snmp-server community <secret:masked>" in text
    assert f"{diffs.REMEDIATION}:\n\n```\nno snmp-server community <secret:masked>" in note


def offline(tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str
            ) -> tuple[Path, str]:
    """``netpipe diff --offline --base HEAD`` after one edit of intent/sites/hq.yaml."""
    root = repo(tmp_path / "net")
    edit(root, "intent/sites/hq.yaml", old, new)
    assert main(["diff", "--offline", "--base", "HEAD", "--root", str(root)]) == 0
    return root, capsys.readouterr().out


def test_offline_preview_shows_the_commands(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    root, out = offline(tmp_path, capsys, "GigabitEthernet1/0/1-8, vlan: 220",
                        "GigabitEthernet1/0/1-8, vlan: 210")
    listed = out.split(f"--- hq-sw1: {diffs.REMEDIATION}\n", 1)[1].split("===", 1)[0]
    assert listed.splitlines()[:2] == ["interface GigabitEthernet1/0/1",
                                       "  switchport access vlan 210"]
    note = (root / "build/diff/summary.md").read_text()
    assert diffs.REMEDIATION in note
    assert (root / "build/diff/hq-sw1.commands").read_text().startswith(
        "interface GigabitEthernet1/0/1\n")


def test_the_runbook_shows_what_netpipe_computes(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """docs/operations.md's IOS remediation example is generated, not invented: the same
    intent change gives exactly that list."""
    root, out = offline(tmp_path, capsys, "GigabitEthernet1/0/1-40, vlan: 210",
                        "GigabitEthernet1/0/1-36, vlan: 210")
    shown = f"--- hq-sw2: {diffs.REMEDIATION}\n" + (root / "build/diff/hq-sw2.commands").read_text()
    assert shown in out
    runbook = (REPO / "docs/operations.md").read_text()
    assert "\n".join("   " + x if x else x for x in shown.splitlines()) in runbook
