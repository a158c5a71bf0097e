"""Design: validated intent + inventory -> one plain, vendor-neutral record per device.

This is where network decisions are made once (which address each link end gets,
which interface is a VLAN's gateway, which prefixes a zone holds); templates only
spell those facts in a platform's syntax. Assumes the semantic rules passed.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, collapse_addresses
from typing import Literal

from pipeline.intent.derive import Port, end_ospf, link_addresses, parse_service, zone_prefixes
from pipeline.intent.model import Link, LinkEnd, Rule, Site, Uplink
from pipeline.intent.model import StaticRoute as StaticIntent
from pipeline.intent.parse import Intent
from pipeline.intent.ports import expand, expanded, normalise, vlan_list

Mode = Literal["routed", "access", "trunk", "svi", "loopback", "unused"]
DEFAULT_MTU = 1500


@dataclass(frozen=True)
class Interface:
    name: str
    mode: Mode
    description: str = ""
    address: IPv4Interface | None = None
    mtu: int | None = None  # routers: every port and subinterface (DEFAULT_MTU unless set)
    rp_filter: int | None = None  # routers: reverse-path filter, 1 strict, 2 loose
    vlan: int | None = None
    allowed_vlans: tuple[int, ...] = ()
    native_vlan: int | None = None
    ospf_area: int | None = None
    ospf_cost: int | None = None
    ospf_passive: bool = False
    ospf_p2p: bool = False
    ospf_hello: int | None = None  # None: the platform default
    ospf_dead: int | None = None
    zone: str | None = None
    dhcp_relay: tuple[IPv4Address, ...] = ()  # routers: DHCP servers this VLAN's requests go to


@dataclass(frozen=True)
class Vlan:
    id: int
    name: str
    zone: str


@dataclass(frozen=True)
class Ospf:
    router_id: IPv4Address
    reference_bandwidth: int
    spf_throttle: tuple[int, int, int]
    lsa_throttle: int
    lsa_min_arrival: int
    default_originate: bool
    redistribute_bgp: str | None  # prefix list


@dataclass(frozen=True)
class BgpNeighbor:
    name: str
    address: IPv4Address
    remote_as: int
    description: str
    password_secret: str | None
    import_policy: str
    export_policy: str


@dataclass(frozen=True)
class Bgp:
    asn: int
    router_id: IPv4Address
    neighbors: tuple[BgpNeighbor, ...]
    networks: tuple[IPv4Network, ...]


@dataclass(frozen=True)
class PrefixList:
    name: str
    entries: tuple[tuple[IPv4Network, int | None], ...]


@dataclass(frozen=True)
class StaticRoute:
    prefix: IPv4Network
    next_hop: str
    description: str


@dataclass(frozen=True)
class Match:
    """One side of a firewall rule: a zone's named set, a literal prefix list, or 'not ours'."""

    zone: str
    set_name: str | None = None
    prefixes: tuple[IPv4Network, ...] = ()
    outside: bool = False  # the default zone: every address no other zone claims


@dataclass(frozen=True)
class FirewallRule:
    name: str
    action: Literal["allow", "deny"]
    log: bool
    sources: tuple[Match, ...]
    destinations: tuple[Match, ...]
    services: tuple[Port, ...]


@dataclass(frozen=True)
class ZoneSet:
    zone: str
    set_name: str
    prefixes: tuple[IPv4Network, ...]


@dataclass(frozen=True)
class Published:
    """A service published by destination NAT at an uplink: ``address`` and ``ports`` as the
    outside sees them, forwarded to ``to`` (the ports kept)."""

    name: str
    interface: str
    address: IPv4Address
    to: IPv4Address
    ports: tuple[Port, ...]


@dataclass(frozen=True)
class Nat:
    """NAT at one uplink of a router: source NAT of inside traffic leaving it (``masquerade``,
    or the ``pool`` range first..last), and the services published through it."""

    interface: str
    masquerade: bool
    pool: tuple[IPv4Address, IPv4Address] | None
    published: tuple[Published, ...]


@dataclass(frozen=True)
class Firewall:
    zone_sets: tuple[ZoneSet, ...]
    internal: tuple[IPv4Network, ...]
    rules: tuple[FirewallRule, ...]
    router_access: tuple[tuple[Port, tuple[Match, ...]], ...]
    bgp_peers: tuple[IPv4Address, ...]
    log_default: bool
    published: tuple[Published, ...] = ()
    """Every service published anywhere in the network: from outside only these come in."""


