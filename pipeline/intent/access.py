"""Semantic rules of the access layer: trunks, the VLANs they carry, and each switch's way
up to its gateway.

Checked per switch, not per VLAN: a VLAN can be carried from the core and still miss the
one switch that uses it, if a trunk between two switches on that switch's path drops it.
So every switch's trunk path up to its site core (its gateway router) is found, and every
VLAN the switch uses (its access ports and its own management VLAN) must be on every
trunk of that path.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass

from pipeline.findings import Finding
from pipeline.intent.memo import shared
from pipeline.intent.model import Link, Site
from pipeline.intent.parse import Intent
from pipeline.intent.ports import vlan_list
from pipeline.intent.registry import found, rule, site_of


@dataclass(frozen=True)
class Trunk:
    link: Link
    peer: str
    carried: frozenset[int] | None  # None: the list does not parse (NP112 says so)

    @property
    def name(self) -> str:
        return f"{self.link.a.port} - {self.link.b.port}"


def _carried(link: Link) -> frozenset[int] | None:
    try:
        return frozenset(vlan_list(link.vlans))
    except ValueError:
        return None


@shared
def trunks(intent: Intent) -> dict[str, list[Trunk]]:
    """Device -> the trunks that end on it, each with the device at the other end."""
    graph: dict[str, list[Trunk]] = defaultdict(list)
    for link in intent.topology.links:
        if link.kind == "trunk":
            carried = _carried(link)
            graph[link.a.device].append(Trunk(link, link.b.device, carried))
            if link.b.device != link.a.device:
                graph[link.b.device].append(Trunk(link, link.a.device, carried))
    return graph


def uplink_path(graph: dict[str, list[Trunk]], switch: str, site: Site) -> list[Trunk] | None:
    """The trunks from ``switch`` up to its site core, switch side first, through the
    site's own switches only (breadth first: the shortest path); None if there is none."""
    came: dict[str, tuple[str, Trunk] | None] = {switch: None}
    todo = deque([switch])
    while todo:
        here = todo.popleft()
        for trunk in graph.get(here, []):
            there = trunk.peer
            if there in came or (there != site.core and there not in site.switches):
                continue
            came[there] = (here, trunk)
            if there == site.core:
                path = []
                step = came[there]
                while step is not None:
                    path.append(step[1])
                    step = came[step[0]]
                return path[::-1]
            todo.append(there)
    return None


@shared
def _paths(intent: Intent) -> dict[str, list[Trunk] | None]:
    """Switch -> its :func:`uplink_path`, for each switch :func:`_switches` gives."""
    graph = trunks(intent)
    return {name: uplink_path(graph, name, site) for site, name in _switches(intent)}


def _used(site: Site, name: str) -> set[int]:
    """The VLANs the switch needs (:func:`_uses` without the reasons: most switches need
    no reason told)."""
    switch = site.switches[name]
    return {g.vlan for g in switch.ports} | {switch.management.vlan}


def _uses(site: Site, name: str) -> dict[int, str]:
    """VLAN -> why the switch needs it (management, or which ports), defined VLANs only
    (an undefined one is NP122's)."""
    defined = {v.id for v in site.vlans}
    switch = site.switches[name]
    uses: dict[int, list[str]] = defaultdict(list)
    for group in switch.ports:
        where = group.at("vlan")
        uses[group.vlan].append(f"ports {group.interfaces} ({where.file}:{where.line})")
    uses[switch.management.vlan].insert(0, "its management")
    return {v: ", ".join(why) for v, why in sorted(uses.items()) if v in defined}


def _switches(intent: Intent) -> Iterator[tuple[Site, str]]:
    """(site, switch) for each switch whose site core is a router the inventory has."""
    for site in intent.sites.values():
        core = intent.hosts.get(site.core)
        if core is None or core.platform != "frr":
            continue  # NP109 / NP125
        for name in site.switches:
            host = intent.hosts.get(name)
            if host is not None and host.platform == "ios":
                yield site, name


@rule("NP128", "a VLAN a switch uses is not carried on its trunk path to its gateway")
def switch_vlans_carried(intent: Intent) -> Iterator[Finding]:
    paths = _paths(intent)
    for site, name in _switches(intent):
        path = paths[name]
        if path is None:
            continue  # NP129
        used = _used(site, name)
        if all(t.carried is None or used <= t.carried for t in path):
            continue
        uses = _uses(site, name)
        route = " -> ".join([name, *(t.peer for t in path)])
        for trunk in path:
            if trunk.carried is None:
                continue
            missing = [v for v in uses if v not in trunk.carried]
            if not missing:
                continue
            what = "; ".join(f"VLAN {v} for {uses[v]}" for v in missing)
            ids = ",".join(map(str, missing))
            it = "it" if len(missing) == 1 else "them"
            yield found(trunk.link.at("vlans"),
                        f"{name} needs {what}, but the trunk {trunk.name} on its way to its "
                        f"gateway {site.core} does not carry {it}",
                        f"add {ids} to this trunk's vlans (the path is {route})")


