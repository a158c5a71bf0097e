"""NAT at an uplink, offline: what the ruleset says and what the lab's probes expect
(the packets themselves are in tests/lab/test_lab.py)."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

from pipeline.build import build
from pipeline.lab.plan import plan
from pipeline.verify.probes import plan_probes
from tests.conftest import REPO, copy_example


def test_masquerade_renders_and_passes_nft_check(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "net")
    topo = root / "intent/topology.yaml"
    topo.write_text(topo.read_text().replace("source: 203.0.113.1", "source: masquerade"))
    result = build(root)  # with lint: nft --check of every ruleset
    assert result.ok, result.findings
    ruleset = result.rendered["hq-edge1"].files["nftables.conf"]
    assert '\t\toifname "eth2" ip saddr @internal masquerade comment "source nat"\n' in ruleset
    assert "snat" not in ruleset


def test_a_pool_prefix_is_a_range_and_nat_only_where_the_uplink_is(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "net")
    topo = root / "intent/topology.yaml"
    topo.write_text(topo.read_text().replace("source: 203.0.113.1", "source: 203.0.113.0/30"))
    result = build(root)
    assert result.ok, result.findings
    assert "snat ip to 203.0.113.0-203.0.113.3 " in result.rendered["hq-edge1"].files[
        "nftables.conf"]
    for other in ("gent-core1", "hq-core1", "wh-core1"):
        assert "type nat" not in result.rendered[other].files["nftables.conf"]


def test_from_outside_probes_go_to_the_published_address_only() -> None:
    result = build(REPO, run_lint=False)
    assert result.ok and result.intent is not None
    fw = result.devices["hq-edge1"].firewall
    assert fw is not None
    probes = plan_probes(fw, plan(result.intent, result.devices, "x-"))
    inbound = [p for p in probes if p.src.name == "x-isp"]
    published = [p for p in inbound if p.expect]
    assert [(p.dst.name, p.port, p.via, p.decided_by) for p in published] == [
        ("g-wms", 443, IPv4Address("203.0.113.10"), "suppliers-reach-portal")]
    assert len(inbound) > 5 and all(p.via is None for p in inbound if not p.expect)