@dataclass(frozen=True)
class Tacacs:
    name: str
    address: IPv4Address
    key_secret: str


@dataclass(frozen=True)
class Login:
    """IOS: the enable secret and a break-glass user, both as hashes of ``hash_type``."""

    hash_type: int
    enable_hash_secret: str
    username: str
    user_hash_secret: str


@dataclass(frozen=True)
class Device:
    """Everything a template needs for one device, and nothing vendor-specific."""

    name: str
    platform: str
    site: str
    role: str
    model: str
    domain: str
    loopback: IPv4Interface | None
    interfaces: tuple[Interface, ...]
    vlans: tuple[Vlan, ...] = ()
    ospf: Ospf | None = None
    bgp: Bgp | None = None
    prefix_lists: tuple[PrefixList, ...] = ()
    static_routes: tuple[StaticRoute, ...] = ()
    firewall: Firewall | None = None
    nat: tuple[Nat, ...] = ()
    default_gateway: IPv4Address | None = None
    management_prefixes: tuple[IPv4Network, ...] = ()
    ntp: tuple[IPv4Address, ...] = ()
    dns: tuple[IPv4Address, ...] = ()
    syslog: tuple[IPv4Address, ...] = ()
    tacacs: tuple[Tacacs, ...] = ()
    snmp_community_secret: str | None = None
    snmp_location: str = ""
    snmp_contact: str = ""
    banner: str = ""
    login: Login | None = None
    sources: frozenset[str] = field(default_factory=frozenset)
    """Intent files (and inventory) this device's config depends on."""


# --------------------------------------------------------------------------- helpers


def set_name(zone: str) -> str:
    return "z_" + zone.replace("-", "_").replace(".", "_")


LinkSide = tuple[Link, LinkEnd, LinkEnd, IPv4Interface | None]
"""(link, this device's end, the peer's end, this end's address)."""


@dataclass
class _Index:
    """What every device's record is looked up in, built once: the design stays linear in
    the size of the intent (each link, uplink and route is visited once, not per device)."""

    intent: Intent
    zones: dict[str, list[IPv4Network]]
    links: dict[str, list[LinkSide]]
    uplinks: dict[str, list[Uplink]]
    statics: dict[str, list[StaticIntent]]
    firewall: Firewall
    all_files: frozenset[str]
    inventory_files: frozenset[str]
    ports: dict[tuple[str, str, str, int | None], Interface] = field(default_factory=dict)
    """Switch ports by (name, mode, description, VLAN): thousands of switches have the
    same unused and access ports, and a record is immutable, so one is made for all."""

    groups: dict[tuple[str, Mode, str, int | None], dict[str, Interface]] = field(
        default_factory=dict)
    """A port group's records by port, by (ports as written, mode, description, VLAN): the
    same group on thousands of switches is expanded once."""

    def port(self, name: str, mode: Mode, description: str, vlan: int | None = None
             ) -> Interface:
        key = (name, mode, description, vlan)
        made = self.ports.get(key)
        if made is None:
            made = self.ports[key] = Interface(name, mode, description, vlan=vlan)
        return made

    def group(self, spec: str | list[str], mode: Mode, description: str,
              vlan: int | None = None) -> dict[str, Interface]:
        """The records of ports as written (a port group, or a switch's whole list as
        unused), made once per estate for each spec, mode, description and VLAN."""
        key = (spec if isinstance(spec, str) else "\0".join(spec), mode, description, vlan)
        made = self.groups.get(key)
        if made is None:
            made = self.groups[key] = {p: self.port(p, mode, description, vlan)
                                       for p in expanded(spec, "ios")}
        return made

    @classmethod
    def of(cls, intent: Intent) -> _Index:
        links: dict[str, list[LinkSide]] = defaultdict(list)
        for link in intent.topology.links:
            a_addr, b_addr = link_addresses(link)
            links[link.a.device].append((link, link.a, link.b, a_addr))
            if link.b.device != link.a.device:
                links[link.b.device].append((link, link.b, link.a, b_addr))
            else:  # a link looped back to the same device: both ends are its own
                links[link.a.device].append((link, link.b, link.a, b_addr))
        uplinks: dict[str, list[Uplink]] = defaultdict(list)
        for uplink in intent.topology.uplinks:
            uplinks[uplink.device].append(uplink)
        statics: dict[str, list[StaticIntent]] = defaultdict(list)
        for route in intent.routing.static_routes:
            statics[route.device].append(route)
        zones = zone_prefixes(intent)
        return cls(intent, zones, links, uplinks, statics, firewall(intent, (), zones),
                   frozenset(intent.files),
                   frozenset(f for f in intent.files if f.startswith("inventory/")))


