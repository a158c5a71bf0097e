"""A generated estate in netpipe's own format: N devices, deterministic, valid.

    .venv/bin/python -m benchmarks.estate DEVICES OUT

Sites of one FRR core and nine IOS access switches; every core has a WAN link to each of
two FRR hubs (which peer with two ISPs over eBGP); thirteen zones (ten of them VLANs at
every site); forty firewall rules. The same ``devices`` always gives the same files, so
two runs (and a one-VLAN change on top) compare like with like.

Addressing, two plans (``--addressing``):

* ``zone`` (the default): each VLAN zone owns a /14 and declares it in firewall.yaml;
  site ``i``'s VLAN of that zone is its ``i``-th /24. A router's zone sets are then the
  declared aggregates, whatever the number of sites.
* ``site``: site ``i`` owns a /19 (``10.A.B.0/19``, A = i // 8, B = i % 8 * 32) with one
  /24 per VLAN, and zones declare nothing: every zone set lists every site's prefix.

Loopbacks are in 10.254.0.0/16, WAN /31s in 10.255.0.0/16, the data centre behind the
hubs in 10.250.0.0/16. Room for 1,024 sites (10,240 devices); topology.yaml stays under
the loader's 1 MiB file limit up to about 9,000 devices.

``network.yaml``, the inventory defaults and the ``frr``/``ios`` groups come from the
example network, so the estate follows whatever organisation-wide settings it requires.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
SWITCHES = 9
MAX_SITES = 1024
SWITCH_PORTS = "GigabitEthernet1/0/1-48"
# (VLAN id, zone, name) at every site; the index is the /24 inside the site's /19.
VLANS = [(10, "office", "OFFICE"), (20, "voice", "VOICE"), (30, "printers", "PRINTERS"),
         (40, "cameras", "CAMERAS"), (50, "guest", "GUEST"), (60, "iot", "IOT"),
         (70, "ot-cell", "OT-CELL"), (80, "scada", "SCADA"), (90, "scanners", "SCANNERS"),
         (99, "mgmt", "MGMT")]
MGMT_VLAN = 99
PLANS = ("zone", "site")
USER_VLANS = [v for v, _, _ in VLANS if v != MGMT_VLAN]

SERVICES = {
    "modbus": "tcp/502", "s7comm": "tcp/102", "opc-ua": "tcp/4840", "http": "tcp/80",
    "https": "tcp/443", "ssh": "tcp/22", "rdp": "tcp/3389", "smb": "tcp/445",
    "rtsp": "tcp/554", "tacacs": "tcp/49", "dns": ["udp/53", "tcp/53"], "ntp": "udp/123",
    "syslog": "udp/514", "snmp": "udp/161", "ping": "icmp", "any": "any",
    "sip": ["udp/5060", "tcp/5061"], "rtp": "udp/16384-32767", "ipp": "tcp/631",
    "mqtt": "tcp/8883", "radius": "udp/1812-1813", "ldaps": "tcp/636", "kerberos": "udp/88",
    "erp": "tcp/8443", "wms-api": "tcp/9443",
}
ZONES: dict[str, dict[str, Any]] = {
    "office": {"description": "Office users at every site"},
    "voice": {"description": "IP phones"},
    "printers": {"description": "Printers and scanners"},
    "cameras": {"description": "IP cameras"},
    "guest": {"description": "Guest Wi-Fi: Internet only"},
    "iot": {"description": "Building sensors"},
    "ot-cell": {"description": "Production cells (PLCs)"},
    "scada": {"description": "SCADA servers and HMIs"},
    "scanners": {"description": "Handheld scanners"},
    "mgmt": {"description": "Management of switches"},
    "infra": {"description": "Loopbacks and WAN links", "networks": ["10.254.0.0/15"]},
    "dc": {"description": "Data centre behind the hubs", "networks": ["10.250.0.0/16"]},
    "internet": {"description": "Everything no other zone claims", "default": True},
}
GROUPS = {
    "infra-services": ("10.250.0.8/29", "DNS, NTP, syslog, TACACS+"),
    "radius": ("10.250.0.20/32", ""), "pbx": ("10.250.1.10/32", ""),
    "print-server": ("10.250.1.20/32", ""), "nvr": ("10.250.1.30/32", ""),
    "wms": ("10.250.1.40/32", ""), "historian": ("10.250.2.10/32", ""),
    "patch-server": ("10.250.2.20/32", ""), "erp": ("10.250.3.0/28", ""),
    "files": ("10.250.3.16/28", ""), "mdm": ("10.250.3.40/32", ""),
    "iot-broker": ("10.250.4.10/32", ""), "directory": ("10.250.0.32/29", ""),
}
# (name, from, to, services, action): forty rules, none shadowing another.
RULES: list[tuple[str, list[str], list[str], list[str], str]] = [
    ("scada-polls-cells", ["scada"], ["ot-cell"], ["modbus", "s7comm", "opc-ua"], "allow"),
    ("historian-collects", ["historian"], ["scada"], ["opc-ua"], "allow"),
    ("no-it-into-ot", ["office", "guest", "iot", "voice"], ["ot-cell", "scada"], ["any"],
     "deny"),
    ("cells-get-patches", ["ot-cell", "scada"], ["patch-server"], ["https"], "allow"),
    ("patch-server-updates", ["patch-server"], ["internet"], ["http", "https"], "allow"),
    ("clients-use-infra", ["office", "scanners", "scada", "ot-cell", "cameras", "voice",
                           "printers", "iot"], ["infra-services"], ["dns", "ntp"], "allow"),
    ("devices-use-infra", ["mgmt", "infra"], ["infra-services"],
     ["dns", "ntp", "syslog", "tacacs"], "allow"),
    ("office-to-files", ["office"], ["files"], ["smb", "https"], "allow"),
    ("office-to-erp", ["office"], ["erp"], ["erp", "https"], "allow"),
    ("office-rdp-dc", ["office"], ["dc"], ["rdp"], "allow"),
    ("office-directory", ["office"], ["directory"], ["ldaps", "kerberos"], "allow"),
    ("office-prints", ["office"], ["print-server"], ["ipp"], "allow"),
    ("print-server-to-printers", ["print-server"], ["printers"], ["ipp"], "allow"),
    ("phones-to-pbx", ["voice"], ["pbx"], ["sip"], "allow"),
    ("pbx-media", ["pbx"], ["voice"], ["rtp"], "allow"),
    ("phones-media", ["voice"], ["voice"], ["rtp"], "allow"),
    ("scanners-to-wms", ["scanners"], ["wms"], ["wms-api", "https"], "allow"),
    ("scanners-to-mdm", ["scanners"], ["mdm"], ["https"], "allow"),
    ("nvr-pulls-cameras", ["nvr"], ["cameras"], ["rtsp", "https"], "allow"),
    ("cameras-no-internet", ["cameras"], ["internet"], ["any"], "deny"),
    ("iot-to-broker", ["iot"], ["iot-broker"], ["mqtt"], "allow"),
    ("iot-no-office", ["iot"], ["office"], ["any"], "deny"),
    ("guest-no-dc", ["guest"], ["dc"], ["any"], "deny"),
    ("guest-no-office", ["guest"], ["office", "voice", "printers"], ["any"], "deny"),
    ("users-to-internet", ["office", "guest"], ["internet"], ["http", "https"], "allow"),
    ("guest-dns", ["guest"], ["internet"], ["dns"], "allow"),
    ("wifi-auth", ["office", "scanners"], ["radius"], ["radius"], "allow"),
    ("mgmt-manages-switches", ["mgmt"], ["ot-cell", "scada", "cameras", "iot"],
     ["ssh", "https", "snmp", "ping"], "allow"),
    ("mgmt-manages-dc", ["mgmt"], ["dc"], ["ssh", "https"], "allow"),
    ("dc-monitors", ["infra-services"], ["mgmt", "infra"], ["snmp", "ping"], "allow"),
    ("dc-backs-up", ["files"], ["erp"], ["ssh"], "allow"),
    ("erp-to-internet", ["erp"], ["internet"], ["https"], "allow"),
    ("mdm-to-internet", ["mdm"], ["internet"], ["https"], "allow"),
    ("directory-sync", ["directory"], ["internet"], ["https", "ldaps"], "allow"),
    ("wms-to-erp", ["wms"], ["erp"], ["erp"], "allow"),
    ("historian-to-erp", ["historian"], ["erp"], ["https"], "allow"),
    ("office-views-historian", ["office"], ["historian"], ["https"], "allow"),
    ("office-views-cameras", ["office"], ["nvr"], ["https"], "allow"),
    ("printers-scan-to-files", ["printers"], ["files"], ["smb"], "allow"),
    ("ot-no-internet", ["ot-cell", "scada"], ["internet"], ["any"], "deny"),
]
ISPS = [("hub1", "eth0", "198.51.100.2/30", "198.51.100.1", 64496),
        ("hub2", "eth0", "192.0.2.2/30", "192.0.2.1", 64511)]


@dataclass(frozen=True)
class Estate:
    root: Path
    sites: int
    devices: int
    routers: int
    switches: int


def site_count(devices: int) -> int:
    """Sites of ten devices each, plus the two hubs: 1,000 devices -> 100 sites."""
    return max(1, round((devices - 2) / (SWITCHES + 1)))


def site_name(i: int) -> str:
    return f"s{i + 1:04d}"


def site_pool(i: int) -> IPv4Network:
    """Site ``i``'s /19 in the ``site`` plan."""
    _check_site(i)
    return IPv4Network(f"10.{i // 8}.{i % 8 * 32}.0/19")


