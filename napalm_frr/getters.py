"""Turn FRR and iproute2 JSON into NAPALM getter results (pure functions, unit-testable).

Sources: ``ip -j link``/``ip -j addr`` for kernel truth (state, MTU, MAC, addresses), vtysh
``show interface json`` for descriptions and speed, ``show bgp vrf all summary json`` and
``show bgp vrf all neighbors json`` for BGP, ``show ip ospf neighbor detail json`` for OSPF.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from napalm.base import helpers

_AFI = {"ipv4Unicast": "ipv4", "ipv6Unicast": "ipv6"}
_VERSION_RE = re.compile(r"^FRRouting (\S+) \(.*\) on (\S+?)\((\S+?)\)")


def os_version(show_version: str) -> str:
    """``FRRouting 8.4.4 on Linux 6.1.0`` from the first line of ``show version``."""
    first = show_version.strip().splitlines()[0] if show_version.strip() else ""
    match = _VERSION_RE.match(first)
    if match:
        return f"FRRouting {match.group(1)} on {match.group(2)} {match.group(3)}"
    return first.rstrip(".")


def interfaces(links: list[dict[str, Any]], frr: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """NAPALM ``get_interfaces`` from ``ip -j link`` plus vtysh ``show interface json``."""
    result: dict[str, dict[str, Any]] = {}
    for link in links:
        name = str(link["ifname"])
        flags = set(link.get("flags", []))
        info = frr.get(name, {})
        speed = info.get("speed")
        raw_mac = str(link.get("address") or "")
        try:
            mac = helpers.mac(raw_mac) if raw_mac else ""
        except Exception:  # netaddr rejects non-Ethernet link addresses
            mac = raw_mac
        result[name] = {
            "is_up": "UP" in flags and "LOWER_UP" in flags,
            "is_enabled": "UP" in flags,
            "description": str(info.get("description") or link.get("ifalias") or ""),
            "last_flapped": -1.0,  # neither the kernel nor FRR 8.4 report it
            "mtu": int(link.get("mtu", 0)),
            "speed": float(speed) if isinstance(speed, int | float) and speed > 0 else -1.0,
            "mac_address": mac,
        }
    return result


def interfaces_ip(addrs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """NAPALM ``get_interfaces_ip`` from ``ip -j addr``; interfaces without addresses omitted."""
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for link in addrs:
        for addr in link.get("addr_info", []):
            family = {"inet": "ipv4", "inet6": "ipv6"}.get(str(addr.get("family")))
            if family is None or "local" not in addr:
                continue
            ip = str(ipaddress.ip_address(str(addr["local"]).split("%")[0]))
            entry = result.setdefault(str(link["ifname"]), {}).setdefault(family, {})
            entry[ip] = {"prefix_length": int(addr["prefixlen"])}
    return result


def bgp_neighbors(summary: dict[str, Any], neighbors: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """NAPALM ``get_bgp_neighbors``: VRF ``default`` is reported as ``global``."""
    result: dict[str, dict[str, Any]] = {}
    vrfs = set(summary) | set(neighbors)
    for vrf in sorted(vrfs):
        vrf_summary = summary.get(vrf) or {}
        vrf_neighbors = neighbors.get(vrf) or {}
        key = "global" if vrf == "default" else vrf
        router_id = ""
        local_as = 0
        counts: dict[str, dict[str, dict[str, int]]] = {}
        for afi_name, afi in vrf_summary.items():
            if not isinstance(afi, dict) or afi_name not in _AFI:
                continue
            router_id = router_id or str(afi.get("routerId", ""))
            local_as = local_as or int(afi.get("as", 0))
            for peer, data in (afi.get("peers") or {}).items():
                counts.setdefault(peer, {})[_AFI[afi_name]] = {
                    "received_prefixes": int(data.get("pfxRcd", 0)),
                    "accepted_prefixes": int(data.get("pfxRcd", 0)),
                    "sent_prefixes": int(data.get("pfxSnt", 0)),
                }
        peers: dict[str, Any] = {}
        for peer, data in vrf_neighbors.items():
            if not isinstance(data, dict) or "remoteAs" not in data:
                continue  # vrfId/vrfName scalars sit beside the peers
            families = counts.get(peer, {})
            for afi_name, afi in (data.get("addressFamilyInfo") or {}).items():
                family = _AFI.get(afi_name)
                if family is None:
                    continue
                entry = families.setdefault(
                    family, {"received_prefixes": 0, "accepted_prefixes": 0, "sent_prefixes": 0}
                )
                if "acceptedPrefixCounter" in afi:
                    entry["accepted_prefixes"] = int(afi["acceptedPrefixCounter"])
                if "sentPrefixCounter" in afi:
                    entry["sent_prefixes"] = int(afi["sentPrefixCounter"])
            router_id = router_id or str(data.get("localRouterId", ""))
            is_up = data.get("bgpState") == "Established"
            peers[peer] = {
                "local_as": int(data.get("localAs", local_as)),
                "remote_as": int(data.get("remoteAs", 0)),
                "remote_id": str(data.get("remoteRouterId", "")),
                "is_up": is_up,
                "is_enabled": not bool(data.get("adminShutDown", False)),
                "description": str(data.get("nbrDesc", "")),
                "uptime": int(data.get("bgpTimerUpMsec", 0)) // 1000 if is_up else 0,
                "address_family": families,
            }
        if peers or router_id:
            result[key] = {"router_id": router_id, "peers": peers}
    return result


def ospf_neighbors(detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``get_ospf_neighbors`` (not in NAPALM's base; shape documented on the driver method)."""
    neighbors: dict[str, Any] = {}
    for router_id, entries in (detail.get("neighbors") or {}).items():
        for entry in entries if isinstance(entries, list) else [entries]:
            raw_state = str(entry.get("nbrState", entry.get("state", "")))
            state, _, role = raw_state.partition("/")
            neighbors[router_id] = {
                "address": str(entry.get("ifaceAddress", entry.get("address", ""))),
                "interface": str(entry.get("ifaceName", "")).split(":")[0],
                "state": state,
                "role": role if role and role != "-" else "",
                "area": str(entry.get("areaId", "")),
                "priority": int(entry.get("nbrPriority", entry.get("priority", 0))),
                "is_up": state == "Full",
            }
    return {"global": {"neighbors": neighbors}}
