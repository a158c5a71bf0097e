"""The lab as data: which namespaces, links, segments, peers and test hosts to build.

Pure: computed from the intent and the device facts, so it can be tested without
root. ``lab.py`` carries it out. In the lab

* every ``frr`` device is a bare box: a namespace with only its physical ports, veths
  carrying the intent's names (``eth1``, ``eth3``), down and without addresses, forwarding
  off. Every interface, address, sysctl and service on it comes from netpipe's deploy;
* a trunk port of a site core (``eth3``) is cabled to the site's L2 namespace, where each
  VLAN is a segment (a bridge) with its test hosts; IOS switches are not emulated, their L2
  role collapses into those segments. This kernel has no 802.1Q, so frames cannot be
  tagged: the lab cables one more veth per VLAN the trunk carries (``eth3v110``, the VLAN's
  wire), and the deploy makes ``eth3.110`` on it (see ``napalm_frr.boxfiles``);
* each BGP uplink gets an emulated peer (FRR with the remote AS) that announces what
  the intent says it announces, with a test host behind it. A peer routes back only what
  our edge announces to it over BGP: like a real ISP, never private space, so without NAT
  nothing inside reaches the host behind the ISP ("the Internet");
* each VLAN gets two test hosts, plus one per address group inside it, so that firewall
  probes can use real packets between zones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from napalm_frr.boxfiles import standin_wire
from pipeline.design import Device
from pipeline.intent.parse import Intent

INTERNET_HOST = IPv4Interface("192.0.2.10/24")  # TEST-NET-1: "the Internet", inside the lab only


@dataclass(frozen=True)
class Veth:
    a_ns: str
    a_if: str
    b_ns: str
    b_if: str
    a_addr: IPv4Interface | None = None  # lab-owned ends only; routers get theirs from deploys
    b_addr: IPv4Interface | None = None
    bridge: str | None = None  # the b end joins this bridge in b_ns
    vlan: int | None = None  # the trunk's (b) end: the VLAN's segment on an 802.1Q kernel


@dataclass(frozen=True)
class Host:
    name: str
    ns: str
    address: IPv4Interface
    gateway: IPv4Address
    zone: str
    groups: tuple[str, ...] = ()
    vlan: int | None = None


@dataclass(frozen=True)
class Peer:
    name: str
    ns: str
    asn: int
    address: IPv4Interface
    neighbor: IPv4Address
    neighbor_as: int
    password_secret: str | None
    announces: tuple[IPv4Network, ...]
    host_gateway: IPv4Interface  # the peer's address on its test-host segment


@dataclass
class LabPlan:
    prefix: str
    routers: dict[str, str] = field(default_factory=dict)  # device -> namespace
    l2: dict[str, str] = field(default_factory=dict)  # site -> namespace
    bridges: dict[str, list[str]] = field(default_factory=dict)  # l2 namespace -> bridges
    links: list[Veth] = field(default_factory=list)
    peers: list[Peer] = field(default_factory=list)
    hosts: list[Host] = field(default_factory=list)

    @property
    def namespaces(self) -> list[str]:
        return sorted({*self.routers.values(), *self.l2.values(), *(p.ns for p in self.peers),
                       *(h.ns for h in self.hosts)})


def _host_addresses(subnet: IPv4Network, avoid: set[IPv4Address], count: int) -> list[IPv4Address]:
    """The last usable addresses of a subnet: far from gateways and static servers."""
    result: list[IPv4Address] = []
    candidate = subnet.broadcast_address - 1
    while len(result) < count and candidate > subnet.network_address:
        if candidate not in avoid:
            result.append(candidate)
        candidate -= 1
    return result


def _group_address(prefix: IPv4Network) -> IPv4Address:
    return prefix.network_address if prefix.prefixlen >= 31 else next(prefix.hosts())


def plan(intent: Intent, devices: dict[str, Device], prefix: str = "np-") -> LabPlan:
    lab = LabPlan(prefix)
    for name, device in devices.items():
        if device.platform == "frr":
            lab.routers[name] = f"{prefix}{name}"
    _links(intent, lab)
    _segments(intent, devices, lab)
    _peers(intent, lab)
    return lab


def _links(intent: Intent, lab: LabPlan) -> None:
    for link in intent.topology.links:
        if link.kind == "routed" and link.a.device in lab.routers and \
                link.b.device in lab.routers:
            lab.links.append(Veth(lab.routers[link.a.device], link.a.interface,
                                  lab.routers[link.b.device], link.b.interface))


def _segments(intent: Intent, devices: dict[str, Device], lab: LabPlan) -> None:
    groups = intent.firewall.groups
    for site in sorted(intent.sites.values(), key=lambda s: s.name):
        core = devices.get(site.core)
        if core is None or site.core not in lab.routers:
            continue
        l2 = f"{lab.prefix}l2-{site.name}"
        lab.l2[site.name] = l2
        lab.bridges[l2] = []
        for iface in core.interfaces:
            if iface.mode == "trunk":  # the switch's end of the trunk, in its L2 namespace
                lab.links.append(Veth(lab.routers[site.core], iface.name, l2,
                                      f"tr-{iface.name}"[:15]))
            if iface.mode != "svi" or iface.vlan is None or iface.address is None:
                continue
            vid, bridge = iface.vlan, f"br{iface.vlan}"
            lab.bridges[l2].append(bridge)
            lab.links.append(Veth(lab.routers[site.core], standin_wire(iface.name), l2,
                                  f"r{vid}", bridge=bridge, vlan=vid))
            subnet = iface.address.network
            gateway = iface.address.ip
            members = [(g, _group_address(p)) for g, grp in sorted(groups.items())
                       for p in grp.addresses if _group_address(p) in subnet]
            avoid = {gateway, *(a for _, a in members)}
            hosts = [(f"h{vid}{chr(ord('a') + i)}", addr)
                     for i, addr in enumerate(_host_addresses(subnet, avoid, 2))]
            hosts += [(f"g-{g}", addr) for g, addr in members]
            for short, addr in hosts:
                ns = f"{lab.prefix}{short}"
                in_groups = tuple(g for g, grp in sorted(groups.items())
                                  if any(addr in p for p in grp.addresses))
                lab.hosts.append(Host(short, ns, IPv4Interface(f"{addr}/{subnet.prefixlen}"),
                                      gateway, iface.zone or "", in_groups, vid))
                lab.links.append(Veth(ns, "eth0", l2, _l2_ifname(short), bridge=bridge,
                                      a_addr=IPv4Interface(f"{addr}/{subnet.prefixlen}")))


def _l2_ifname(short: str) -> str:
    name = "p" + short.replace("g-", "g")
    return name[:15]


def _peers(intent: Intent, lab: LabPlan) -> None:
    for index, up in enumerate(intent.topology.uplinks):
        if up.device not in lab.routers:
            continue
        ns = f"{lab.prefix}peer-{up.name}"
        peer_if = IPv4Interface(f"{up.peer.address}/{up.address.network.prefixlen}")
        announces = tuple(up.peer.announces)
        host_net = next((n for n in announces if n.prefixlen > 0), None)
        if host_net is None:  # a default-only peer: its host stands for the Internet
            host_gw = IPv4Interface(f"{INTERNET_HOST.network.network_address + 1}/24")
            host_addr = INTERNET_HOST
        else:
            subnet = next(host_net.subnets(new_prefix=max(host_net.prefixlen, 24)))
            host_gw = IPv4Interface(f"{next(subnet.hosts())}/{subnet.prefixlen}")
            host_addr = IPv4Interface(f"{host_gw.ip + 9}/{subnet.prefixlen}")
        lab.peers.append(Peer(up.name, ns, up.peer.asn, peer_if, up.address.ip,
                              intent.network.asn, up.peer.password_secret, announces, host_gw))
        lab.links.append(Veth(lab.routers[up.device], up.interface, ns, "eth0",
                              b_addr=peer_if))
        short = f"x-{up.name}"[:20]
        host_ns = f"{lab.prefix}{short}"
        lab.hosts.append(Host(short, host_ns, host_addr, host_gw.ip, up.zone))
        lab.links.append(Veth(host_ns, "eth0", ns, f"eth{index + 1}", a_addr=host_addr,
                              b_addr=host_gw))


def peer_config(peer: Peer, password: str | None) -> str:
    """FRR config of an emulated external peer (lab-only: not from templates)."""
    lines = ["frr defaults traditional", f"hostname {peer.name}", "!"]
    for net in peer.announces:
        lines.append(f"ip route {net} blackhole")
    lines += ["!", f"router bgp {peer.asn}", f" bgp router-id {peer.address.ip}",
              " no bgp ebgp-requires-policy", " no bgp network import-check",
              f" neighbor {peer.neighbor} remote-as {peer.neighbor_as}"]
    if password:
        lines.append(f" neighbor {peer.neighbor} password {password}")
    lines += [" address-family ipv4 unicast"]
    lines += [f"  network {net}" for net in peer.announces]
    lines += [" exit-address-family", "exit", "!", "end", ""]
    return "\n".join(lines)
