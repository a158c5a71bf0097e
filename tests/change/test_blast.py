"""Blast radius against real git repositories built from the example network."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pipeline.build import build
from pipeline.change.blast import BlastError, BlastRadius, Change, blast_radius
from tests.conftest import copy_example

ROUTERS = ("gent-core1", "hq-core1", "hq-edge1", "wh-core1")
SWITCHES = ("gent-sw-line1", "gent-sw-line2", "gent-sw-office", "hq-sw1", "hq-sw2", "wh-sw1")
WH_SW2_HOST = """wh-sw2:
  hostname: 10.3.99.12
  groups: [ios, warehouse]
  data: {role: access, model: C9200-24P, interfaces: [GigabitEthernet1/0/1-48]}
"""
WH_SW2_SITE = """  wh-sw2:
    management: {vlan: 399, address: 10.3.99.12/24}
    ports:
      - {interfaces: GigabitEthernet1/0/1-40, vlan: 320}
"""
WH_SW2_TRUNK = ('  - {a: wh-sw1:GigabitEthernet1/0/47, b: wh-sw2:GigabitEthernet1/0/48, '
                'kind: trunk, vlans: "320,399"}\n')
NEW_VLAN = "  - {id: 330, name: QA-LAB, zone: scanners, subnet: 10.3.30.0/24}\n"


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid",
         "-c", "commit.gpgsign=false", "-C", str(root), *args],
        check=True, capture_output=True, text=True).stdout


def commit_all(path: Path) -> Path:
    """A fresh repository at ``path`` whose only commit holds everything under it."""
    git(path, "init", "-q", "-b", "main")
    git(path, "add", ".")
    git(path, "commit", "-qm", "example network")
    return path


def repo(path: Path) -> Path:
    """The example network as the only commit of a fresh repository."""
    return commit_all(copy_example(path))


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def by_file(radius: BlastRadius) -> dict[str, list[Change]]:
    result: dict[str, list[Change]] = {}
    for change in radius.changes:
        result.setdefault(change.file, []).append(change)
    return result


def add_qa_vlan(root: Path) -> None:
    edit(root, "intent/sites/warehouse.yaml", "  - {id: 399, name: MGMT",
         NEW_VLAN + "  - {id: 399, name: MGMT")
    edit(root, "intent/topology.yaml", 'vlans: "310,320,399"', 'vlans: "310,320,330,399"')


def test_new_vlan_reaches_its_site_and_every_router(tmp_path: Path) -> None:
    root = repo(tmp_path / "net")
    add_qa_vlan(root)
    radius = blast_radius(root, "HEAD")
    assert radius.base == git(root, "rev-parse", "HEAD").strip()
    # wh-core1 gains subinterface eth3.330 and wh-sw1 the VLAN on its trunk. Every frr
    # router renders the same firewall, whose set z_scanners gains 10.3.30.0/24, so all
    # four routers change; no other switch carries VLAN 330 or the scanners zone.
    assert radius.devices_changed == ("gent-core1", "hq-core1", "hq-edge1", "wh-core1", "wh-sw1")
    files = by_file(radius)
    assert sorted(files) == ["intent/sites/warehouse.yaml", "intent/topology.yaml"]
    [vlan] = files["intent/sites/warehouse.yaml"]
    assert (vlan.lines, vlan.kind) == ((10, 10), "added")
    assert vlan.summary == NEW_VLAN.strip()
    assert {"wh-sw1", "wh-core1"} <= set(vlan.devices) and "hq-sw1" not in vlan.devices
    assert vlan.devices == radius.devices_changed  # routers depend on every intent file
    [trunk] = files["intent/topology.yaml"]
    assert (trunk.lines, trunk.kind) == ((14, 14), "modified")
    assert trunk.devices == radius.devices_changed
    assert (radius.devices_added, radius.devices_removed, radius.untraced, radius.note) == \
           ((), (), (), "")


def test_description_reaches_only_the_switch_it_describes(tmp_path: Path) -> None:
    root = repo(tmp_path / "net")
    edit(root, "intent/sites/hq.yaml", "description: Offices floor 0",
         "description: Offices ground floor")
    radius = blast_radius(root, "main")
    assert radius.devices_changed == ("hq-sw1",)
    [change] = radius.changes
    assert (change.file, change.lines, change.kind, change.devices) == \
           ("intent/sites/hq.yaml", (17, 17), "modified", ("hq-sw1",))
    # 80 characters at most, cut around what changed
    assert change.summary == \
           "…erfaces: GigabitEthernet1/0/9-40, vlan: 210, description: Offices ground floor}"


def test_uncommitted_and_untracked_edits_count(tmp_path: Path) -> None:
    root = repo(tmp_path / "net")
    edit(root, "intent/sites/hq.yaml", "Offices floor 0", "Offices ground floor")
    git(root, "commit", "-qam", "hq description")
    edit(root, "intent/sites/warehouse.yaml", "description: Warehouse office",
         "description: Warehouse back office")
    (root / "templates/ios/_notes.j2").write_text("{# one #}\n{# two #}\n{# three #}\n")

    since_head = blast_radius(root, "HEAD")
    assert since_head.devices_changed == ("wh-sw1",)
    assert [(c.file, c.lines, c.kind, c.devices) for c in since_head.changes] == [
        ("intent/sites/warehouse.yaml", (16, 16), "modified", ("wh-sw1",)),
        # untracked, and included by nothing: no config changes, so it reaches nobody
        ("templates/ios/_notes.j2", (1, 3), "added", ()),
    ]
    since_first = blast_radius(root, "HEAD~1")
    assert since_first.devices_changed == ("hq-sw1", "wh-sw1")
    hq = by_file(since_first)["intent/sites/hq.yaml"]
    assert [c.devices for c in hq] == [("hq-sw1",)]


def test_unknown_revision_or_no_repository_is_a_clear_error(tmp_path: Path) -> None:
    root = repo(tmp_path / "net")
    with pytest.raises(BlastError, match="unknown revision 'no-such-branch'"):
        blast_radius(root, "no-such-branch")
    with pytest.raises(BlastError, match="not a revision"):
        blast_radius(root, "--output=/tmp/x")
    plain = copy_example(tmp_path / "plain")
    with pytest.raises(BlastError, match="not inside a git work tree"):
        blast_radius(plain, "HEAD")


def test_ios_template_reaches_only_ios_devices(tmp_path: Path) -> None:
    root = repo(tmp_path / "net")
    add_qa_vlan(root)  # changes the routers too, so the template's reach is a real filter
    edit(root, "templates/ios/running.conf.j2", "service password-encryption\n",
         "service password-encryption\nservice tcp-keepalives-in\n")
    radius = blast_radius(root, "HEAD")
    assert radius.devices_changed == tuple(sorted(ROUTERS + SWITCHES))
    template = by_file(radius)["templates/ios/running.conf.j2"]
    added = (root / "templates/ios/running.conf.j2").read_text().splitlines().index(
        "service tcp-keepalives-in") + 1
    assert [(c.lines, c.kind, c.devices) for c in template] == [
        ((added, added), "added", SWITCHES)]
    [vlan] = by_file(radius)["intent/sites/warehouse.yaml"]
    assert vlan.devices == ("gent-core1", "hq-core1", "hq-edge1", "wh-core1", "wh-sw1")


def test_line_numbers_of_every_kind_of_hunk(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "net")
    topology = root / "intent/topology.yaml"
    assert len(topology.read_text().splitlines()) == 47
    topology.write_text(topology.read_text() + "# end of topology\n")  # line 48 at base
    commit_all(root)
    lines = topology.read_text().splitlines(keepends=True)
    lines[0] = "# Links and uplinks.\n"  # 1: modified
    del lines[2]  # 3: the WAN comment goes; old 4 is now 3
    lines[7:7] = ["  # " + "x" * 200 + "\n", "  # two\n"]  # after the trunk comment
    del lines[-1]  # the last line goes: the file ends at 48 again
    topology.write_text("".join(lines))

    radius = blast_radius(root, "HEAD")
    assert [(c.lines, c.kind) for c in radius.changes] == [
        ((1, 1), "modified"), ((3, 3), "removed"), ((8, 9), "added"), ((48, 48), "removed")]
    assert [c.summary for c in radius.changes[:3]] == [
        "# Links and uplinks.",
        "# WAN: routed, OSPF area 0. The gent-warehouse link is the backup path.",
        "# " + "x" * 77 + "…"]  # cut to 80 characters
    assert radius.changes[3].summary == "# end of topology"
    assert radius.devices_changed == () and all(c.devices == () for c in radius.changes)


def test_deleted_file_and_broken_build_count_every_device(tmp_path: Path) -> None:
    root = repo(tmp_path / "net")
    git(root, "rm", "-q", "intent/sites/warehouse.yaml")  # its hosts now name no site
    radius = blast_radius(root, "HEAD")
    assert not build(root, run_lint=False).ok
    assert "working tree does not build" in radius.note
    assert radius.devices_changed == tuple(sorted(ROUTERS + SWITCHES))
    [change] = radius.changes
    assert (change.file, change.lines, change.kind) == \
           ("intent/sites/warehouse.yaml", (0, 0), "removed")
    assert change.summary == "# Warehouse: handheld scanners talk to the WMS at HQ."
    assert "`intent/sites/warehouse.yaml (deleted)`" in radius.markdown()


def test_base_that_does_not_build_keeps_the_mapping_by_sources(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "net")
    edit(root, "intent/sites/warehouse.yaml", "{id: 320, name: OFFICE", "{id: 4095, name: OFFICE")
    commit_all(root)
    edit(root, "intent/sites/warehouse.yaml", "{id: 4095, name: OFFICE", "{id: 320, name: OFFICE")
    edit(root, "templates/frr/frr.conf.j2", "frr defaults traditional\n",
         "{# a comment #}\nfrr defaults traditional\n")
    radius = blast_radius(root, "HEAD")
    assert radius.note.startswith("the intent at ") and "every device counts" in radius.note
    assert radius.devices_changed == tuple(sorted(ROUTERS + SWITCHES))
    site, template = radius.changes
    assert site.devices == ("gent-core1", "hq-core1", "hq-edge1", "wh-core1", "wh-sw1")
    assert (template.file, template.lines, template.devices) == \
           ("templates/frr/frr.conf.j2", (2, 2), ROUTERS)
    assert radius.untraced == ()


def test_change_outside_a_devices_sources_is_never_hidden(tmp_path: Path) -> None:
    # Every switch's management ACL lists every site's MGMT subnet, but a switch's
    # sources name only its own site file: the other switches are "untraced".
    root = repo(tmp_path / "net")
    edit(root, "intent/sites/warehouse.yaml", "subnet: 10.3.99.0/24", "subnet: 10.3.98.0/24")
    edit(root, "intent/sites/warehouse.yaml", "10.3.99.11/24", "10.3.98.11/24")
    radius = blast_radius(root, "HEAD")
    assert radius.devices_changed == tuple(sorted(ROUTERS + SWITCHES))
    assert radius.untraced == ("gent-sw-line1", "gent-sw-line2", "gent-sw-office", "hq-sw1",
                               "hq-sw2")
    assert all(c.devices == radius.devices_changed for c in radius.changes)
    assert "`hq-sw1`" in radius.markdown().split("sources` do not record")[1]


def test_network_in_a_subdirectory_and_added_device(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "repo" / "net")
    commit_all(tmp_path / "repo")
    hosts = root / "inventory/hosts.yaml"
    hosts.write_text(hosts.read_text() + WH_SW2_HOST)
    site = root / "intent/sites/warehouse.yaml"
    site.write_text(site.read_text() + WH_SW2_SITE)
    edit(root, "intent/topology.yaml", "\n\nuplinks:", f"\n{WH_SW2_TRUNK.rstrip()}\n\nuplinks:")
    current = build(root, run_lint=False)
    assert current.ok, current.findings
    radius = blast_radius(root, "HEAD", current)
    assert radius.devices_added == ("wh-sw2",) and radius.devices_removed == ()
    assert radius.devices_changed == ("wh-sw1", "wh-sw2")  # wh-sw1: its port 47 is the trunk
    assert [(c.file, c.lines, c.kind, c.devices) for c in radius.changes] == [
        ("intent/sites/warehouse.yaml", (17, 20), "added", ("wh-sw1", "wh-sw2")),
        ("intent/topology.yaml", (15, 15), "added", ("wh-sw1", "wh-sw2")),
        ("inventory/hosts.yaml", (58, 61), "added", ("wh-sw1", "wh-sw2")),
    ]


def test_markdown_and_json(tmp_path: Path) -> None:
    root = repo(tmp_path / "net")
    add_qa_vlan(root)
    edit(root, "intent/sites/hq.yaml", "description: Guest access points}\n  hq-sw2",
         "description: Guest | access `points`}\n  hq-sw2")
    radius = blast_radius(root, "HEAD")
    text = radius.markdown()
    assert text.startswith(f"#### Blast radius since `{radius.base[:12]}`")
    assert "| `intent/sites/warehouse.yaml:10` | added: `- {id: 330" in text
    assert "| `intent/topology.yaml:14` | modified: " in text
    row = next(x for x in text.splitlines() if "warehouse.yaml:10" in x)
    assert all(f"`{d}`" in row for d in ("wh-core1", "wh-sw1", *ROUTERS))
    assert "`hq-sw1`" not in row
    hq = next(x for x in text.splitlines() if "hq.yaml:18" in x)
    assert "Guest \\| access" in hq and "`` " in hq  # pipes escaped, backticks fenced
    data = json.loads(json.dumps(radius.as_dict()))
    assert data["changes"][0]["lines"] == [18, 18] and data["base"] == radius.base
    assert data["devices_changed"] == list(radius.devices_changed)