def _check_site(i: int) -> None:
    if not 0 <= i < MAX_SITES:
        raise ValueError(f"site {i}: at most {MAX_SITES} sites")


def zone_block(zone: str) -> IPv4Network:
    """The /13 a VLAN zone owns in the ``zone`` plan: a /24 per site, then a second one."""
    index = [z for _, z, _ in VLANS].index(zone)
    return IPv4Network(f"10.{16 + 8 * index}.0.0/13")


ZONE_OF = {v: z for v, z, _ in VLANS}


def vlan_subnet(i: int, vlan: int, plan: str = "zone", zone: str = "") -> IPv4Network:
    """The /24 of VLAN ``vlan`` at site ``i``; ``zone`` for a VLAN not in ``VLANS``."""
    _check_site(i)
    if plan == "zone":
        slot = i if vlan in ZONE_OF else MAX_SITES + i
        base = int(zone_block(ZONE_OF.get(vlan, zone)).network_address) + slot * 256
    elif vlan in ZONE_OF:
        base = int(site_pool(i).network_address) + [v for v, _, _ in VLANS].index(vlan) * 256
    else:  # a VLAN added later: the site's 21st /24
        base = int(site_pool(i).network_address) + 20 * 256
    return IPv4Network(f"{IPv4Address(base)}/24")