# --------------------------------------------------------------------------- firewall


def _match(intent: Intent, name: str, zones: dict[str, list[IPv4Network]]) -> Match:
    group = intent.firewall.groups.get(name)
    if group is not None:
        return Match(group.zone, prefixes=tuple(collapse_addresses(group.addresses)))
    if intent.firewall.zones[name].default:
        return Match(name, outside=True)
    return Match(name, set_name=set_name(name), prefixes=tuple(zones.get(name, ())))


def _rule(intent: Intent, rule: Rule, zones: dict[str, list[IPv4Network]]) -> FirewallRule:
    services = tuple(parse_service(spec) for svc in rule.services
                     for spec in intent.firewall.services[svc])
    def matches(names: list[str]) -> tuple[Match, ...]:
        # A zone with no prefixes matches nothing (NP121 warns of it): no ruleset line.
        found = (_match(intent, n, zones) for n in names)
        return tuple(m for m in found if m.outside or m.prefixes)

    return FirewallRule(
        name=rule.name, action=rule.action, log=rule.log,
        sources=matches(rule.from_), destinations=matches(rule.to), services=services,
    )


def firewall(intent: Intent, bgp_peers: tuple[IPv4Address, ...],
             zones: dict[str, list[IPv4Network]] | None = None) -> Firewall:
    """The zone firewall every router enforces; ``zones``: zone_prefixes(intent), if known."""
    zones = zone_prefixes(intent) if zones is None else zones
    sets = tuple(ZoneSet(z, set_name(z), tuple(p)) for z, p in sorted(zones.items())
                 if p and intent.firewall.zones.get(z, None) is not None
                 and not intent.firewall.zones[z].default)
    internal = tuple(collapse_addresses(p for s in sets for p in s.prefixes))
    access = tuple(
        (parse_service(spec), tuple(_match(intent, z, zones) for z in allowed))
        for svc, allowed in sorted(intent.firewall.router_access.items())
        for spec in intent.firewall.services[svc]
    )
    return Firewall(
        zone_sets=sets, internal=internal,
        rules=tuple(_rule(intent, r, zones) for r in intent.firewall.rules),
        router_access=access, bgp_peers=bgp_peers, log_default=intent.firewall.default.log,
        published=tuple(p for up in intent.topology.uplinks for p in _nat(intent, up).published),
    )


def _nat(intent: Intent, uplink: Uplink) -> Nat:
    nat = uplink.nat
    if nat is None:
        return Nat(uplink.interface, False, None, ())
    pool = None
    if isinstance(nat.source, IPv4Network):
        pool = (nat.source.network_address, nat.source.broadcast_address)
    published = tuple(
        Published(p.name, uplink.interface, p.address, p.to,
                  tuple(parse_service(s) for s in intent.firewall.services[p.service]))
        for p in nat.publish)
    return Nat(uplink.interface, nat.source == "masquerade", pool, published)


# --------------------------------------------------------------------------- devices


# Reverse-path filtering per interface: strict where the interface is the only way to the
# sources behind it (a VLAN, an uplink: spoofed inside addresses from the Internet are dropped),
# loose on links inside the routed core, where the best path back may be another link.
RP_STRICT, RP_LOOSE = 1, 2


