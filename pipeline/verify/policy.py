"""The intended firewall policy as a function: which flows should pass?

Evaluated on the design's firewall facts exactly as nftables evaluates the rendered
ruleset: rules in order, first match wins, default deny. From outside (an address no zone
claims) to inside, a flow comes in only as a published service (destination NAT): an ISP
routes no private space.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from pipeline.design import Firewall, FirewallRule, Match, Published
from pipeline.intent.derive import Port


@dataclass(frozen=True)
class Flow:
    src: IPv4Address
    dst: IPv4Address
    proto: str  # tcp, udp, icmp
    port: int = 0


def in_match(match: Match, address: IPv4Address, internal: tuple[object, ...]) -> bool:
    if match.outside:
        return not any(address in net for net in internal)  # type: ignore[operator]
    return any(address in net for net in match.prefixes)


def port_matches(port: Port, flow: Flow) -> bool:
    if port.proto == "any":
        return True
    if port.proto != flow.proto:
        return False
    return port.proto == "icmp" or port.range[0] <= flow.port <= port.range[1]


def rule_matches(rule: FirewallRule, flow: Flow, fw: Firewall) -> bool:
    return (any(in_match(m, flow.src, fw.internal) for m in rule.sources)
            and any(in_match(m, flow.dst, fw.internal) for m in rule.destinations)
            and any(port_matches(p, flow) for p in rule.services))


def decide(fw: Firewall, flow: Flow) -> tuple[bool, str]:
    """(allowed, the deciding rule's name or "default")."""
    for rule in fw.rules:
        if rule_matches(rule, flow, fw):
            return rule.action == "allow", rule.name
    return False, "default"


def from_outside(fw: Firewall, flow: Flow) -> bool:
    """From an address no zone claims to one a zone does."""
    def outside(address: IPv4Address) -> bool:
        return not any(address in net for net in fw.internal)
    return outside(flow.src) and not outside(flow.dst)


def published_as(fw: Firewall, flow: Flow) -> Published | None:
    """The published service (public address and ports) that carries ``flow`` in, if any."""
    return next((p for p in fw.published if p.to == flow.dst
                 and any(port_matches(port, flow) for port in p.ports)), None)
