"""What the access-layer and routing checks accept, and what the accepted intent renders to
(the refusals are error cases in tests/errors/)."""

from __future__ import annotations

from pathlib import Path

from pipeline.build import build
from pipeline.intent.access import trunks, uplink_path
from tests.test_errors import apply_edits


def _built(network: Path, edits: dict[str, list[dict[str, str]]]) -> dict[str, dict[str, str]]:
    apply_edits(network, edits)
    result = build(network, run_lint=False)
    assert result.ok, "\n".join(map(str, result.findings))
    return {h: r.files for h, r in result.rendered.items()}


def test_each_switch_finds_its_own_path_to_its_gateway(network: Path) -> None:
    result = build(network, run_lint=False)
    assert result.intent is not None
    graph = trunks(result.intent)
    hq = result.intent.sites["hq"]
    path = uplink_path(graph, "hq-sw2", hq)
    assert path is not None
    assert [(t.link.a.port, t.link.b.port) for t in path] == [
        ("hq-sw1:GigabitEthernet1/0/47", "hq-sw2:GigabitEthernet1/0/48"),
        ("hq-core1:eth4", "hq-sw1:GigabitEthernet1/0/48")]


def test_router_access_takes_an_address_group(network: Path) -> None:
    """A group narrows router access to its addresses (it used to be refused as an
    unknown zone, with a hint naming a zone)."""
    files = _built(network, {"intent/firewall.yaml": [
        {"replace": "  ssh: [mgmt]\n", "with": "  ssh: [mgmt, infra-services]\n"}]})
    ruleset = files["hq-core1"]["nftables.conf"]
    assert 'ip saddr { 10.2.20.8/29 } tcp dport 22 accept comment "router access"' in ruleset
    assert 'ip saddr @z_mgmt tcp dport 22 accept comment "router access"' in ruleset


def _ospf_lines(frr_conf: str, interface: str) -> list[str]:
    block = frr_conf.split(f"interface {interface}\n", 1)[1].split("exit", 1)[0]
    return [x.strip() for x in block.splitlines() if "ospf" in x]


def test_ospf_links_are_point_to_point_whatever_their_prefix(network: Path) -> None:
    """A /29 between two routers is still a two-ended link: point-to-point by default, as
    docs/intent.md says (it used to render as broadcast above /30)."""
    files = _built(network, {"intent/topology.yaml": [
        {"replace": "subnet: 10.255.0.6/31", "with": "subnet: 10.255.0.8/29"}]})
    assert "ip ospf network point-to-point" in _ospf_lines(files["hq-edge1"]["frr.conf"], "eth1")
    assert "ip ospf network point-to-point" in _ospf_lines(files["hq-core1"]["frr.conf"], "eth3")


def test_ospf_network_broadcast_is_a_choice_per_link(network: Path) -> None:
    files = _built(network, {"intent/topology.yaml": [
        {"replace": "ospf: {area: 0, cost: 1}, description: HQ core to edge",
         "with": "ospf: {area: 0, cost: 1, network: broadcast}, description: HQ core to edge"}]})
    for host, port in (("hq-edge1", "eth1"), ("hq-core1", "eth3")):
        lines = _ospf_lines(files[host]["frr.conf"], port)
        assert "ip ospf area 0.0.0.0" in lines and "ip ospf network point-to-point" not in lines
    assert "ip ospf network point-to-point" in _ospf_lines(files["hq-core1"]["frr.conf"], "eth1")


def test_a_native_vlan_between_two_switches_is_rendered(network: Path) -> None:
    files = _built(network, {"intent/topology.yaml": [
        {"replace": 'vlans: "210,230,299"}', "with": 'vlans: "210,230,299", native_vlan: 299}'}]})
    for host in ("hq-sw1", "hq-sw2"):
        assert " switchport trunk native vlan 299\n" in files[host]["running.conf"]
