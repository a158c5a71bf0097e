"""Semantic rules: what a schema cannot see (the access layer's are in ``access``).

Each rule registers itself (``registry.rule``) with a stable code, a title and a
severity; ``docs/rules.md`` lists every code (a test keeps the two in step).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cache, lru_cache
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic.fields import FieldInfo

from pipeline.findings import Finding, Loc, Severity, excerpt
from pipeline.intent import access, nat  # also register the access-layer and NAT rules
from pipeline.intent.derive import (
    end_ospf,
    link_addresses,
    parse_service,
    prefix_key,
    supernet_keys,
    zone_prefixes,
)
from pipeline.intent.memo import shared
from pipeline.intent.model import Link, Node, SecretOf
from pipeline.intent.parse import Intent
from pipeline.intent.ports import expand, expanded, normalise
from pipeline.intent.registry import RULES, check, did_you_mean, rule
from pipeline.intent.registry import found as _f
from pipeline.intent.shadow import shadowing

__all__ = ["RULES", "check"]

IOS_RESERVED_VLANS = range(1002, 1006)

# --------------------------------------------------------------------------- secrets


def _secret_kind(info: FieldInfo) -> str | None:
    """The kind a ``*_secret`` field names (its ``SecretOf`` marker), Optional included."""
    todo: list[Any] = [*info.metadata, *get_args(info.annotation)]
    while todo:
        item = todo.pop()
        if isinstance(item, SecretOf):
            return item.kind
        todo.extend(getattr(item, "__metadata__", ()))
        todo.extend(get_args(item))
    return None


@cache
def _secret_fields(cls: type[Node]) -> tuple[tuple[str, str, str | None], ...]:
    """(field, name as written, kind or None) for each field of a model class that names a
    secret or may hold a model that does, once per class (the rest are never walked)."""
    return tuple((field, info.alias or field, kind)
                 for field, info in cls.model_fields.items()
                 if (kind := _secret_kind(info)) is not None or _may_hold(info.annotation))


def _may_hold(annotation: Any) -> bool:
    """Whether a value of this type may hold a model with a secret in it (unknown types,
    ``Any`` included, may)."""
    todo, seen = [annotation], set()
    while todo:
        item = todo.pop()
        if isinstance(item, type) and issubclass(item, Node):
            if item not in seen:
                seen.add(item)
                if _secret_fields(item):
                    return True
            continue
        origin, args = get_origin(item), get_args(item)
        if origin is Annotated:
            todo.append(args[0])  # the rest is metadata
        elif origin is Literal:
            continue
        elif args:
            todo.extend(args)
        elif not isinstance(item, type) and item is not None:  # Any, or not understood
            return True
    return False


def secret_refs(node: Any) -> Iterator[tuple[str, str, Loc]]:
    """(variable, kind, where) for every secret the intent names, at any depth."""
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from secret_refs(item)
    elif isinstance(node, dict):
        for item in node.values():
            yield from secret_refs(item)
    elif isinstance(node, Node):
        for field, written, kind in _secret_fields(type(node)):
            value = getattr(node, field)
            if kind is not None and isinstance(value, str):
                yield value, kind, node.at(written)
            elif isinstance(value, (Node, list, tuple, dict)):
                yield from secret_refs(value)


@rule("NP030", "secret not declared, declared as another kind, or a device login")
def declared_secrets(intent: Intent) -> Iterator[Finding]:
    declared = intent.network.secrets
    logins = {var for h in intent.hosts.values() if h.data.credentials
              for var in (h.data.credentials.username_env, h.data.credentials.password_env)}
    for name in sorted(set(declared) & logins):
        yield _f(intent.network.at_entry("secrets", name), f"{name} is a device login "
                 "(inventory credentials): it can never be used in a config",
                 "declare a separate variable for the config secret")
    models = (intent.network, intent.topology, intent.routing, intent.firewall,
              *intent.sites.values())
    for name, kind, loc in secret_refs(models):
        if name not in declared:
            yield _f(loc, f"secret {name} is not declared",
                     f"declare it in intent/network.yaml: secrets: {{{name}: {kind}}}")
        elif declared[name] != kind:
            yield _f(loc, f"secret {name} is declared as {declared[name]}, used here as {kind}",
                     "declare one variable per use: each kind has its own allowed characters")


_DNS_NAME = re.compile(r"(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]+\Z")


@rule("NP023", "device address outside the network")
def device_address(intent: Intent) -> Iterator[Finding]:
    """netpipe sends the device login to ``hostname``: a merge request must not be able to
    point it at a machine of its own."""
    fw = intent.firewall
    own = {prefix_key(p) for z, ps in zone_prefixes(intent).items() for p in ps
           if p.prefixlen > 0 and not (fw.zones.get(z) and fw.zones[z].default)}
    own |= {prefix_key(link.subnet) for link in intent.topology.links if link.subnet}
    own |= {prefix_key(h.data.loopback.network) for h in intent.hosts.values()
            if h.data.loopback is not None}  # not uplinks: their far end is someone else's
    own |= {prefix_key(p) for site in intent.sites.values() for p in site.pools}
    domain = intent.network.domain
    # The own prefixes have a handful of lengths: an address is inside one of them when its
    # top bits at one of those lengths are a key (not 33 supernets per host, each made).
    lengths = sorted({length for _, length in own}, reverse=True)
    for name, host in sorted(intent.hosts.items()):
        try:
            address = IPv4Address(host.hostname)
        except ValueError:
            if not (host.hostname.endswith("." + domain) and _DNS_NAME.match(host.hostname)):
                yield _f(host.at("hostname"), f"{name}: hostname {excerpt(host.hostname)} is "
                         f"neither an address of the network nor a name under {domain}",
                         "the device login is sent to this address: write the device's "
                         "management address")
            continue
        bits = int(address)
        if not any(((bits >> (32 - n)) << (32 - n), n) in own for n in lengths):
            yield _f(host.at("hostname"), f"{name}: hostname {address} is outside the network's "
                     "own prefixes (site pools, zones' VLANs and networks, links, loopbacks)",
                     "the device login is sent to this address: write the device's "
                     "management address")


# --------------------------------------------------------------------------- VLANs


@rule("NP101", "duplicate VLAN id in a site")
def duplicate_vlan(intent: Intent) -> Iterator[Finding]:
    for site in intent.sites.values():
        seen: dict[int, Loc] = {}
        for vlan in site.vlans:
            if vlan.id in seen:
                yield _f(vlan.at("id"), f"VLAN {vlan.id} is defined twice in site {site.name} "
                         f"(first at line {seen[vlan.id].line})", "give each VLAN its own id")
            else:
                seen[vlan.id] = vlan.at("id")


@rule("NP102", "VLAN id out of range 1-4094")
def vlan_range(intent: Intent) -> Iterator[Finding]:
    for site in intent.sites.values():
        for vlan in site.vlans:
            if not 1 <= vlan.id <= 4094:
                yield _f(vlan.at("id"), f"VLAN id {vlan.id} is out of range",
                         "VLAN ids are 1 to 4094")


@rule("NP103", "VLAN id reserved on IOS (1002-1005)")
def vlan_reserved(intent: Intent) -> Iterator[Finding]:
    with_ios = {h.data.site for h in intent.hosts.values() if h.platform == "ios"}
    for site in intent.sites.values():
        if site.name not in with_ios:
            continue
        for vlan in site.vlans:
            if vlan.id in IOS_RESERVED_VLANS:
                yield _f(vlan.at("id"), f"VLAN {vlan.id} is reserved on Cisco IOS",
                         "IOS keeps 1002-1005 for FDDI/Token Ring: pick another id")


# --------------------------------------------------------------------------- addressing


@dataclass(frozen=True)
class _Addr:
    address: IPv4Interface
    owner: str
    loc: Loc


@shared
def _assigned(intent: Intent) -> list[_Addr]:
    """Every address the intent puts on an interface, with where it was written."""
    result: list[_Addr] = []
    for site in intent.sites.values():
        for vlan in site.vlans:
            iface = IPv4Interface((int(vlan.gateway_address), vlan.subnet.prefixlen))
            result.append(_Addr(iface, f"gateway of VLAN {vlan.id}",
                                vlan.at("gateway") if vlan.gateway else vlan.at("subnet")))
        for name, switch in site.switches.items():
            result.append(_Addr(switch.management.address, f"{name} management",
                                switch.management.at("address")))
    for link in intent.topology.links:
        a_addr, b_addr = link_addresses(link)
        for end, addr in ((link.a, a_addr), (link.b, b_addr)):
            if addr is not None:
                loc = end.at("address") if end.address else link.at("subnet")
                result.append(_Addr(addr, end.port, loc))
    for up in intent.topology.uplinks:
        result.append(_Addr(up.address, f"{up.device}:{up.interface}", up.at("address")))
    for name, host in sorted(intent.hosts.items()):
        if host.data.loopback is not None:
            result.append(_Addr(host.data.loopback, f"{name} loopback",
                                host.data.at("loopback")))
    return result


@dataclass(frozen=True)
class _Net:
    network: IPv4Network
    owner: str
    loc: Loc


@shared
def _subnets(intent: Intent) -> list[_Net]:
    nets: list[_Net] = []
    for site in intent.sites.values():
        nets += [_Net(v.subnet, f"VLAN {v.id} ({site.name})", v.at("subnet")) for v in site.vlans]
    for link in intent.topology.links:
        if link.subnet is not None:
            nets.append(_Net(link.subnet, f"link {link.a.port}-{link.b.port}", link.at("subnet")))
    for up in intent.topology.uplinks:
        nets.append(_Net(up.address.network, f"uplink {up.name}", up.at("address")))
    for name, host in sorted(intent.hosts.items()):
        if host.data.loopback is not None:
            nets.append(_Net(host.data.loopback.network, f"{name} loopback",
                             host.data.at("loopback")))
    return nets


@rule("NP104", "overlapping subnets")
def overlapping(intent: Intent) -> Iterator[Finding]:
    for wider, inner in _nested(_subnets(intent)):
        yield _f(wider.loc, f"{wider.owner} {wider.network} overlaps {inner.owner} "
                 f"{inner.network} ({inner.loc})", "give every segment its own prefix")


def _nested(nets: list[_Net]) -> Iterator[tuple[_Net, _Net]]:
    """(wider, narrower) for every prefix inside another, distinct one: n·log n.

    IPv4 prefixes are nested or disjoint, so sorted by start address (wider first), each
    prefix lies inside the nearest one still open on a stack, or inside none. The wider
    prefix is the one blamed (a /23 typed for a /24); equal prefixes are NP105's.
    """
    first: dict[IPv4Network, _Net] = {}
    for net in sorted(nets, key=lambda n: n.loc):
        first.setdefault(net.network, net)
    open_: list[_Net] = []
    for net in sorted(first.values(), key=lambda n: (int(n.network.network_address),
                                                    n.network.prefixlen)):
        start = int(net.network.network_address)
        while open_ and int(open_[-1].network.broadcast_address) < start:
            open_.pop()
        if open_:
            yield open_[-1], net
        open_.append(net)


@rule("NP105", "duplicate subnet")
def duplicate_subnet(intent: Intent) -> Iterator[Finding]:
    owners: dict[IPv4Network, list[_Net]] = defaultdict(list)
    for net in _subnets(intent):
        owners[net.network].append(net)
    for same in owners.values():
        earlier, *later_ones = sorted(same, key=lambda n: n.loc)
        for later in later_ones:
            yield _f(later.loc, f"{later.owner} reuses subnet {later.network} of "
                     f"{earlier.owner} ({earlier.loc})", "give every segment its own prefix")


@rule("NP106", "address outside its subnet")
def outside_subnet(intent: Intent) -> Iterator[Finding]:
    for site in intent.sites.values():
        for vlan in site.vlans:
            if vlan.gateway is not None and vlan.gateway not in vlan.subnet:
                yield _f(vlan.at("gateway"), f"gateway {vlan.gateway} of VLAN {vlan.id} is not "
                         f"in its subnet {vlan.subnet}", "pick an address inside the subnet")
        subnets = {v.id: v.subnet for v in site.vlans}
        for name, switch in site.switches.items():
            subnet = subnets.get(switch.management.vlan)
            if subnet is not None and switch.management.address.network != subnet:
                yield _f(switch.management.at("address"), f"{name} management address "
                         f"{switch.management.address} is not in VLAN "
                         f"{switch.management.vlan} ({subnet})",
                         "use an address and prefix length of the management VLAN")
    for link in intent.topology.links:
        for end in (link.a, link.b):
            if end.address and link.subnet and end.address.network != link.subnet:
                yield _f(end.at("address"), f"{end.port} address {end.address} is not in the "
                         f"link subnet {link.subnet}", "use an address of the link subnet")
    for up in intent.topology.uplinks:
        if up.peer.address not in up.address.network:
            continue  # NP115 reports this one: the session cannot come up
        if up.peer.address == up.address.ip:
            yield _f(up.peer.at("address"), f"uplink {up.name}: peer address equals ours",
                     "the peer needs its own address in the link subnet")


@rule("NP107", "address is the network or broadcast address of its subnet")
def network_broadcast(intent: Intent) -> Iterator[Finding]:
    for item in _assigned(intent):
        length = item.address.network.prefixlen
        if length >= 31:
            continue
        hostmask = (1 << (32 - length)) - 1
        host = int(item.address) & hostmask  # by integers: 60,000 addresses at 5,002 devices
        if host in (0, hostmask):
            kind = "network" if host == 0 else "broadcast"
            yield _f(item.loc, f"{item.owner} uses the {kind} address {item.address.ip} of "
                     f"{item.address.network}", "use a host address")


@rule("NP108", "duplicate IP address")
def duplicate_ip(intent: Intent) -> Iterator[Finding]:
    seen: dict[IPv4Address, _Addr] = {}
    for item in sorted(_assigned(intent), key=lambda a: a.loc):
        first = seen.get(item.address.ip)
        if first is not None:
            yield _f(item.loc, f"{item.owner} uses {item.address.ip}, already used by "
                     f"{first.owner} ({first.loc})", "every interface needs its own address")
        else:
            seen[item.address.ip] = item


@shared
def _connected(intent: Intent) -> dict[str, list[IPv4Interface]]:
    """Device -> the addresses on its interfaces (link ends, uplinks, the VLAN gateways a
    site core holds, a switch's management address, loopbacks)."""
    own: dict[str, list[IPv4Interface]] = defaultdict(list)
    for link in intent.topology.links:
        for end, addr in zip((link.a, link.b), link_addresses(link), strict=True):
            if addr is not None:
                own[end.device].append(addr)
    for up in intent.topology.uplinks:
        own[up.device].append(up.address)
    graph = access.trunks(intent)
    for site in intent.sites.values():
        carried = {v for t in graph.get(site.core, []) for v in t.carried or ()}
        own[site.core] += [IPv4Interface(f"{v.gateway_address}/{v.subnet.prefixlen}")
                           for v in site.vlans if v.id in carried]
        for name, switch in site.switches.items():
            own[name].append(switch.management.address)
    for name, host in intent.hosts.items():
        if host.data.loopback is not None:
            own[name].append(host.data.loopback)
    return own


@rule("NP133", "a static route's next hop is on none of the device's subnets")
def static_next_hop(intent: Intent) -> Iterator[Finding]:
    connected: dict[str, list[IPv4Interface]] | None = None
    for route in intent.routing.static_routes:
        if route.next_hop == "blackhole" or route.device not in intent.hosts:
            continue
        connected = connected if connected is not None else _connected(intent)
        mine = connected.get(route.device, [])
        hop = route.next_hop
        if any(hop == a.ip for a in mine):
            yield _f(route.at("next_hop"), f"static route {route.prefix} on {route.device}: "
                     f"next hop {hop} is {route.device}'s own address",
                     "the next hop is the neighbour's address on a shared subnet")
        elif not any(hop in a.network for a in mine if a.network.prefixlen < 32):
            subnets = sorted({str(a.network) for a in mine if a.network.prefixlen < 32})
            shown = ", ".join(subnets[:6]) + (" …" if len(subnets) > 6 else "")
            yield _f(route.at("next_hop"), f"static route {route.prefix} on {route.device}: "
                     f"next hop {hop} is on none of {route.device}'s connected subnets",
                     f"a next hop must be a neighbour on one of {route.device}'s subnets "
                     f"({shown or 'none'}), or 'blackhole'")


# --------------------------------------------------------------------------- devices and links


def _device_refs(intent: Intent) -> Iterator[tuple[str, Loc, str]]:
    """(device name, where, what refers to it) for every device reference in the intent."""
    for link in intent.topology.links:
        for end in (link.a, link.b):
            yield end.device, end.at("port") if end.src else link.at(), "link end"
    for up in intent.topology.uplinks:
        yield up.device, up.at("device"), f"uplink {up.name}"
    for site in intent.sites.values():
        yield site.core, site.at("core"), f"core of site {site.name}"
        for name in site.switches:
            yield name, site.at_entry("switches", name), f"switch of site {site.name}"
    for route in intent.routing.static_routes:
        yield route.device, route.at("device"), "static route"
    for name in intent.routing.ospf.default_originate:
        yield name, intent.routing.ospf.at("default_originate"), "OSPF default_originate"
    for name in intent.routing.ospf.redistribute_bgp:
        yield (name, intent.routing.ospf.at_entry("redistribute_bgp", name),
               "OSPF redistribute_bgp")


@rule("NP109", "reference to a device the inventory does not have")
def unknown_device(intent: Intent) -> Iterator[Finding]:
    import difflib

    for name, loc, what in _device_refs(intent):
        if name not in intent.hosts:
            close = difflib.get_close_matches(name, sorted(intent.hosts), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "add it to inventory/hosts.yaml"
            yield _f(loc, f"{what} names unknown device {name!r}", hint)


def _ports(intent: Intent, device: str) -> frozenset[str] | None:
    host = intent.hosts.get(device)
    if host is None:
        return None
    try:
        return _port_set(expanded(host.data.interfaces, host.platform))
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def _port_set(ports: tuple[str, ...]) -> frozenset[str]:
    """Every switch of an estate has the same few interface lists: one set each."""
    return frozenset(ports)


_Use = tuple[str, tuple[str, ...], Loc, str]  # device, normalised interfaces, where, what


@shared
def _interface_uses(intent: Intent) -> list[_Use]:
    """(device, normalised interfaces, where, what) for every interface the intent uses: a
    link's or uplink's end, or a port group's ports together."""
    return list(_interface_uses_of(intent))


def _interface_uses_of(intent: Intent) -> Iterator[_Use]:
    for link in intent.topology.links:
        for end in (link.a, link.b):
            host = intent.hosts.get(end.device)
            platform = host.platform if host else "frr"
            yield (end.device, (normalise(end.interface, platform),),
                   end.at("port") if end.src else link.at(), f"link {link.a.port}-{link.b.port}")
    for up in intent.topology.uplinks:
        yield up.device, (up.interface,), up.at("interface"), f"uplink {up.name}"
    for site in intent.sites.values():
        for name, switch in site.switches.items():
            for group in switch.ports:
                try:
                    ports = expanded(group.interfaces, "ios")
                except ValueError:
                    continue
                yield name, ports, group.at("interfaces"), f"access ports {group.interfaces}"


@rule("NP110", "interface the device does not have")
def unknown_interface(intent: Intent) -> Iterator[Finding]:
    known: dict[str, frozenset[str] | None] = {}
    for device, ifaces, loc, what in _interface_uses(intent):
        if device not in known:
            known[device] = _ports(intent, device)
        ports = known[device]
        if ports is None or ports.issuperset(ifaces):
            continue
        for iface in ifaces:
            if iface not in ports:
                yield _f(loc, f"{what}: {device} has no interface {iface}",
                         f"{device} has: {_summary(ports)} (inventory/hosts.yaml)")


def _summary(ports: AbstractSet[str]) -> str:
    names = sorted(ports)
    return ", ".join(names) if len(names) <= 6 else f"{names[0]} … {names[-1]} ({len(names)})"


@rule("NP111", "interface used twice")
def interface_twice(intent: Intent) -> Iterator[Finding]:
    uses = _interface_uses(intent)
    count: dict[str, int] = {}
    union: dict[str, set[str]] = {}
    for device, ifaces, _, _ in uses:  # a device whose uses are all distinct is done
        count[device] = count.get(device, 0) + len(ifaces)
        union.setdefault(device, set()).update(ifaces)
    twice = {device for device, n in count.items() if n != len(union[device])}
    seen: dict[tuple[str, str], tuple[Loc, str]] = {}
    for device, ifaces, loc, what in uses:
        if device not in twice:
            continue
        for iface in ifaces:
            first = seen.get((device, iface))
            if first is not None and first[0] != loc:
                yield _f(loc, f"{device} {iface} is used by {what} and by {first[1]} "
                         f"({first[0]})", "an interface belongs to one link, uplink or port group")
            else:
                seen.setdefault((device, iface), (loc, what))


LINUX_NAME_MAX = 15
"""IFNAMSIZ (16) less the terminating NUL: ``ip link`` refuses a longer name."""
_LINUX_BAD = re.compile(r"[/:\s]")


def linux_name_problem(name: str) -> str | None:
    """Why Linux cannot have an interface of this name, or None."""
    if len(name) > LINUX_NAME_MAX:
        return f"is {len(name)} characters long; Linux allows at most {LINUX_NAME_MAX}"
    if _LINUX_BAD.search(name) or name in (".", ".."):
        return "holds '/', ':' or a space, which Linux does not allow in an interface name"
    return None


_LINUX_HINT = ("Linux interface names are at most 15 characters with no '/', ':' or space: "
               "give the port a shorter name on the box (a systemd .link file) and here")


@rule("NP132", "an interface name the platform cannot have")
def interface_names(intent: Intent) -> Iterator[Finding]:
    """frr devices are Linux: every port name, and every VLAN subinterface a site core gets
    (``<port>.<vlan>``), must be a name the kernel takes. IOS names are checked by the port
    parser (NP011, NP110)."""
    switches = {n for site in intent.sites.values() for n in site.switches}
    for name, host in sorted(intent.hosts.items()):
        if host.platform != "frr" or name in switches:  # a switch marked frr is NP125's
            continue
        try:
            ports = expand(host.data.interfaces, "frr")
        except ValueError:
            continue
        bad = [(p, why) for p in ports if (why := linux_name_problem(p)) is not None]
        if bad:
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            yield _f(host.data.at("interfaces"), f"{name}: interface {excerpt(bad[0][0])} "
                     f"{bad[0][1]}{more}", _LINUX_HINT)
    graph = access.trunks(intent)
    for site in intent.sites.values():
        core = intent.hosts.get(site.core)
        if core is None or core.platform != "frr":
            continue
        defined = {v.id for v in site.vlans}
        for trunk in graph.get(site.core, []):
            end = trunk.link.a if trunk.link.a.device == site.core else trunk.link.b
            if linux_name_problem(end.interface) is not None:
                continue  # reported above, at the inventory
            vids = sorted(defined & (trunk.carried or frozenset()))
            longest = max(vids, key=lambda v: len(str(v)), default=None)
            if longest is None:
                continue
            sub = f"{end.interface}.{longest}"
            if (why := linux_name_problem(sub)) is not None:
                room = LINUX_NAME_MAX - len(str(longest)) - 1
                yield _f(end.at("port") if end.src else trunk.link.at(),
                         f"{site.core}: the subinterface {sub} for VLAN {longest} on this "
                         f"trunk {why}", f"the port name may be at most {room} characters so "
                         f"that <port>.<vlan> fits: {_LINUX_HINT}")


@rule("NP113", "OSPF area mismatch across a link")
def ospf_area(intent: Intent) -> Iterator[Finding]:
    for link in intent.topology.links:
        (area_a, _), (area_b, _) = end_ospf(link, link.a), end_ospf(link, link.b)
        if area_a != area_b:
            yield _f(_end_loc(link), f"link {link.a.port}-{link.b.port}: OSPF area {area_a} "
                     f"on one end, {area_b} on the other",
                     "both ends of a link must be in the same area or no adjacency forms")


@rule("NP114", "OSPF cost differs across a link", Severity.WARNING)
def ospf_cost(intent: Intent) -> Iterator[Finding]:
    for link in intent.topology.links:
        (_, cost_a), (_, cost_b) = end_ospf(link, link.a), end_ospf(link, link.b)
        if cost_a != cost_b:
            yield _f(_end_loc(link), f"link {link.a.port}-{link.b.port}: OSPF cost {cost_a} "
                     f"one way, {cost_b} the other", "asymmetric costs route the two "
                     "directions differently; set one cost on the link unless that is meant")


def _end_loc(link: Link) -> Loc:
    for end in (link.b, link.a):
        if end.src is not None and (end.ospf_area is not None or end.ospf_cost is not None):
            return end.at("ospf_area" if end.ospf_area is not None else "ospf_cost")
    return link.at("ospf")


@rule("NP115", "BGP neighbour with no matching local address")
def bgp_neighbor(intent: Intent) -> Iterator[Finding]:
    for up in intent.topology.uplinks:
        if up.peer.address not in up.address.network:
            yield _f(up.peer.at("address"), f"uplink {up.name}: peer {up.peer.address} is not in "
                     f"{up.address.network}, the subnet of {up.device} {up.interface}",
                     "a directly connected eBGP peer must share the interface's subnet")
        if up.peer.asn == intent.network.asn:
            yield _f(up.peer.at("asn"), f"uplink {up.name}: peer AS {up.peer.asn} is our own AS",
                     "uplinks are eBGP: the peer has another AS")


@rule("NP124", "reference to an undefined prefix list")
def prefix_lists(intent: Intent) -> Iterator[Finding]:
    known = intent.routing.prefix_lists
    for up in intent.topology.uplinks:
        for key in ("import_policy", "export_policy"):
            name = getattr(up, key)
            if name not in known:
                yield _f(up.at(key), f"uplink {up.name}: prefix list {name!r} is not defined",
                         "define it under prefix_lists in intent/routing.yaml")
    for device, name in intent.routing.ospf.redistribute_bgp.items():
        if name not in known:
            yield _f(intent.routing.ospf.at_entry("redistribute_bgp", device),
                     f"{device}: prefix list {name!r} is not defined",
                     "define it under prefix_lists in intent/routing.yaml")


@rule("NP125", "inventory and sites disagree")
def inventory_sites(intent: Intent) -> Iterator[Finding]:
    switches = {n for s in intent.sites.values() for n in s.switches}
    for name, host in sorted(intent.hosts.items()):
        if host.data.site not in intent.sites:
            yield _f(host.data.at("site"), f"{name}: unknown site {host.data.site!r}",
                     f"sites are: {', '.join(sorted(intent.sites))}")
        elif host.platform == "ios" and name not in switches:
            yield _f(host.at(), f"{name} is an IOS switch no site describes",
                     f"add it under switches in {intent.sites[host.data.site].at().file}")
    for site in intent.sites.values():
        core = intent.hosts.get(site.core)
        if core is not None and core.platform != "frr":
            yield _f(site.at("core"), f"site core {site.core} is {core.platform}, not frr",
                     "VLAN gateways and the zone firewall run on frr routers")
        for name in site.switches:
            switch = intent.hosts.get(name)
            if switch is not None and switch.platform != "ios":
                yield _f(site.at_entry("switches", name), f"switch {name} is {switch.platform}, "
                         "not ios",
                         "access switches are ios devices")
            elif switch is not None and switch.data.site != site.name:
                yield _f(site.at_entry("switches", name), f"switch {name} belongs to site "
                         f"{switch.data.site} in the inventory", "move it to the right site")


# --------------------------------------------------------------------------- firewall


@rule("NP116", "reference to an unknown zone")
def unknown_zone(intent: Intent) -> Iterator[Finding]:
    zones = intent.firewall.zones
    for site in intent.sites.values():
        for vlan in site.vlans:
            if vlan.zone not in zones:
                yield _f(vlan.at("zone"), f"VLAN {vlan.id} is in unknown zone {vlan.zone!r}",
                         did_you_mean(vlan.zone, zones, "intent/firewall.yaml zones"))
    for up in intent.topology.uplinks:
        if up.zone not in zones:
            yield _f(up.at("zone"), f"uplink {up.name} is in unknown zone {up.zone!r}",
                     did_you_mean(up.zone, zones, "intent/firewall.yaml zones"))
    for name, group in intent.firewall.groups.items():
        if group.zone not in zones:
            yield _f(group.at("zone"), f"group {name} is in unknown zone {group.zone!r}",
                     did_you_mean(group.zone, zones, "zones"))


@rule("NP117", "reference to an unknown service")
def unknown_service(intent: Intent) -> Iterator[Finding]:
    services = intent.firewall.services
    for r in intent.firewall.rules:
        for svc in r.services:
            if svc not in services:
                yield _f(r.at("services"), f"rule {r.name}: unknown service {svc!r}",
                         did_you_mean(svc, services, "intent/firewall.yaml services"))
    for svc in intent.firewall.router_access:
        if svc not in services:
            yield _f(intent.firewall.at_entry("router_access", svc),
                     f"router_access: unknown service {svc!r}",
                     did_you_mean(svc, services, "services"))
    yield from nat.unknown_published_service(intent)


@rule("NP118", "rule or router_access entry names neither a zone nor an address group")
def unknown_group(intent: Intent) -> Iterator[Finding]:
    names = set(intent.firewall.zones) | set(intent.firewall.groups)
    where = "intent/firewall.yaml zones or groups"
    for r in intent.firewall.rules:
        for key, refs in (("from", r.from_), ("to", r.to)):
            for ref in refs:
                if ref not in names:
                    yield _f(r.at(key), f"rule {r.name}: {key} {ref!r} is no zone or group",
                             did_you_mean(ref, names, where))
    for svc, allowed in intent.firewall.router_access.items():
        for ref in allowed:
            if ref not in names:
                yield _f(intent.firewall.at_entry("router_access", svc),
                         f"router_access {svc}: {ref!r} is no zone or group",
                         did_you_mean(ref, names, where))
    for name in set(intent.firewall.zones) & set(intent.firewall.groups):
        yield _f(intent.firewall.groups[name].at(), f"group {name} has the name of a zone",
                 "rules could not tell them apart: rename the group")


@rule("NP127", "address group outside its zone")
def group_in_zone(intent: Intent) -> Iterator[Finding]:
    zones = {z: {prefix_key(p) for p in ps} for z, ps in zone_prefixes(intent).items()}
    for name, group in intent.firewall.groups.items():
        zone = intent.firewall.zones.get(group.zone)
        if zone is None or zone.default:
            continue
        held = zones.get(group.zone, set())
        for address in group.addresses:
            if not any(k in held for k in supernet_keys(address)):
                yield _f(group.at("addresses"), f"group {name}: {address} is not in zone "
                         f"{group.zone}", "a group is a part of its zone: fix the zone or address")


@rule("NP121", "zone with no VLAN", Severity.WARNING)
def empty_zone(intent: Intent) -> Iterator[Finding]:
    used = {v.zone for s in intent.sites.values() for v in s.vlans}
    for name, zone in intent.firewall.zones.items():
        if name not in used and not zone.networks and not zone.default:
            yield _f(zone.at(), f"zone {name} has no VLAN and no networks",
                     "assign a VLAN to it, give it networks, or remove it")


@rule("NP119", "rule fully shadowed by an earlier rule with the opposite action")
def shadowed(intent: Intent) -> Iterator[Finding]:
    for r, earlier, opposite in shadowing(intent):
        if opposite:
            yield _f(r.at(), f"rule {r.name} never matches: {', '.join(earlier)} already "
                     f"decide(s) all its traffic the other way", "move it above "
                     f"{earlier[0]} or narrow that rule")


@rule("NP120", "redundant rule (an earlier rule already does the same)", Severity.WARNING)
def redundant(intent: Intent) -> Iterator[Finding]:
    for r, earlier, opposite in shadowing(intent):
        if not opposite:
            yield _f(r.at(), f"rule {r.name} is redundant: {', '.join(earlier)} already "
                     f"{'allow' if r.action == 'allow' else 'deny'} all its traffic",
                     "remove it, or narrow the earlier rule")


def router_listeners(intent: Intent) -> dict[tuple[str, str], str]:
    """What a router itself answers on, by (protocol, port): its ssh server (the way netpipe
    and people manage it) and ping always, the SNMP agent when network.yaml configures one.
    NTP, syslog and DNS make a router a client only (chrony serves nobody)."""
    listeners = {("tcp", "22"): "ssh server", ("icmp", ""): "ping"}
    if intent.network.snmp is not None:
        listeners["udp", "161"] = "SNMP agent (network.yaml snmp)"
    return listeners


@rule("NP134", "router_access opens a port no router service listens on")
def router_access_unconfigured(intent: Intent) -> Iterator[Finding]:
    listeners = router_listeners(intent)
    for svc in intent.firewall.router_access:
        for spec in intent.firewall.services.get(svc, []):
            port = parse_service(spec)
            if (port.proto, port.ports) not in listeners:
                open_ = ", ".join(f"{p}/{n}" if n else p for p, n in sorted(listeners))
                yield _f(intent.firewall.at_entry("router_access", svc),
                         f"router_access {svc}: {spec} opens a port no service on the routers "
                         "listens on", f"routers answer only on {open_} (configure the service "
                         "in intent/network.yaml, or remove the entry)")