def _router_interfaces(index: _Index, name: str, site: Site | None) -> list[Interface]:
    intent = index.intent
    host = intent.hosts[name]
    result: list[Interface] = []
    if host.data.loopback is not None:
        result.append(Interface("lo", "loopback", "router id", host.data.loopback,
                                ospf_area=0, ospf_passive=True))
    timers = intent.routing.ospf
    custom = (timers.hello_interval, timers.dead_interval) != (10, 40)
    for link, end, peer, addr in index.links.get(name, ()):
        mtu = link.mtu or DEFAULT_MTU
        if link.kind == "routed":
            area, cost = end_ospf(link, end)
            desc = link.description or f"to {peer.device} {peer.interface}"
            result.append(Interface(
                end.interface, "routed", desc, addr, mtu=mtu, rp_filter=RP_LOOSE,
                ospf_area=area, ospf_cost=cost,
                ospf_p2p=link.ospf is None or link.ospf.network == "point-to-point",
                ospf_hello=timers.hello_interval if custom and area is not None else None,
                ospf_dead=timers.dead_interval if custom and area is not None else None))
        elif site is not None and site.core == name:
            desc = link.description or f"trunk to {peer.device} {peer.interface}"
            result.append(Interface(end.interface, "trunk", desc, mtu=mtu,
                                    rp_filter=RP_STRICT,
                                    allowed_vlans=tuple(vlan_list(link.vlans))))
            result.extend(_gateway_subinterfaces(site, end, peer, link, mtu))
    for uplink in index.uplinks.get(name, ()):
        desc = uplink.description or f"uplink {uplink.name}"
        result.append(Interface(uplink.interface, "routed", desc, uplink.address,
                                mtu=uplink.mtu or DEFAULT_MTU, rp_filter=RP_STRICT,
                                zone=uplink.zone))
    used = {i.name for i in result}
    result += [Interface(port, "unused", "unused", mtu=DEFAULT_MTU, rp_filter=RP_STRICT)
               for port in expand(host.data.interfaces, host.platform) if port not in used]
    return sorted(result, key=lambda i: (i.mode != "loopback", _natural(i.name)))


def _gateway_subinterfaces(site: Site, end: LinkEnd, peer: LinkEnd, link: Link,
                           mtu: int) -> list[Interface]:
    """A router's trunk port gets one subinterface per VLAN it is the gateway of."""
    carried = set(vlan_list(link.vlans))
    subifs = []
    for vlan in site.vlans:
        if vlan.id in carried:
            address = IPv4Interface((int(vlan.gateway_address), vlan.subnet.prefixlen))
            subifs.append(Interface(
                f"{end.interface}.{vlan.id}", "svi", f"{vlan.name} via {peer.device}",
                address, mtu=mtu, rp_filter=RP_STRICT, vlan=vlan.id,
                ospf_area=site.ospf_area, ospf_passive=True, zone=vlan.zone,
                dhcp_relay=tuple(vlan.dhcp_relay),
            ))
    return subifs


