"""Rules for NAT at an uplink (``topology.yaml``, ``uplinks[].nat``): a public address must
reach us through the uplink, and a published service needs the firewall rule that lets it in
(destination NAT only rewrites the address; the forward chain still decides)."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network

from pipeline.findings import Finding
from pipeline.intent.derive import Port, parse_service, zone_prefixes
from pipeline.intent.model import Publish, Rule, Uplink
from pipeline.intent.parse import Intent
from pipeline.intent.registry import did_you_mean, rule
from pipeline.intent.registry import found as _f


def _nat_uplinks(intent: Intent) -> Iterator[Uplink]:
    return (u for u in intent.topology.uplinks if u.nat is not None)


def published_ports(intent: Intent, publish: Publish) -> list[Port]:
    """The ports a published service forwards (empty when the service is unknown)."""
    return [parse_service(s) for s in intent.firewall.services.get(publish.service, [])]


def _inside(intent: Intent, address: IPv4Address) -> bool:
    fw = intent.firewall
    return any(address in p for z, ps in zone_prefixes(intent).items()
               if z in fw.zones and not fw.zones[z].default for p in ps)


def _holds(intent: Intent, ref: str, address: IPv4Address) -> bool:
    """Does a rule's ``to`` entry (a zone or an address group) hold ``address``?"""
    fw = intent.firewall
    if ref in fw.groups:
        return any(address in net for net in fw.groups[ref].addresses)
    zone = fw.zones.get(ref)
    if zone is None:
        return False
    if zone.default:
        return not _inside(intent, address)
    return any(address in net for net in zone_prefixes(intent).get(ref, ()))


def _covers(intent: Intent, r: Rule, ports: list[Port]) -> bool:
    have = [parse_service(s) for svc in r.services for s in intent.firewall.services.get(svc, [])]
    if any(h.proto == "any" for h in have):
        return True
    return all(any(h.proto == p.proto and h.range[0] <= p.range[0] and p.range[1] <= h.range[1]
                   for h in have) for p in ports)


def _deciding(intent: Intent, up: Uplink, publish: Publish) -> tuple[str, bool] | None:
    """(rule, allows) for the first rule that decides traffic from behind the uplink to the
    published host and ports; an allow from an address group of the uplink's zone counts too
    (published to those sources only), a deny from such a group does not decide."""
    ports = published_ports(intent, publish)
    groups = {n for n, g in intent.firewall.groups.items() if g.zone == up.zone}
    for r in intent.firewall.rules:
        if not (any(_holds(intent, t, publish.to) for t in r.to) and _covers(intent, r, ports)):
            continue
        if up.zone in r.from_:
            return r.name, r.action == "allow"
        if r.action == "allow" and groups & set(r.from_):
            return r.name, True
    return None


@rule("NP140", "published service that the firewall does not let in")
def published_without_rule(intent: Intent) -> Iterator[Finding]:
    for up in _nat_uplinks(intent):
        assert up.nat is not None
        for p in up.nat.publish:
            ports = published_ports(intent, p)
            if not ports or not _inside(intent, p.to) or any(
                    port.proto not in ("tcp", "udp") for port in ports):
                continue  # NP117's (an unknown service) or NP141's
            decided = _deciding(intent, up, p)
            hint = (f"add a rule to intent/firewall.yaml: from: {up.zone}, to: the zone or "
                    f"group holding {p.to}, services: {p.service}")
            if decided is None:
                yield _f(p.at("to"), f"{p.name}: no firewall rule lets {p.service} from "
                         f"{up.zone} in to {p.to}; the published service would be dropped",
                         hint)
            elif not decided[1]:
                yield _f(p.at("to"), f"{p.name}: rule {decided[0]} denies {p.service} from "
                         f"{up.zone} to {p.to}; the published service would be dropped",
                         f"narrow {decided[0]}, or put an allow rule above it")


def _announced(intent: Intent, up: Uplink) -> list[IPv4Network]:
    return [e.prefix for e in intent.routing.prefix_lists.get(up.export_policy, [])
            if e.prefix.prefixlen > 0]


def _ours(intent: Intent, up: Uplink, net: IPv4Network) -> bool:
    """Does traffic to ``net`` come back through the uplink: its own address, or a prefix
    it announces?"""
    return net.subnet_of(IPv4Network(up.address.ip)) or any(
        net.subnet_of(p) for p in _announced(intent, up))


@rule("NP141", "NAT entry that cannot work at its uplink")
def nat_entries(intent: Intent) -> Iterator[Finding]:
    for up in _nat_uplinks(intent):
        assert up.nat is not None
        where = (f"the uplink's address {up.address.ip} or a prefix its export policy "
                 f"{up.export_policy} announces")
        pool = up.nat.source
        if isinstance(pool, IPv4Network) and not _ours(intent, up, pool):
            yield _f(up.nat.at("source"), f"uplink {up.name}: source NAT pool {pool} is not "
                     "routed back to it, so no reply would return", f"use {where}")
        for p in up.nat.publish:
            if not _ours(intent, up, IPv4Network(p.address)):
                yield _f(p.at("address"), f"{p.name}: public address {p.address} does not "
                         f"reach uplink {up.name}", f"use {where}")
            ports = published_ports(intent, p)
            if any(port.proto not in ("tcp", "udp") for port in ports):
                yield _f(p.at("service"), f"{p.name}: service {p.service} has no ports to "
                         "forward", "publish a service of tcp/ or udp/ ports")
            if not _inside(intent, p.to):
                yield _f(p.at("to"), f"{p.name}: {p.to} is in no inside zone",
                         "publish an address of a VLAN or of a zone's networks")


def unknown_published_service(intent: Intent) -> Iterator[Finding]:
    """For NP117 (unknown service), which the firewall rules own."""
    services = intent.firewall.services
    for up in _nat_uplinks(intent):
        assert up.nat is not None
        for p in up.nat.publish:
            if p.service not in services:
                yield _f(p.at("service"), f"{p.name}: unknown service {p.service!r}",
                         did_you_mean(p.service, services, "intent/firewall.yaml services"))
