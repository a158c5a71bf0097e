"""Post-deploy state checks: what the intent says each router should see, and whether it does.

Expectations are computed from the intent and the device facts; observations come from
NAPALM getters (``get_ospf_neighbors``, ``get_bgp_neighbors``) and the routing table, so
the same checks run on a lab namespace or on a production router over SSH.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Any, Protocol

from pipeline.design import Device
from pipeline.intent.parse import Intent


@dataclass(frozen=True)
class Expectation:
    device: str
    ospf_neighbors: dict[str, str] = field(default_factory=dict)  # router id -> interface
    bgp_peers: tuple[str, ...] = ()
    prefixes: tuple[IPv4Network, ...] = ()


@dataclass(frozen=True)
class Check:
    device: str
    kind: str  # ospf, bgp, route
    subject: str
    ok: bool
    detail: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """The same check in another report (the detail may differ)."""
        return (self.device, self.kind, self.subject)


class Observer(Protocol):
    """What verify needs of a device: NAPALM's getters plus the routing table."""

    def get_ospf_neighbors(self) -> dict[str, Any]: ...

    def get_bgp_neighbors(self) -> dict[str, Any]: ...

    def cli(self, commands: list[str], encoding: str = "text") -> dict[str, str]: ...


def _imported(intent: Intent, policy: str, prefix: IPv4Network) -> bool:
    for entry in intent.routing.prefix_lists.get(policy, []):
        if prefix == entry.prefix or (entry.le is not None and prefix.subnet_of(entry.prefix)
                                      and prefix.prefixlen <= entry.le):
            return True
    return False


def expectations(intent: Intent, devices: dict[str, Device]) -> dict[str, Expectation]:
    routers = {n: d for n, d in devices.items() if d.platform == "frr"}
    router_ids = {n: d.ospf.router_id for n, d in routers.items() if d.ospf}
    internal = [v.subnet for s in intent.sites.values() for v in s.vlans]
    internal += [d.loopback.network for d in routers.values() if d.loopback]
    external_everywhere: list[IPv4Network] = []
    external_local: dict[str, list[IPv4Network]] = {}
    ospf = intent.routing.ospf
    for up in intent.topology.uplinks:
        for prefix in up.peer.announces:
            if not _imported(intent, up.import_policy, prefix):
                continue
            external_local.setdefault(up.device, []).append(prefix)
            spread = (prefix.prefixlen == 0 and up.device in ospf.default_originate) or (
                up.device in ospf.redistribute_bgp
                and _imported(intent, ospf.redistribute_bgp[up.device], prefix))
            if spread:
                external_everywhere.append(prefix)
    result = {}
    for name, device in routers.items():
        neighbors: dict[str, str] = {}
        for link in intent.topology.links:
            if link.kind != "routed" or link.ospf is None:
                continue
            for end, peer in ((link.a, link.b), (link.b, link.a)):
                if end.device == name and peer.device in router_ids:
                    neighbors[str(router_ids[peer.device])] = end.interface
        peers = tuple(str(n.address) for n in device.bgp.neighbors) if device.bgp else ()
        prefixes = sorted({*internal, *external_everywhere, *external_local.get(name, [])})
        result[name] = Expectation(name, neighbors, peers, tuple(prefixes))
    return result


def observe_routes(device: Observer) -> set[IPv4Network]:
    """Prefixes with a selected route in the device's routing table."""
    text = device.cli(["show ip route json"])["show ip route json"]
    table = json.loads(text or "{}")
    return {IPv4Network(prefix) for prefix, entries in table.items()
            if any(e.get("selected") for e in entries)}


def check_device(exp: Expectation, device: Observer) -> list[Check]:
    checks: list[Check] = []
    ospf = device.get_ospf_neighbors().get("global", {}).get("neighbors", {})
    for router_id, iface in sorted(exp.ospf_neighbors.items()):
        state = ospf.get(router_id, {}).get("state", "absent")
        checks.append(Check(exp.device, "ospf", f"{router_id} on {iface}", state == "Full",
                            f"state {state}"))
    bgp = device.get_bgp_neighbors().get("global", {}).get("peers", {}) if exp.bgp_peers else {}
    for peer in exp.bgp_peers:
        up = bool(bgp.get(peer, {}).get("is_up"))
        checks.append(Check(exp.device, "bgp", peer, up, "Established" if up else "not up"))
    routes = observe_routes(device)
    for prefix in exp.prefixes:
        checks.append(Check(exp.device, "route", str(prefix), prefix in routes,
                            "" if prefix in routes else "missing from the routing table"))
    return checks
