"""The n·log n shadowing analysis gives the answers of the plain quadratic one.

The reference below is the rule-by-rule comparison NP119/NP120 used before (every later
flow against every earlier rule); Hypothesis draws firewalls over the example's zones,
random address groups, services and rule orders, and both must agree exactly.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from ipaddress import IPv4Network, collapse_addresses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.intent.derive import parse_service, zone_prefixes
from pipeline.intent.model import Firewall, Rule
from pipeline.intent.parse import Intent, parse
from pipeline.intent.shadow import shadowing
from tests.conftest import REPO

Space = tuple[bool, tuple[IPv4Network, ...]]


def _space(intent: Intent, name: str, zones: dict[str, list[IPv4Network]]) -> Space:
    group = intent.firewall.groups.get(name)
    if group is not None:
        return False, tuple(collapse_addresses(group.addresses))
    zone = intent.firewall.zones.get(name)
    if zone is not None and zone.default:
        return True, ()
    return False, tuple(zones.get(name, ()))


def _covers(big: Space, small: Space, internal: list[IPv4Network]) -> bool:
    if not small[0] and not small[1]:
        return False
    if small[0]:
        return big[0] or any(p.prefixlen == 0 for p in big[1])
    if big[0]:
        return all(not any(p.overlaps(i) for i in internal) for p in small[1])
    return all(any(p.subnet_of(q) for q in big[1]) for p in small[1])


def _port_covers(big: str, small: str) -> bool:
    b, s = parse_service(big), parse_service(small)
    if b.proto == "any":
        return True
    if b.proto != s.proto:
        return False
    return b.range[0] <= s.range[0] and s.range[1] <= b.range[1]


def reference(intent: Intent) -> Iterator[tuple[Rule, list[str], bool]]:
    fw = intent.firewall
    names = set(fw.zones) | set(fw.groups)
    zones = zone_prefixes(intent)
    internal = list(collapse_addresses(
        p for z, ps in zones.items() if not (fw.zones.get(z) and fw.zones[z].default) for p in ps))
    rules = [r for r in fw.rules
             if set(r.from_ + r.to) <= names and set(r.services) <= set(fw.services)]

    def flows(r: Rule) -> list[tuple[str, str, str]]:
        return [(s, d, spec) for s in r.from_ for d in r.to for svc in r.services
                for spec in fw.services.get(svc, [])]

    for j, later in enumerate(rules):
        if not flows(later):
            continue
        covering: list[Rule] = []
        for flow in flows(later):
            hit = next((e for e in rules[:j] for ef in flows(e)
                        if _covers(_space(intent, ef[0], zones), _space(intent, flow[0], zones),
                                   internal)
                        and _covers(_space(intent, ef[1], zones), _space(intent, flow[1], zones),
                                    internal)
                        and _port_covers(ef[2], flow[2])), None)
            if hit is None:
                break
            if hit not in covering:
                covering.append(hit)
        else:
            yield later, [e.name for e in covering], any(e.action != later.action
                                                         for e in covering)


@pytest.fixture(scope="module")
def example() -> Intent:
    intent, findings = parse(REPO)
    assert intent is not None, findings
    return intent


def _answers(found: Iterator[tuple[Rule, list[str], bool]]) -> list[tuple[str, list[str], bool]]:
    return [(r.name, earlier, opposite) for r, earlier, opposite in found]


def test_the_example_agrees(example: Intent) -> None:
    assert _answers(shadowing(example)) == _answers(reference(example))


SERVICES = {"web": ["tcp/80"], "webs": ["tcp/80-90"], "low": ["tcp/1-1000"], "tls": ["tcp/443"],
            "dns": ["udp/53", "tcp/53"], "ping": ["icmp"], "all": ["any"],
            "high": ["udp/1000-65535"]}
ADDRESSES = ["10.1.10.5/32", "10.1.10.0/25", "10.2.20.8/29", "10.2.20.10/32", "10.3.10.0/24",
             "10.255.255.1/32", "10.200.1.0/24", "0.0.0.0/0", "192.0.2.0/24"]
ZONES = ["ot-cell-line1", "office", "servers", "scanners", "infra", "cloud", "internet",
         "guest", "cameras"]


@st.composite
def firewalls(draw: Any) -> dict[str, Any]:
    groups = {f"g{i}": {"zone": draw(st.sampled_from(ZONES)),
                        "addresses": draw(st.lists(st.sampled_from(ADDRESSES), min_size=1,
                                                   max_size=3))}
              for i in range(draw(st.integers(0, 4)))}
    names = ZONES + list(groups)
    rules = [{"name": f"r{i}", "from": draw(st.lists(st.sampled_from(names), min_size=1,
                                                     max_size=3)),
              "to": draw(st.lists(st.sampled_from(names), min_size=1, max_size=3)),
              "services": draw(st.lists(st.sampled_from(sorted(SERVICES)), min_size=1,
                                        max_size=3)),
              "action": draw(st.sampled_from(["allow", "deny"]))}
             for i in range(draw(st.integers(1, 14)))]
    return {"groups": groups, "rules": rules}


@settings(deadline=None, database=None, max_examples=150, derandomize=bool(os.environ.get("CI")),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(firewalls())
def test_random_firewalls_agree(example: Intent, drawn: dict[str, Any]) -> None:
    data = {"services": SERVICES,
            "zones": {n: z.model_dump(by_alias=True, exclude={"src"})
                      for n, z in example.firewall.zones.items()},
            **drawn}
    intent = dataclasses.replace(example, firewall=Firewall.model_validate(data))
    assert _answers(shadowing(intent)) == _answers(reference(intent))
