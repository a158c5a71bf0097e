"""Hostile YAML: bombs and limits, tags, YAML 1.1 numbers and oversized ranges."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.harness import LONG, Case, Net, cases_ids, run

ROUTING = "intent/routing.yaml"
HQ = "intent/sites/hq.yaml"
TOPOLOGY = "intent/topology.yaml"
FIREWALL = "intent/firewall.yaml"
NETWORK = "intent/network.yaml"
HOSTS = "inventory/hosts.yaml"


def append(rel: str, text: str) -> object:
    return lambda net: net.append(rel, text)


def replace(rel: str, old: str, new: str) -> object:
    return lambda net: net.replace(rel, old, new)


def _laughs(net: Net) -> None:
    lines = ['bomb0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"bomb{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    net.append(ROUTING, "\n".join(lines) + "\n")


def _merge_fanout(net: Net) -> None:
    lines = ["m0: &m0 {k0: 1}"]
    for i in range(1, 25):
        lines.append(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: 1}}")
    net.append(ROUTING, "\n".join(lines) + "\n")


def _merge_chain(net: Net) -> None:
    lines = ["c0: &c0 {k: 1}"]
    for i in range(1, 100):
        lines.append(f"c{i}: &c{i} {{<<: *c{i - 1}}}")
    net.append(ROUTING, "\n".join(lines) + "\n")


def _alias_key(net: Net) -> None:
    _laughs(net)
    net.append(ROUTING, "? *a9\n: keyed-by-a-bomb\n")


def _big_file(net: Net) -> None:
    net.append(ROUTING, "# " + "x" * (1024 * 1024) + "\n")


CASES = [
    # -- bombs and limits
    Case("depth-2000-lists", "2,000-deep nesting of lists", append(ROUTING, "deep: " + "[" * 2000
         + "]" * 2000 + "\n"), "NP005", ROUTING, "deep:"),
    Case("depth-2000-maps", "2,000-deep nesting of mappings",
         append(ROUTING, "deep: " + "{a: " * 2000 + "1" + "}" * 2000 + "\n"), "NP005", ROUTING,
         "deep:"),
    Case("depth-block", "deep block nesting", append(ROUTING, "deep:\n" + "".join(
        "  " * i + f"k{i}:\n" for i in range(1, 80)) + "  " * 80 + "v: 1\n"), "NP005", ROUTING,
         "k64:"),
    Case("billion-laughs", "9^9 strings from nine anchors", _laughs, "NP005", ROUTING, "bomb"),
    Case("alias-bomb-key", "an alias bomb used as a mapping key", _alias_key, "NP011", ROUTING,
         "? *a9"),
    Case("merge-fanout", "merge keys doubling 24 times (linear: each source expanded once)",
         _merge_fanout, "NP010", ROUTING, "m0:"),
    Case("merge-self", "a merge key that refers to its own mapping",
         append(ROUTING, "loop: &loop {<<: *loop, k: 1}\n"), "NP005", ROUTING, "loop:"),
    Case("merge-chain", "merge keys chained 100 deep", _merge_chain, "NP010", ROUTING, "c0:"),
    Case("merge-scalar", "a merge key on a scalar", append(ROUTING, "s: &s 1\nm: {<<: *s}\n"),
         "NP001", ROUTING, "m: {<<"),
    Case("merge-many-sources", "one merge key naming the same source 20,000 times",
         append(ROUTING, "s: &s {" + ", ".join(f"k{i}: {i}" for i in range(50)) + "}\n"
                "mm: {<<: [" + ", ".join(["*s"] * 20_000) + "]}\n"), "NP010", ROUTING, "mm:"),
    Case("alias-recursive", "an alias inside its own anchor",
         append(ROUTING, "r: &r [1, *r]\n"), "NP005", ROUTING, "r: &r"),
    Case("alias-unknown", "an alias to no anchor", append(ROUTING, "u: *nothing\n"), "NP001",
         ROUTING, "u: *nothing"),
    Case("long-key", "a 10,000-character mapping key (over YAML's own 1024)",
         append(ROUTING, "k" * 10_000 + ": 1\n"), "NP001", ROUTING, "kkkk"),
    Case("long-key-payload", "a long key whose text must not be echoed",
         append(ROUTING, LONG + ": 1\n"), "NP005", ROUTING, LONG[:20]),
    Case("huge-file", "an intent file over 1 MiB", _big_file, "NP003", ROUTING, 1),
    Case("two-documents", "a second YAML document", append(ROUTING, "---\nospf: {}\n"), "NP001",
         ROUTING, "---"),
    Case("syntax-payload", "a syntax error after a long line",
         append(ROUTING, f"bad: [{LONG}\nnext: 1\n"), "NP001", ROUTING, "next: 1"),
    Case("unknown-key-payload", "an unknown key with a long name",
         append(ROUTING, LONG[:120] + ": 1\n"), "NP010", ROUTING, LONG[:20]),
    # -- tags
    Case("tag-python-name", "!!python/name: to reach os.system",
         append(ROUTING, "x: !!python/name:os.system ''\n"), "NP007", ROUTING, "x: !!python"),
    Case("tag-python-apply", "!!python/object/apply: to run a command",
         append(ROUTING, "x: !!python/object/apply:os.system ['id']\n"), "NP007", ROUTING,
         "x: !!python"),
    Case("tag-binary-interface", "an interface name with a newline through !!binary",
         replace(HOSTS, "interfaces: [eth1, eth2, eth3, eth4]\n    loopback: 10.255.255.1/32",
                 "interfaces: [eth1, eth2, !!binary ZXRoMwppbnRlcmZhY2UgZXZpbA==, eth4]\n"
                 "    loopback: 10.255.255.1/32"), "NP007", HOSTS, "!!binary"),
    Case("tag-custom-include", "a custom !include tag naming a file outside",
         append(ROUTING, "x: !include /etc/passwd\n"), "NP007", ROUTING, "!include"),
    Case("tag-timestamp", "!!timestamp", append(ROUTING, "x: !!timestamp 2001-12-14\n"), "NP007",
         ROUTING, "!!timestamp"),
    Case("tag-set", "!!set on a mapping", append(ROUTING, "x: !!set {a, b}\n"), "NP007",
         ROUTING, "!!set"),
    Case("tag-bad-int", "!!int on text", append(ROUTING, "x: !!int twelve\n"), "NP008", ROUTING,
         "!!int"),
    # -- YAML 1.1 numbers
    Case("number-octal", "VLAN id 0322 (YAML 1.1: 210)",
         replace(HQ, "{id: 220, name: SERVERS", "{id: 0322, name: SERVERS"), "NP008", HQ,
         "0322"),
    Case("number-hex", "VLAN id 0xD2 (YAML 1.1: 210)",
         replace(HQ, "{id: 220, name: SERVERS", "{id: 0xD2, name: SERVERS"), "NP008", HQ, "0xD2"),
    Case("number-octal-1.2", "VLAN id 0o322", replace(HQ, "{id: 220, name: SERVERS",
                                                      "{id: 0o322, name: SERVERS"), "NP008",
         HQ, "0o322"),
    Case("number-cost-octal", "OSPF cost 0100 (YAML 1.1: 64)",
         replace(TOPOLOGY, "ospf: {area: 0, cost: 100}", "ospf: {area: 0, cost: 0100}"),
         "NP008", TOPOLOGY, "cost: 0100"),
    Case("number-sexagesimal", "OSPF cost 1:40 (YAML 1.1: 100)",
         replace(TOPOLOGY, "ospf: {area: 0, cost: 100}", "ospf: {area: 0, cost: 1:40}"),
         "NP011", TOPOLOGY, "cost: 1:40"),
    Case("number-float", "VLAN id 210.0", replace(HQ, "{id: 210, name: OFFICE",
                                                  "{id: 210.0, name: OFFICE"), "NP011", HQ,
         "210.0"),
    Case("number-exponent", "ASN 6.5e4", replace(NETWORK, "asn: 65000", "asn: 6.5e4"), "NP011",
         NETWORK, "asn:"),
    Case("number-quoted", "VLAN id '210' as text", replace(HQ, "{id: 210, name: OFFICE",
                                                          "{id: '210', name: OFFICE"), "NP011",
         HQ, "'210'"),
    Case("number-bool", "VLAN id true", replace(HQ, "{id: 210, name: OFFICE",
                                                "{id: true, name: OFFICE"), "NP011", HQ,
         "id: true"),
    Case("number-huge", "a 40-digit VLAN id", replace(HQ, "{id: 210, name: OFFICE",
                                                      "{id: " + "9" * 40 + ", name: OFFICE"),
         "NP008", HQ, "9999"),
    Case("number-inf", "VLAN id .inf", replace(HQ, "{id: 210, name: OFFICE",
                                               "{id: .inf, name: OFFICE"), "NP011", HQ, ".inf"),
    Case("number-underscore", "VLAN id 2_10 (YAML 1.1: 210)",
         replace(HQ, "{id: 210, name: OFFICE", "{id: 2_10, name: OFFICE"), "NP011", HQ, "2_10"),
    Case("number-spf-octal", "an SPF timer 0500 in a list",
         replace(ROUTING, "spf_throttle: [0, 50, 500]", "spf_throttle: [0, 50, 0500]"), "NP008",
         ROUTING, "0500"),
    Case("bool-yes", "log: yes (YAML 1.1 true)",
         replace(FIREWALL, "action: deny\n    log: true", "action: deny\n    log: yes"), "NP011",
         FIREWALL, "log: yes"),
    Case("number-key-octal", "a mapping key 0322", append(ROUTING, "0322: x\n"), "NP008",
         ROUTING, "0322"),
    # -- ranges bounded by the platform, checked before expansion
    Case("range-vlans-huge", "a trunk carrying VLANs 1-2000000000",
         replace(TOPOLOGY, 'vlans: "310,320,399"', 'vlans: "1-2000000000"'), "NP112", TOPOLOGY,
         "1-2000000000"),
    Case("range-vlans-reversed", "a reversed trunk range",
         replace(TOPOLOGY, 'vlans: "310,320,399"', 'vlans: "399-310"'), "NP112", TOPOLOGY,
         "399-310"),
    Case("range-ports-2000", "access ports GigabitEthernet1/0/1-2000",
         replace(HQ, "interfaces: GigabitEthernet1/0/1-40, vlan: 210",
                 "interfaces: GigabitEthernet1/0/1-2000, vlan: 210"), "NP011", HQ, "1-2000"),
    Case("range-ports-huge-number", "a port range to a 30-digit port",
         replace(HQ, "interfaces: GigabitEthernet1/0/1-40, vlan: 210",
                 "interfaces: GigabitEthernet1/0/1-" + "9" * 30 + ", vlan: 210"), "NP011", HQ,
         "9999"),
    Case("range-inventory-ports", "a switch with 99,999,999 ports in the inventory",
         replace(HOSTS, "C9200-24P, interfaces: [GigabitEthernet1/0/1-48]",
                 "C9200-24P, interfaces: [GigabitEthernet1/0/1-99999999]"), "NP011", HOSTS,
         "99999999"),
    Case("port-70000", "a service on tcp/70000",
         replace(FIREWALL, "modbus: tcp/502", "modbus: tcp/70000"), "NP011", FIREWALL,
         "tcp/70000"),
    Case("port-reversed", "a service on tcp/5000-100",
         replace(FIREWALL, "modbus: tcp/502", "modbus: tcp/5000-100"), "NP011", FIREWALL,
         "tcp/5000-100"),
    Case("port-zero", "a service on udp/0", replace(FIREWALL, "modbus: tcp/502", "modbus: udp/0"),
         "NP011", FIREWALL, "udp/0"),
]


@pytest.mark.parametrize("case", CASES, ids=cases_ids(CASES))
def test_hostile_yaml(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    assert run(case, tmp_path, monkeypatch, capsys).exit in (1, 2)  # refused, never a bug (5)
