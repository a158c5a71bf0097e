"""Hostile strings: control characters, encodings, invisible text, template syntax and
placeholders in every string that reaches a config (names, descriptions, banner, SNMP
fields, hostnames, interface names, mapping keys)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.harness import LONG, Case, Net, cases_ids, run

HQ = "intent/sites/hq.yaml"
GENT = "intent/sites/gent-plant.yaml"
TOPOLOGY = "intent/topology.yaml"
FIREWALL = "intent/firewall.yaml"
NETWORK = "intent/network.yaml"
ROUTING = "intent/routing.yaml"
HOSTS = "inventory/hosts.yaml"
GROUPS = "inventory/groups.yaml"

# Where a string reaches a config: (id, file, text written there today, how to rewrite it
# with a payload P given as YAML double-quoted content).
FIELDS = [
    ("vlan-name", HQ, "name: OFFICE,", 'name: "OFF{P}",'),
    ("vlan-description", HQ, "description: DNS NTP syslog TACACS NVR WMS}",
     'description: "DNS{P}"}'),
    ("site-description", HQ, "description: Head office", 'description: "Head{P}"'),
    ("port-description", HQ, "description: Servers}", 'description: "Servers{P}"}'),
    ("switch-name-key", HQ, "  hq-sw2:\n", '  "hq-sw2{P}":\n'),
    ("link-description", TOPOLOGY, "description: WAN gent-hq}", 'description: "WAN{P}"}'),
    ("link-interface", TOPOLOGY, "b: hq-core1:eth1,", 'b: "hq-core1:eth1{P}",'),
    ("uplink-interface", TOPOLOGY, "interface: eth2\n", 'interface: "eth2{P}"\n'),
    ("uplink-description", TOPOLOGY, "description: Internet transit",
     'description: "Internet{P}"'),
    ("banner", NETWORK, "banner: Authorised access only. Vandaele Foods network operations.",
     'banner: "Authorised{P} access only."'),
    ("snmp-location", NETWORK, "location: Vandaele Foods, Belgium", 'location: "Vandaele{P}"'),
    ("snmp-contact", NETWORK, "contact: noc@vandaele.example", 'contact: "noc{P}@x.example"'),
    ("domain", NETWORK, "domain: vandaele.example", 'domain: "vandaele{P}.example"'),
    ("tacacs-name", NETWORK, "- name: tac1", '- name: "tac1{P}"'),
    ("zone-key", FIREWALL, "  cameras: {description: IP cameras}",
     '  "cameras{P}": {description: IP cameras}'),
    ("service-key", FIREWALL, "  rtsp: tcp/554", '  "rtsp{P}": tcp/554'),
    ("prefix-list-key", ROUTING, "  INTERNAL-OUT:", '  "INTERNAL-OUT{P}":'),
    ("static-description", ROUTING, "description: public range}", 'description: "public{P}"}'),
    ("host-key", HOSTS, "wh-sw1:\n", '"wh-sw1{P}":\n'),
    ("hostname", HOSTS, "hostname: 10.3.99.11", 'hostname: "10.3.99.11{P}"'),
    ("inventory-interfaces", HOSTS, "interfaces: [eth1, eth2, eth3]\n    loopback: 10.255.255.3",
     'interfaces: [eth1, "eth2{P}", eth3]\n    loopback: 10.255.255.3'),
    ("model", HOSTS, "model: C9200-24P", 'model: "C9200{P}"'),
    ("group-site", GROUPS, "warehouse: {data: {site: warehouse}}",
     'warehouse: {data: {site: "warehouse{P}"}}'),
]

# (id, payload as YAML double-quoted escapes, expected code)
PAYLOADS = [
    ("newline", "\\n username evil privilege 15 secret x", "NP006"),
    ("cr", "\\r no aaa new-model", "NP006"),
    ("escape", "\\e[2J", "NP006"),
    ("nel", "\\N", "NP006"),
    ("line-separator", "\\L", "NP006"),
    ("nul", "\\0", "NP006"),
    ("bidi-override", "\\u202e", "NP006"),
    ("zero-width", "\\u200b", "NP006"),
    ("jinja-expression", "{{ 7*7 }}", "NP009"),
    ("jinja-statement", "{% include '/etc/passwd' %}", "NP009"),
    ("placeholder", "<secret:NETPIPE_PASSWORD>", "NP031"),
]

# Each field meets a few payloads (every field, every payload, in rotation) rather than
# all of them: the loader check is one function, the point is that it sees every field.
_MATRIX = [(f, PAYLOADS[(i * 3 + k) % len(PAYLOADS)]) for i, f in enumerate(FIELDS)
           for k in range(2)]


def _mutate(rel: str, old: str, new: str) -> object:
    return lambda net: net.replace(rel, old, new)


def _needle(new: str) -> str:
    return new.split("{P}")[0].strip().strip('"-').strip() or new


CASES = [
    Case(f"{fid}-{pid}", f"{pid} in {fid}", _mutate(rel, old, new.replace("{P}", payload)), code,
         rel, _needle(new))
    for (fid, rel, old, new), (pid, payload, code) in _MATRIX
]


def _write_bytes(rel: str, data: bytes) -> object:
    return lambda net: net.write(rel, data)


def _latin1(net: Net) -> None:
    text = net.text(HQ).replace("description: Head office", "description: Caf\xe9 office")
    net.write(HQ, text.encode("latin-1"))


def _utf16(net: Net) -> None:
    net.write(HQ, net.text(HQ).encode("utf-16"))


def _raw_control(net: Net) -> None:
    net.replace(HQ, "description: Head office", "description: Head\x1b[2Joffice")


def _raw_nul(net: Net) -> None:
    net.replace(HQ, "description: Head office", "description: Head\x00office")


def _raw_line_separator(net: Net) -> None:
    net.replace(HQ, "description: Head office", "description: Head\u2028office")


def _homoglyph(net: Net) -> None:
    net.replace(HQ, "name: OFFICE,", "name: OFF\u0406CE,")  # Cyrillic I


CASES += [
    Case("encoding-latin1", "a Latin-1 site file", _latin1, "NP004", HQ, "Caf"),
    Case("encoding-utf16", "a UTF-16 site file", _utf16, "NP004", HQ, 1),
    Case("raw-escape-sequence", "a raw terminal escape in a description", _raw_control, "NP006",
         HQ, "description: Head"),
    Case("raw-nul", "a raw NUL byte", _raw_nul, "NP006", HQ, "description: Head"),
    Case("raw-line-separator", "a raw U+2028 in a plain scalar", _raw_line_separator, "NP006",
         HQ, "description: Head"),
    Case("homoglyph-name", "a Cyrillic letter in a VLAN name", _homoglyph, "NP011", HQ, "OFF"),
    Case("overlong-description", "a description of 10,000 characters",
         _mutate(HQ, "description: Head office", "description: " + "x" * 10_000), "NP011", HQ,
         "description: xxx"),
    Case("overlong-payload", "a long payload in a VLAN name",
         _mutate(HQ, "name: OFFICE,", f"name: {LONG},"), "NP011", HQ, "L0NG"),
    Case("banner-delimiter", "a banner that closes itself with ^C and adds lines",
         _mutate(NETWORK, "banner: Authorised access only.",
                 "banner: Authorised ^C username evil privilege 15"), "NP011", NETWORK,
         "banner:"),
    Case("name-with-space", "a VLAN name that adds a keyword",
         _mutate(HQ, "name: OFFICE,", "name: OFFICE shutdown,"), "NP011", HQ,
         "OFFICE shutdown"),
    Case("interface-with-space", "an uplink interface that adds a keyword",
         _mutate(TOPOLOGY, "interface: eth2\n", "interface: eth2 shutdown\n"), "NP011",
         TOPOLOGY, "eth2 shutdown"),
    Case("empty-hosts", "an empty inventory", _write_bytes(HOSTS, b"# nothing here\n"), "NP013",
         HOSTS, 1),
    Case("hosts-not-a-mapping", "an inventory that is a list",
         _write_bytes(HOSTS, b"- gent-core1\n- hq-core1\n"), "NP011", HOSTS, 1),
    Case("groups-unhashable", "a host whose groups are lists",
         _mutate(HOSTS, "groups: [frr, warehouse]", "groups: [[frr], {x: 1}]"), "NP011", HOSTS,
         "groups: [[frr]"),
]


@pytest.mark.parametrize("case", CASES, ids=cases_ids(CASES))
def test_hostile_strings(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    assert run(case, tmp_path, monkeypatch, capsys).exit in (1, 2)  # refused, never a bug (5)