def loopback(i: int) -> str:
    return f"10.254.{i // 250}.{i % 250 + 1}"


def _wan(link: int) -> str:
    return f"{IPv4Address(int(IPv4Address('10.255.0.0')) + 2 * link)}/31"


def _switch_vlans(j: int) -> list[int]:
    """The user VLANs switch ``j`` (1-based) has access ports in."""
    return sorted({USER_VLANS[(j - 1) % 9], USER_VLANS[(j + 2) % 9], USER_VLANS[0]})


def _switch_ports(j: int) -> list[tuple[str, int, str]]:
    a, b = USER_VLANS[(j - 1) % 9], USER_VLANS[(j + 2) % 9]
    names = {v: n.lower() for v, _, n in VLANS}
    return [("GigabitEthernet1/0/1-20", a, f"{names[a]} ports"),
            ("GigabitEthernet1/0/21-36", b, f"{names[b]} ports"),
            ("GigabitEthernet1/0/37-39", USER_VLANS[0], "office desks")]


def _ids(ids: list[int]) -> str:
    return ",".join(map(str, sorted(ids)))


def _port_ranges(prefix: str, count: int) -> list[str]:
    """``eth1-256``, ``eth257-…``: a range holds at most 256 ports."""
    return [f"{prefix}{lo}-{min(lo + 255, count)}" for lo in range(1, count + 1, 256)]


def _site_file(i: int, plan: str) -> str:
    name = site_name(i)
    lines = [f"# Site {name}: generated by benchmarks/estate.py", f"name: {name}",
             f"description: Generated site {i + 1}", f"core: {name}-core1",
             f"ospf_area: {i + 1}"]
    if plan == "site":
        lines.append(f"pools: [{site_pool(i)}]")
    lines.append("vlans:")
    for vid, zone, vname in VLANS:
        lines.append(f"  - {{id: {vid}, name: {vname}, zone: {zone}, "
                     f"subnet: {vlan_subnet(i, vid, plan)}}}")
    lines.append("switches:")
    mgmt = vlan_subnet(i, MGMT_VLAN, plan)
    for j in range(1, SWITCHES + 1):
        lines.append(f"  {name}-sw{j}:")
        lines.append(f"    management: {{vlan: {MGMT_VLAN}, address: "
                     f"{mgmt.network_address + 10 + j}/24}}")
        lines.append("    ports:")
        for ports, vlan, desc in _switch_ports(j):
            lines.append(f"      - {{interfaces: {ports}, vlan: {vlan}, description: {desc}}}")
    return "\n".join(lines) + "\n"


