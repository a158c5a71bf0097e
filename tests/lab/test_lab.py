"""The lab end to end: build it, push the rendered configs, verify routing and the
firewall with real packets, and see a removed rule as exactly the flows it allowed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import napalm
import pytest

from pipeline.build import build
from pipeline.cli import main
from pipeline.lab import lab, netns
from pipeline.verify.checks import expectations
from pipeline.verify.run import verify
from tests.conftest import copy_example
from tests.lab.conftest import PREFIX, Lab

pytestmark = pytest.mark.lab


def root_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def run_verify(the_lab: Lab, intent_build: object | None = None) -> object:
    result = the_lab.build
    assert result.intent is not None
    drivers = {d: the_lab.driver(d) for d in the_lab.plan.routers}
    firewall = next(d.firewall for d in result.devices.values() if d.firewall)
    try:
        return verify(expectations(result.intent, result.devices), drivers.__getitem__,
                      wait=40, lab=the_lab.plan, firewall=firewall)
    finally:
        for drv in drivers.values():
            drv.close()


def test_lab_has_every_frr_device_peer_and_host(example_lab: Lab) -> None:
    p = example_lab.plan
    assert sorted(p.routers) == ["gent-core1", "hq-core1", "hq-edge1", "wh-core1"]
    assert {x.name for x in p.peers} == {"isp", "cloud-vpn"}
    st = lab.status(p)
    assert st.complete
    # two hosts per VLAN (16 VLANs), one per address group, one behind each peer
    assert len(p.hosts) == 16 * 2 + 5 + 2


def _links(ns: str) -> dict[str, dict[str, object]]:
    out = netns.run(["ip", "-n", ns, "-j", "addr", "show"]).stdout
    return {link["ifname"]: link for link in json.loads(out)}


def test_routers_are_bare_boxes(example_lab: Lab) -> None:
    """Only the cabling: physical ports carrying the intent's names (and, this kernel having
    no 802.1Q, one wire per VLAN a trunk carries), all down, no address, no forwarding."""
    ns = example_lab.plan.routers["gent-core1"]
    links = _links(ns)
    assert set(links) == {"lo", "eth1", "eth2", "eth3", "eth4", "eth3v110", "eth3v120",
                          "eth3v130", "eth3v199", "eth4v140", "eth4v150", "eth4v160",
                          "eth4v170", "eth4v198"}
    for name, link in links.items():
        if name != "lo":
            assert "UP" not in link["flags"] and link["addr_info"] == [], name  # type: ignore
    forwarding = netns.ns_exec(ns, ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip()
    assert forwarding == "0"


def test_no_link_to_the_root_namespace(example_lab: Lab) -> None:
    before = root_links()
    for ns in example_lab.plan.namespaces:
        out = netns.run(["ip", "-n", ns, "-j", "link", "show", "type", "veth"]).stdout
        for link in json.loads(out):
            # every veth's peer lives in another namespace of the lab, never in ours
            assert "link_netnsid" in link, f"{ns} {link['ifname']} has its peer in the root ns"
    assert not any(name.startswith(("eth3.", "r1", "ph")) for name in before)


def test_up_is_idempotent(example_lab: Lab) -> None:
    assert lab.up(example_lab.plan, example_lab.secrets) is False


def test_routers_start_unconfigured(example_lab: Lab) -> None:
    drv = example_lab.driver("hq-edge1")
    try:
        assert "router bgp" not in drv.get_config(retrieve="running")["running"]
    finally:
        drv.close()


def test_status_json_opens_a_router(example_lab: Lab, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETPIPE_LAB_PREFIX", PREFIX)
    assert main(["lab", "status", "--root", str(example_lab.root), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["up"] is True
    entry = data["devices"]["hq-core1"]
    assert entry["namespace"] == f"{PREFIX}hq-core1"
    assert Path(entry["vty_socket"], "zebra.vty").exists()
    params = entry["napalm"]
    drv = napalm.get_network_driver(params["driver"])(params["hostname"], "", "",
                                                      optional_args=params["optional_args"])
    drv.open()
    try:
        assert drv.get_facts()["vendor"] == "FRRouting"
    finally:
        drv.close()


def test_push_then_verify_passes(example_lab: Lab) -> None:
    """The first deploy makes every interface the intent gives a router, with its address."""
    example_lab.push()
    for device, ns in example_lab.plan.routers.items():
        links = _links(ns)
        for iface in example_lab.build.devices[device].interfaces:
            assert iface.name in links, (device, iface.name)
            if iface.address is not None:
                assert str(iface.address.ip) in str(links[iface.name]["addr_info"]), iface
            assert "UP" in links[iface.name]["flags"] or iface.mode == "unused"  # type: ignore
    report = run_verify(example_lab)
    assert report.ok, report.text()  # type: ignore[attr-defined]
    kinds = {c.kind for c in report.checks}  # type: ignore[attr-defined]
    assert kinds == {"ospf", "bgp", "route"}
    probes = report.probes  # type: ignore[attr-defined]
    assert sum(r.probe.expect for r in probes) > 50 and sum(not r.probe.expect for r in probes) > 50


def test_removed_rule_fails_exactly_its_flows(example_lab: Lab, tmp_path: Path) -> None:
    root = copy_example(tmp_path / "net")
    fw = root / "intent/firewall.yaml"
    text = fw.read_text()
    rule = "  - name: scanners-to-wms\n    from: scanners\n    to: wms\n    services: https\n"
    assert rule in text
    fw.write_text(text.replace(rule, ""))
    without = build(root, run_lint=False)
    assert without.ok
    try:
        example_lab.push(without)
        report = run_verify(example_lab)
        failed = [r for r in report.probes if not r.ok]  # type: ignore[attr-defined]
        assert failed, "removing a rule must show in the probes"
        assert {r.probe.decided_by for r in failed} == {"scanners-to-wms"}
        assert {(r.probe.src.zone, r.probe.dst.zone) for r in failed} == {("scanners", "servers")}
        assert all(r.probe.expect and not r.passed for r in failed)
        assert {r.seen for r in failed} == {"no answer"}  # the firewall drops, silently
        assert "✗" in report.text()  # type: ignore[attr-defined]
    finally:
        example_lab.push()


def test_cli_verify_lab(example_lab: Lab, capsys: pytest.CaptureFixture[str],
                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETPIPE_LAB_PREFIX", PREFIX)
    code = main(["verify", "--lab", "--root", str(example_lab.root), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert out["ok"] is True and out["errors"] == {}
    assert all(p["ok"] for p in out["probes"])
