"""Large networks made from the example: many VLANs in one site, many firewall rules.

Each function edits a copy of the example network in place; the benchmark times
``build`` on it. The VLANs go to the warehouse (wh-core1 and wh-sw1): a /26 each out of
10.64.0.0/10, zones in turn, all carried on the wh-core1 trunk. The rules reach 250 address
groups in the HQ server room, one service each, so that no rule shadows another.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path

WAREHOUSE = "intent/sites/warehouse.yaml"
TOPOLOGY = "intent/topology.yaml"
FIREWALL = "intent/firewall.yaml"
ZONES = ["office", "scanners", "cameras", "guest"]
RESERVED = range(1002, 1006)  # IOS keeps these
EXISTING = {310, 320, 399}


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path}: {old!r}"
    path.write_text(text.replace(old, new))


def many_vlans(root: Path, count: int) -> list[int]:
    """Add ``count`` VLANs to the warehouse; ids run from 1 upwards past the existing ones
    and IOS's reserved range, so more than 4,090 means ids over 4094 (which must fail)."""
    ids: list[int] = []
    vid = 1
    while len(ids) < count:
        if vid not in EXISTING and vid not in RESERVED:
            ids.append(vid)
        vid += 1
    subnets = IPv4Network("10.64.0.0/10").subnets(new_prefix=26)
    lines = [f"  - {{id: {vid}, name: V{vid}, zone: {ZONES[i % len(ZONES)]}, "
             f"subnet: {next(subnets)}}}" for i, vid in enumerate(ids)]
    _replace(root / WAREHOUSE, "switches:\n", "\n".join(lines) + "\nswitches:\n")
    carried = sorted(EXISTING | set(ids))
    _replace(root / TOPOLOGY, 'vlans: "310,320,399"', f'vlans: "{_ranges(carried)}"')
    return ids


def _ranges(ids: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3,7"."""
    runs: list[list[int]] = []
    for vid in ids:
        if runs and vid == runs[-1][1] + 1:
            runs[-1][1] = vid
        else:
            runs.append([vid, vid])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def many_rules(root: Path, count: int, groups: int = 250) -> None:
    """Add ``count`` allow rules, each from a user zone to one of ``groups`` server groups on
    its own TCP port."""
    path = root / FIREWALL
    text = path.read_text()
    services = "".join(f"  svc{i}: tcp/{10000 + i}\n" for i in range(count))
    hosts = IPv4Network("10.2.20.0/24").hosts()
    next(hosts)  # the gateway
    group_lines = "".join(f"  g{i}: {{zone: servers, addresses: [{next(hosts)}/32]}}\n"
                          for i in range(min(groups, 200)))
    rules = "".join(f"  - {{name: r{i}, from: {ZONES[i % len(ZONES)]}, to: g{i % min(groups, 200)}"
                    f", services: svc{i}}}\n" for i in range(count))
    text = text.replace("services:\n", "services:\n" + services, 1)
    text = text.replace("groups:\n", "groups:\n" + group_lines, 1)
    text = text.replace("rules:\n", "rules:\n" + rules, 1)
    path.write_text(text)
