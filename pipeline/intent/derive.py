"""Facts derived from the intent that both the semantic rules and the design need.

They live in the intent stage so that checking never depends on a later stage: the
rules ask the same questions (which address does this link end get? which prefixes
does this zone hold?) that the design answers, with the same code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv4Network, collapse_addresses
from typing import Literal

from pipeline.intent.memo import shared
from pipeline.intent.model import Link, LinkEnd
from pipeline.intent.parse import Intent


@dataclass(frozen=True)
class Port:
    proto: Literal["tcp", "udp", "icmp", "any"]
    ports: str = ""  # "502" or "1000-2000"

    @property
    def range(self) -> tuple[int, int]:
        """(low, high) port; (0, 65535) for icmp and any, which have no ports."""
        if not self.ports:
            return 0, 65535
        lo, _, hi = self.ports.partition("-")
        return int(lo), int(hi or lo)


def link_addresses(link: Link) -> tuple[IPv4Interface | None, IPv4Interface | None]:
    """Addresses of the two ends: explicit ones, else the first two usable of the subnet."""
    if link.kind != "routed" or link.subnet is None:
        return link.a.address, link.b.address
    length = link.subnet.prefixlen
    if length == 32:  # one address, no second end: the schema refuses such a link
        raise IndexError(f"{link.subnet} has one address")
    # A /31 has no network or broadcast address (RFC 3021); otherwise the first two hosts.
    first = int(link.subnet.network_address) + (0 if length == 31 else 1)
    return (link.a.address or IPv4Interface((first, length)),
            link.b.address or IPv4Interface((first + 1, length)))


def end_ospf(link: Link, end: LinkEnd) -> tuple[int | None, int | None]:
    """(area, cost) of one end: the end's own values, else the link's."""
    if link.ospf is None and end.ospf_area is None:
        return None, None
    area = end.ospf_area if end.ospf_area is not None else (link.ospf.area if link.ospf else 0)
    cost = end.ospf_cost or (link.ospf.cost if link.ospf else None)
    return area, cost


@shared
def zone_prefixes(intent: Intent) -> dict[str, list[IPv4Network]]:
    """Zone -> the prefixes it holds (VLAN subnets plus declared networks), collapsed."""
    result: dict[str, list[IPv4Network]] = {z: list(v.networks) for z, v in
                                            intent.firewall.zones.items()}
    for site in intent.sites.values():
        for vlan in site.vlans:
            result.setdefault(vlan.zone, []).append(vlan.subnet)
    return {z: sorted(collapse_addresses(p)) for z, p in result.items()}


PrefixKey = tuple[int, int]
"""A prefix as (network address, length): cheap to hash and to compare."""


def prefix_key(net: IPv4Network) -> PrefixKey:
    return int(net.network_address), net.prefixlen


def supernet_keys(net: IPv4Network) -> Iterator[PrefixKey]:
    """``net`` and every prefix holding it, longest first: a prefix lies inside a set of
    collapsed prefixes exactly when one of these is in the set (at most 33 lookups)."""
    address = int(net.network_address)
    for length in range(net.prefixlen, -1, -1):
        mask = ((1 << length) - 1) << (32 - length) if length else 0
        yield address & mask, length


def parse_service(spec: str) -> Port:
    if spec in ("any", "icmp"):
        return Port(spec)  # type: ignore[arg-type]
    proto, ports = spec.split("/")
    return Port(proto, ports)  # type: ignore[arg-type]