def _topology(sites: int) -> str:
    lines = ["# Generated by benchmarks/estate.py", "links:"]
    for port, (hub, cost) in enumerate((("hub1", 10), ("hub2", 20)), 1):
        for i in range(sites):  # site i's WAN /31s are the same whatever the estate's size
            lines.append(f"  - {{a: {site_name(i)}-core1:eth{port}, b: {hub}:eth{i + 1}, "
                         f"subnet: {_wan(2 * i + port - 1)}, ospf: {{area: 0, cost: {cost}}}}}")
    lines.append(f"  - {{a: hub1:eth{sites + 1}, b: hub2:eth{sites + 1}, "
                 f"subnet: {_wan(2 * MAX_SITES)}, ospf: {{area: 0, cost: 1}}, "
                 "description: hub interconnect}")
    every = _ids([v for v, _, _ in VLANS])
    for i in range(sites):
        name = site_name(i)
        lines.append(f"  - {{a: {name}-core1:eth3, b: {name}-sw1:GigabitEthernet1/0/48, "
                     f'kind: trunk, vlans: "{every}"}}')
        for j in range(2, SWITCHES + 1):
            lines.append(f"  - {{a: {name}-sw1:GigabitEthernet1/0/{38 + j}, "
                         f"b: {name}-sw{j}:GigabitEthernet1/0/48, kind: trunk, "
                         f'vlans: "{_ids([*_switch_vlans(j), MGMT_VLAN])}"}}')
    lines.append("uplinks:")
    for hub, uplink, address, peer, asn in ISPS:
        lines += [f"  - name: isp-{hub}", f"    device: {hub}", f"    interface: {uplink}",
                  f"    address: {address}", "    zone: internet",
                  f"    peer: {{address: {peer}, asn: {asn}, announces: [0.0.0.0/0]}}",
                  "    import_policy: DEFAULT-ONLY", "    export_policy: PUBLIC-OUT"]
    return "\n".join(lines) + "\n"


ROUTING = """\
# Generated by benchmarks/estate.py
ospf:
  reference_bandwidth: 100000
  default_originate: [hub1, hub2]
prefix_lists:
  DEFAULT-ONLY: [0.0.0.0/0]
  PUBLIC-OUT: [203.0.113.0/24]
static_routes:
  - {device: hub1, prefix: 203.0.113.0/24, next_hop: blackhole, description: public range}
  - {device: hub2, prefix: 203.0.113.0/24, next_hop: blackhole, description: public range}
"""


def _firewall(plan: str) -> dict[str, Any]:
    zones = {name: dict(zone) for name, zone in ZONES.items()}
    if plan == "zone":
        for _, zone, _ in VLANS:
            zones[zone]["networks"] = [str(zone_block(zone))]
    return {
        "services": SERVICES,
        "zones": zones,
        "groups": {n: {"zone": "dc", "addresses": [a]} for n, (a, _) in GROUPS.items()},
        "rules": [{"name": n, "from": f, "to": t, "services": s,
                   **({"action": a, "log": True} if a == "deny" else {})}
                  for n, f, t, s, a in RULES],
        "default": {"action": "deny", "log": True},
        "router_access": {"ssh": ["mgmt"], "snmp": ["mgmt"], "ping": ["mgmt", "infra"]},
    }


def _network() -> dict[str, Any]:
    """The example's organisation settings, its servers moved into the data centre."""
    data: dict[str, Any] = yaml.safe_load((REPO / "intent/network.yaml").read_text())
    data.update(name="generated-estate", ntp=["10.250.0.9"], dns=["10.250.0.10"],
                syslog=["10.250.0.11"])
    for server in data.get("tacacs", []):
        server["address"] = "10.250.0.12"
    return data