@rule("NP129", "a switch with no uplink to its gateway")
def switch_uplink(intent: Intent) -> Iterator[Finding]:
    graph, paths = trunks(intent), _paths(intent)
    for site, name in _switches(intent):
        if paths[name] is not None:
            continue
        ids = ",".join(map(str, _uses(site, name)))
        example = (f"{{a: {site.core}:<port>, b: {name}:<port>, kind: trunk, "
                   f"vlans: \"{ids}\"}}")
        if not graph.get(name):
            message = f"switch {name} has no uplink: no trunk in intent/topology.yaml ends on it"
        else:
            ends = ", ".join(sorted({t.peer for t in graph[name]}))
            message = (f"switch {name} has no uplink to its gateway {site.core}: its trunks "
                       f"(to {ends}) lead neither to {site.core} nor to a switch of site "
                       f"{site.name} that reaches it")
        yield found(site.at_entry("switches", name), message,
                    f"add a trunk from {site.core} (or from a switch that reaches it) to "
                    f"intent/topology.yaml links, e.g. {example}")


@rule("NP130", "a native VLAN on a trunk towards a router")
def native_towards_router(intent: Intent) -> Iterator[Finding]:
    for link in intent.topology.links:
        if link.kind != "trunk" or link.native_vlan is None:
            continue
        for end in (link.a, link.b):
            host = intent.hosts.get(end.device)
            if host is not None and host.platform == "frr":
                yield found(link.at("native_vlan"),
                            f"trunk {link.a.port} - {link.b.port}: native VLAN "
                            f"{link.native_vlan} towards router {end.device}, which has only "
                            f"tagged subinterfaces ({end.interface}.{link.native_vlan}): the "
                            "switch would send that VLAN untagged and the router drop it",
                            "remove native_vlan from this trunk: every VLAN stays tagged")
                break


@rule("NP131", "a trunk's native VLAN is not in its allowed list")
def native_allowed(intent: Intent) -> Iterator[Finding]:
    for link in intent.topology.links:
        if link.kind != "trunk" or link.native_vlan is None:
            continue
        carried = _carried(link)
        if carried is not None and link.native_vlan not in carried:
            yield found(link.at("native_vlan"),
                        f"trunk {link.a.port} - {link.b.port}: native VLAN {link.native_vlan} "
                        "is not in the trunk's vlans, so the trunk would not carry it",
                        f"add {link.native_vlan} to vlans, or remove native_vlan")


@rule("NP112", "trunk carries a VLAN the site does not define")
def trunk_vlans(intent: Intent) -> Iterator[Finding]:
    defined_in: dict[str, set[int]] = {}
    for link in intent.topology.links:
        if link.kind != "trunk":
            continue
        try:
            carried = vlan_list(link.vlans)
        except ValueError as exc:
            yield found(link.at("vlans"), str(exc), "write VLAN lists as '10,20-30'")
            continue
        native_checked: set[str] = set()
        for end in (link.a, link.b):
            site = site_of(intent, end.device)
            if site is None:
                continue
            if site.name not in defined_in:
                defined_in[site.name] = {v.id for v in site.vlans}
            defined = defined_in[site.name]
            missing = [v for v in carried if v not in defined]
            if missing:
                yield found(link.at("vlans"), f"trunk {end.port} carries VLAN(s) "
                            f"{','.join(map(str, missing))} not defined in site {site.name}",
                            f"define them in {site.at().file} or remove them from the trunk")
            native = link.native_vlan
            if native is not None and native not in defined and site.name not in native_checked:
                native_checked.add(site.name)
                yield found(link.at("native_vlan"), f"trunk {end.port}: native VLAN {native} "
                            f"is not defined in site {site.name}",
                            f"define it in {site.at().file} or fix the id")


@rule("NP122", "access port in a VLAN the site does not define")
def access_vlans(intent: Intent) -> Iterator[Finding]:
    for site in intent.sites.values():
        defined = {v.id for v in site.vlans}
        for name, switch in site.switches.items():
            if switch.management.vlan not in defined:
                yield found(switch.management.at("vlan"), f"{name}: management VLAN "
                            f"{switch.management.vlan} is not defined in site {site.name}",
                            "add the VLAN to the site's vlans")
            for group in switch.ports:
                if group.vlan not in defined:
                    yield found(group.at("vlan"), f"{name}: ports {group.interfaces} are in "
                                f"VLAN {group.vlan}, which site {site.name} does not define",
                                "add the VLAN to the site's vlans or fix the id")


@rule("NP123", "VLAN not carried to its gateway exactly once")
def vlan_gateway_path(intent: Intent) -> Iterator[Finding]:
    graph = trunks(intent)
    for site in intent.sites.values():
        if site.core not in intent.hosts:
            continue
        count: dict[int, int] = defaultdict(int)
        for trunk in graph.get(site.core, []):
            for vid in trunk.carried or ():
                count[vid] += 1
        for vlan in site.vlans:
            if count[vlan.id] != 1:
                how = "no trunk" if not count[vlan.id] else f"{count[vlan.id]} trunks"
                yield found(vlan.at("id"), f"VLAN {vlan.id} reaches its gateway {site.core} "
                            f"over {how}", f"carry it on exactly one trunk from {site.core}")