def _natural(name: str) -> tuple[object, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _switch_interfaces(index: _Index, name: str, site: Site
                       ) -> tuple[list[Interface], set[int]]:
    host = index.intent.hosts[name]
    switch = site.switches[name]
    used: dict[str, Interface] = {}
    vlans: set[int] = {switch.management.vlan}
    names = {v.id: v.name for v in site.vlans}
    for group in switch.ports:
        ports = index.group(group.interfaces, "access",
                            group.description or names.get(group.vlan, ""), group.vlan)
        used.update(ports)
        if ports:
            vlans.add(group.vlan)
    for link, end, peer, _ in index.links.get(name, ()):
        if link.kind != "trunk":
            continue
        port = normalise(end.interface, "ios")
        allowed = tuple(vlan_list(link.vlans))
        used[port] = Interface(port, "trunk", link.description or
                               f"trunk to {peer.device} {peer.interface}",
                               allowed_vlans=allowed, native_vlan=link.native_vlan)
        vlans.update(allowed)
    every = index.group(host.data.interfaces, "unused", "unused")  # all ports, as unused
    result = [used.get(p, unused) for p, unused in every.items()]
    mgmt = next(v for v in site.vlans if v.id == switch.management.vlan)
    result.append(Interface(f"Vlan{mgmt.id}", "svi", "management", switch.management.address,
                            vlan=mgmt.id, zone=mgmt.zone))
    return result, vlans


def _bgp(index: _Index, name: str, router_id: IPv4Address) -> Bgp | None:
    intent = index.intent
    uplinks = index.uplinks.get(name, [])
    if not uplinks:
        return None
    neighbors = tuple(BgpNeighbor(
        name=u.name, address=u.peer.address, remote_as=u.peer.asn,
        description=u.peer.description or u.description or u.name,
        password_secret=u.peer.password_secret, import_policy=u.import_policy,
        export_policy=u.export_policy,
    ) for u in uplinks)
    exported = {u.export_policy for u in uplinks}
    networks = sorted({e.prefix for pl in exported for e in intent.routing.prefix_lists[pl]
                       if e.le is None})
    return Bgp(intent.network.asn, router_id, neighbors, tuple(networks))


def _prefix_lists(intent: Intent, names: set[str]) -> tuple[PrefixList, ...]:
    return tuple(PrefixList(n, tuple((e.prefix, e.le) for e in intent.routing.prefix_lists[n]))
                 for n in sorted(names))


def _common(index: _Index, name: str) -> dict[str, object]:
    intent = index.intent
    net = intent.network
    zones = index.zones
    host = intent.hosts[name]
    return dict(
        name=name, platform=host.platform, site=host.data.site, role=host.data.role,
        model=host.data.model, domain=net.domain, loopback=host.data.loopback,
        management_prefixes=tuple(zones.get(net.management_zone, ())),
        ntp=tuple(net.ntp), dns=tuple(net.dns), syslog=tuple(net.syslog),
        tacacs=tuple(Tacacs(t.name, t.address, t.key_secret) for t in net.tacacs),
        snmp_community_secret=net.snmp.community_secret if net.snmp else None,
        snmp_location=net.snmp.location if net.snmp else "",
        snmp_contact=net.snmp.contact if net.snmp else "",
        banner=net.banner,
        login=Login(net.ios_login.hash_type, net.ios_login.enable_hash_secret,
                    net.ios_login.break_glass.username, net.ios_login.break_glass.hash_secret)
        if net.ios_login and host.platform == "ios" else None,
    )


def _router(index: _Index, name: str) -> Device:
    intent = index.intent
    host = intent.hosts[name]
    site = intent.sites.get(host.data.site)
    interfaces = _router_interfaces(index, name, site)
    router_id = host.data.loopback.ip if host.data.loopback else next(
        i.address.ip for i in interfaces if i.address is not None)
    settings = intent.routing.ospf
    ospf = None
    if any(i.ospf_area is not None for i in interfaces):
        ospf = Ospf(
            router_id=router_id, reference_bandwidth=settings.reference_bandwidth,
            spf_throttle=settings.spf_throttle, lsa_throttle=settings.lsa_throttle,
            lsa_min_arrival=settings.lsa_min_arrival,
            default_originate=name in settings.default_originate,
            redistribute_bgp=settings.redistribute_bgp.get(name),
        )
    bgp = _bgp(index, name, router_id)
    lists: set[str] = set()
    if bgp:
        lists |= {p for n in bgp.neighbors for p in (n.import_policy, n.export_policy)}
    if ospf and ospf.redistribute_bgp:
        lists.add(ospf.redistribute_bgp)
    statics = tuple(StaticRoute(r.prefix, str(r.next_hop), r.description)
                    for r in index.statics.get(name, ()))
    peers = tuple(n.address for n in bgp.neighbors) if bgp else ()
    nat = tuple(n for n in (_nat(intent, u) for u in index.uplinks.get(name, ()))
                if n.masquerade or n.pool or n.published)
    return Device(
        **_common(index, name),  # type: ignore[arg-type]
        interfaces=tuple(interfaces), ospf=ospf, bgp=bgp,
        prefix_lists=_prefix_lists(intent, lists), static_routes=statics,
        firewall=dataclasses.replace(index.firewall, bgp_peers=peers), nat=nat,
        sources=index.all_files,
    )


def _switch(index: _Index, name: str) -> Device:
    intent = index.intent
    host = intent.hosts[name]
    site = intent.sites[host.data.site]
    interfaces, vlan_ids = _switch_interfaces(index, name, site)
    mgmt_vlan = site.switches[name].management.vlan
    gateway = next(v.gateway_address for v in site.vlans if v.id == mgmt_vlan)
    vlans = tuple(Vlan(v.id, v.name, v.zone) for v in site.vlans if v.id in vlan_ids)
    sources = {"intent/network.yaml", "intent/topology.yaml", site.at().file}
    return Device(
        **_common(index, name),  # type: ignore[arg-type]
        interfaces=tuple(interfaces), vlans=vlans, default_gateway=gateway,
        sources=frozenset(sources) | index.inventory_files,
    )


def design(intent: Intent) -> dict[str, Device]:
    """One :class:`Device` per inventory host, in name order."""
    index = _Index.of(intent)
    devices = {}
    for name in sorted(intent.hosts):
        host = intent.hosts[name]
        if host.platform == "frr":
            devices[name] = _router(index, name)
        else:
            devices[name] = _switch(index, name)
    return devices