def _inventory(sites: int, plan: str) -> tuple[str, dict[str, Any]]:
    example: dict[str, Any] = yaml.safe_load((REPO / "inventory/groups.yaml").read_text())
    groups: dict[str, Any] = {"frr": example["frr"], "ios": dict(example["ios"])}
    groups["ios"]["data"] = {"role": "access", "model": "C9200-48P",
                             "interfaces": [SWITCH_PORTS]}
    groups["dc"] = {"data": {"site": "dc"}}
    hosts = ["# Generated by benchmarks/estate.py: one line per device"]
    hub_ports = [*_port_ranges("eth", sites + 1), "eth0"]
    for n, hub in enumerate(("hub1", "hub2")):
        hosts.append(f"{hub}: {{hostname: 10.254.255.{n + 1}, groups: [frr, dc], data: "
                     f"{{role: core, model: Linux router (FRR + nftables), "
                     f"interfaces: [{', '.join(hub_ports)}], loopback: 10.254.255.{n + 1}/32}}}}")
    for i in range(sites):
        name = site_name(i)
        groups[name] = {"data": {"site": name}}
        hosts.append(f"{name}-core1: {{hostname: {loopback(i)}, groups: [frr, {name}], data: "
                     "{role: core, model: Linux router (FRR + nftables), "
                     f"interfaces: [eth1, eth2, eth3], loopback: {loopback(i)}/32}}}}")
        mgmt = vlan_subnet(i, MGMT_VLAN, plan).network_address
        for j in range(1, SWITCHES + 1):
            hosts.append(f"{name}-sw{j}: {{hostname: {mgmt + 10 + j}, groups: [ios, {name}]}}")
    return "\n".join(hosts) + "\n", groups


def _dump(path: Path, data: dict[str, Any], comment: str) -> None:
    path.write_text(f"# {comment}\n" + yaml.safe_dump(data, sort_keys=False, width=100))


def generate(root: Path, devices: int, plan: str = "zone") -> Estate:
    """Write the estate of about ``devices`` devices into ``root`` (intent/, inventory/);
    ``plan``: ``zone`` or ``site`` addressing (see the module docstring)."""
    if plan not in PLANS:
        raise ValueError(f"addressing plan {plan!r}: one of {', '.join(PLANS)}")
    sites = site_count(devices)
    _check_site(sites - 1)
    intent = root / "intent"
    (intent / "sites").mkdir(parents=True, exist_ok=True)
    (root / "inventory").mkdir(parents=True, exist_ok=True)
    _dump(intent / "network.yaml", _network(), "Generated by benchmarks/estate.py")
    (intent / "topology.yaml").write_text(_topology(sites))
    (intent / "routing.yaml").write_text(ROUTING)
    _dump(intent / "firewall.yaml", _firewall(plan), "Generated by benchmarks/estate.py")
    (intent / "sites" / "dc.yaml").write_text(
        "name: dc\ndescription: Data centre (the hubs)\ncore: hub1\npools: [10.250.0.0/16]\n")
    for i in range(sites):
        (intent / "sites" / f"{site_name(i)}.yaml").write_text(_site_file(i, plan))
    hosts, groups = _inventory(sites, plan)
    (root / "inventory" / "hosts.yaml").write_text(hosts)
    _dump(root / "inventory" / "groups.yaml", groups, "Generated by benchmarks/estate.py")
    shutil.copy(REPO / "inventory" / "defaults.yaml", root / "inventory" / "defaults.yaml")
    if (REPO / "inventory" / "known_hosts").exists():
        shutil.copy(REPO / "inventory" / "known_hosts", root / "inventory" / "known_hosts")
    return Estate(root, sites, 2 + sites * (SWITCHES + 1), 2 + sites, sites * SWITCHES)


def add_vlan(root: Path, site: int = 0, vlan: int = 95, zone: str = "office",
             plan: str = "zone") -> None:
    """One new VLAN at one site, carried from its core to ``sw1``: a typical small change."""
    name = site_name(site)
    path = root / "intent" / "sites" / f"{name}.yaml"
    subnet = vlan_subnet(site, vlan, plan, zone)
    text = path.read_text()
    assert text.count("switches:\n") == 1, path
    path.write_text(text.replace("switches:\n", f"  - {{id: {vlan}, name: NEW{vlan}, "
                                 f"zone: {zone}, subnet: {subnet}}}\nswitches:\n"))
    topo = root / "intent" / "topology.yaml"
    every = _ids([v for v, _, _ in VLANS])
    old = f'{name}-sw1:GigabitEthernet1/0/48, kind: trunk, vlans: "{every}"'
    text = topo.read_text()
    assert text.count(old) == 1, old
    topo.write_text(text.replace(old, old[:-1] + f',{vlan}"'))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("devices", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--addressing", choices=PLANS, default="zone")
    args = parser.parse_args()
    estate = generate(args.out, args.devices, args.addressing)
    print(f"{estate.devices} devices ({estate.routers} frr, {estate.switches} ios) in "
          f"{estate.sites} sites written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
