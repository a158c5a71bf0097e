"""The offline preview: intended configs of two revisions, per device, with no device and
no credential, against real git repositories built from the example network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.build import build
from pipeline.change.offline import PreviewError, preview
from pipeline.cli import main
from tests.change.test_blast import WH_SW2_HOST, WH_SW2_SITE, WH_SW2_TRUNK, edit, git, repo
from tests.conftest import REPO

CREDENTIALS = ("NETPIPE_USERNAME", "NETPIPE_PASSWORD", "NETPIPE_STATE_KEY")


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """An MR pipeline: GitLab gives it none of the protected variables: no device login,
    no state key, no config secret the example network declares."""
    network = yaml.safe_load((REPO / "intent" / "network.yaml").read_text())
    declared = set(network["secrets"])
    assert {"TACACS_KEY", "BGP_ISP_PASSWORD", "IOS_ENABLE_HASH"} <= declared
    for name in {*CREDENTIALS, *declared}:
        monkeypatch.delenv(name, raising=False)


def test_one_device_changes_and_the_rest_are_shown_unchanged(tmp_path: Path) -> None:
    root = repo(tmp_path / "net")
    edit(root, "intent/topology.yaml", "description: Internet transit",
         "description: Internet transit (AS64496)")
    found = preview(root, "HEAD", build(root))
    changed = {h for h, d in found.hosts.items() if d.changed}
    assert changed == {"hq-edge1"}
    assert len(found.hosts) == 10 and all(d.reachable for d in found.hosts.values())
    diff = found.hosts["hq-edge1"].diff
    assert "- neighbor 198.51.100.1 description Internet transit\n" in diff
    assert "+ neighbor 198.51.100.1 description Internet transit (AS64496)\n" in diff
    assert (found.hosts["hq-edge1"].added, found.hosts["hq-edge1"].removed) == (2, 2)
    assert found.radius.devices_changed == ("hq-edge1",)
    assert found.head.endswith("+dirty") and found.base == git(root, "rev-parse", "HEAD").strip()


def test_secrets_stay_placeholders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGP_ISP_PASSWORD", "s3cret-isp-key")
    root = repo(tmp_path / "net")
    edit(root, "intent/topology.yaml", "description: Internet transit",
         "description: Internet transit (AS64496)")
    diff = preview(root, "HEAD", build(root)).hosts["hq-edge1"].diff
    assert " neighbor 198.51.100.1 password <secret:BGP_ISP_PASSWORD>\n" in diff
    assert "s3cret-isp-key" not in diff


def test_an_added_device_is_diffed_from_nothing(tmp_path: Path) -> None:
    root = repo(tmp_path / "net")
    hosts, site = root / "inventory/hosts.yaml", root / "intent/sites/warehouse.yaml"
    hosts.write_text(hosts.read_text() + WH_SW2_HOST)
    site.write_text(site.read_text() + WH_SW2_SITE)
    edit(root, "intent/topology.yaml", "\n\nuplinks:", f"\n{WH_SW2_TRUNK.rstrip()}\n\nuplinks:")
    found = preview(root, "HEAD", build(root))
    new = found.hosts["wh-sw2"]
    assert new.changed and new.removed == 0 and new.added > 50
    assert new.diff.startswith("--- /dev/null\n+++ ")
    assert "wh-sw2" in found.radius.devices_added


def test_committed_revisions_compare_too(tmp_path: Path) -> None:
    """CI compares the merge-request head (a clean checkout) with its base."""
    root = repo(tmp_path / "net")
    edit(root, "intent/topology.yaml", "description: Internet transit",
         "description: Internet transit (AS64496)")
    git(root, "commit", "-qam", "describe the ISP")
    found = preview(root, "HEAD~1", build(root))
    assert {h for h, d in found.hosts.items() if d.changed} == {"hq-edge1"}
    assert "+dirty" not in found.head


def test_an_unknown_base_is_refused(tmp_path: Path) -> None:
    root = repo(tmp_path / "net")
    with pytest.raises(PreviewError, match="unknown revision"):
        preview(root, "no-such-branch", build(root))


def test_cli_needs_no_credentials(tmp_path: Path, no_credentials: None,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    root = repo(tmp_path / "net")
    edit(root, "intent/topology.yaml", "description: Internet transit",
         "description: Internet transit (AS64496)")
    code = main(["diff", "--offline", "--base", "HEAD", "--root", str(root)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "=== hq-edge1: +2 -2" in out and "=== wh-core1: no change" in out
    assert "blast radius since" in out and "<details>" not in out and "|" not in out
    note = (root / "build/diff/summary.md").read_text()
    assert note.startswith("### netpipe diff --offline: intended configs")
    assert "**1** changed, **9** unchanged\n" in note and "unreachable" not in note
    assert "#### Blast radius since" in note and "No device was contacted" in note
    assert (root / "build/diff/hq-edge1.diff").exists()
    assert sorted(p.name for p in (root / "build/diff").glob("*.diff")) == ["hq-edge1.diff"]


def test_cli_json(tmp_path: Path, no_credentials: None,
                  capsys: pytest.CaptureFixture[str]) -> None:
    root = repo(tmp_path / "net")
    edit(root, "intent/topology.yaml", "description: Internet transit",
         "description: Internet transit (AS64496)")
    code = main(["diff", "--offline", "--base", "HEAD", "--root", str(root), "--format", "json",
                 "--limit", "hq-edge1,wh-core1"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert sorted(data["hosts"]) == ["hq-edge1", "wh-core1"]
    assert data["hosts"]["hq-edge1"]["changed"] and not data["hosts"]["wh-core1"]["changed"]
    assert data["offline"] is True and data["blast_radius"]["devices_changed"] == ["hq-edge1"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--offline"], "--offline needs --base REV"),
    (["--offline", "--base", "HEAD", "--lab"], "contacts no device"),
    (["--offline", "--base", "nope"], "unknown revision"),
])
def test_cli_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                      message: str) -> None:
    root = repo(tmp_path / "net")
    assert main(["diff", "--root", str(root), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (root / "build").exists()


def test_cli_reports_findings_and_writes_nothing(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    root = repo(tmp_path / "net")
    edit(root, "intent/sites/hq.yaml", "{id: 230, name: GUEST-WIFI, zone: guest",
         "{id: 230, name: GUEST-WIFI, zone: guests")
    assert main(["diff", "--offline", "--base", "HEAD", "--root", str(root)]) == 1
    assert "NP116" in capsys.readouterr().out
    assert not (root / "build").exists()
