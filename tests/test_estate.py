"""The benchmark's generated estate is valid netpipe intent, and the same every time."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.estate import add_vlan, generate
from pipeline.build import build


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("plan", ["zone", "site"])
def test_the_generated_estate_validates_clean(tmp_path: Path, plan: str) -> None:
    estate = generate(tmp_path / "net", 42, plan)
    assert (estate.sites, estate.devices, estate.routers, estate.switches) == (4, 42, 6, 36)
    result = build(estate.root)
    assert result.findings == [], "\n".join(map(str, result.findings))
    assert len(result.rendered) == 42
    platforms = sorted(r.platform for r in result.rendered.values())
    assert platforms.count("frr") == 6 and platforms.count("ios") == 36
    hub = result.devices["hub1"]
    assert len([i for i in hub.interfaces if i.mode == "routed"]) == 4 + 1 + 1  # sites, hub2, ISP
    assert result.devices["s0004-sw9"].site == "s0004"


def test_the_estate_is_deterministic(tmp_path: Path) -> None:
    first, second = generate(tmp_path / "a", 32), generate(tmp_path / "b", 32)
    assert _files(first.root) == _files(second.root)
    assert len(_files(first.root)) == 4 + 4 + 3 + 1  # intent, sites (dc + 3), inventory, hosts


@pytest.mark.parametrize("plan", ["zone", "site"])
def test_a_vlan_added_by_the_benchmark_is_valid(tmp_path: Path, plan: str) -> None:
    estate = generate(tmp_path / "net", 22, plan)
    add_vlan(estate.root, site=1, plan=plan)
    result = build(estate.root, run_lint=False)
    assert result.ok, "\n".join(map(str, result.findings))
    core = result.devices["s0002-core1"]
    assert any(i.vlan == 95 for i in core.interfaces)
    assert 95 in {v.id for v in result.devices["s0002-sw1"].vlans}


def test_the_estate_has_a_size_limit(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at most 1024 sites"):
        generate(tmp_path / "net", 10_300)
