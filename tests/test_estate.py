"""The benchmark's generated estate is valid netpipe intent, and the same every time."""

from __future__ import annotations

from collections.abc import Callable
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


def _changed(root: Path, change: Callable[[], None]) -> list[str]:
    before = build(root, run_lint=False)
    change()
    after = build(root, run_lint=False)
    assert before.ok and after.ok, "\n".join(map(str, after.findings))
    return sorted(h for h, r in after.rendered.items() if r.files != before.rendered[h].files)


def test_one_vlan_changes_only_its_site_where_zones_are_aggregated(tmp_path: Path) -> None:
    """Zones that declare their aggregate: a VLAN added at one site changes its core (the
    gateway) and the switch its trunk reaches, and no other router's ruleset."""
    root = generate(tmp_path / "net", 102, "zone").root
    assert _changed(root, lambda: add_vlan(root, site=4)) == ["s0005-core1", "s0005-sw1"]


def test_without_aggregates_every_router_learns_the_vlan(tmp_path: Path) -> None:
    """The contrast: zones made of every site's own /24 change every router's sets."""
    estate = generate(tmp_path / "net", 102, "site")
    changed = _changed(estate.root, lambda: add_vlan(estate.root, site=4, plan="site"))
    assert len(changed) == estate.routers + 1  # every router, and the switch


def test_rulesets_and_acls_do_not_grow_with_the_estate(tmp_path: Path) -> None:
    small = build(generate(tmp_path / "small", 42).root, run_lint=False)
    large = build(generate(tmp_path / "large", 162).root, run_lint=False)
    for host in ("s0001-core1", "s0001-sw2"):
        assert small.rendered[host].files == large.rendered[host].files


def test_the_benchmark_floor_renders_every_shipped_template(tmp_path: Path) -> None:
    """The raw floor of `make bench` (libyaml + plain Jinja) renders the shipped templates
    with the filters they use: a filter added to netpipe's environment only would break the
    benchmark, not the suite."""
    from benchmarks.bench_estate import floor

    estate = generate(tmp_path / "net", 22)
    figures = floor(estate.root)
    assert set(figures) == {"load", "render", "floor"}


def test_the_benchmark_builds_the_estate_as_the_cli_does(tmp_path: Path) -> None:
    """`make bench` compares `build` without lint (the rules alongside the design) with the
    floor: it must build a clean estate, or the bench dies after minutes."""
    from benchmarks.bench_estate import built

    figures = built(generate(tmp_path / "net", 22).root)
    assert set(figures) == {"build", "cpu_build"} and figures["cpu_build"] > 0
