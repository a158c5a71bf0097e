"""Interface names: expand port ranges and normalise names per platform.

``GigabitEthernet1/0/1-4`` is how engineers write a block of ports; IOS accepts
abbreviations (``Gi1/0/1``) that must compare equal to the full name, Linux does not.
"""

from __future__ import annotations

import re

from netutils.interface import canonical_interface_name

_RANGE = re.compile(r"^(?P<prefix>.*?)(?P<lo>\d+)-(?P<hi>\d+)$")
MAX_RANGE = 1024


def normalise(name: str, platform: str) -> str:
    """The canonical spelling of ``name`` on ``platform`` (IOS abbreviations expanded)."""
    name = name.strip()
    if platform == "ios":
        return str(canonical_interface_name(name))
    return name


def expand(spec: str | list[str], platform: str) -> list[str]:
    """``"Gi1/0/1-3, Gi1/0/10"`` -> the four full interface names, in order.

    Raises ValueError on a malformed or reversed range.
    """
    items = spec if isinstance(spec, list) else spec.split(",")
    names: list[str] = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        match = _RANGE.match(item)
        if not match:
            names.append(normalise(item, platform))
            continue
        lo, hi = int(match["lo"]), int(match["hi"])
        if hi < lo or hi - lo >= MAX_RANGE:
            raise ValueError(f"bad port range {item!r}")
        names.extend(normalise(f"{match['prefix']}{n}", platform) for n in range(lo, hi + 1))
    return names


def vlan_list(spec: list[int] | str) -> list[int]:
    """``"110-130,199"`` (or a list of ints) -> sorted VLAN ids; ValueError if malformed."""
    if isinstance(spec, list):
        return sorted(set(spec))
    ids: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise ValueError(f"bad VLAN list item {part!r}")
        start, end = int(lo), int(hi or lo)
        if end < start:
            raise ValueError(f"reversed VLAN range {part!r}")
        ids.update(range(start, end + 1))
    return sorted(ids)
