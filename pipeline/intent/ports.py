"""Interface names: expand port ranges and normalise names per platform.

``GigabitEthernet1/0/1-4`` is how engineers write a block of ports; IOS accepts
abbreviations (``Gi1/0/1``) that must compare equal to the full name, Linux does not.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pipeline.findings import excerpt

_RANGE = re.compile(r"^(?P<prefix>.*?)(?P<lo>\d+)-(?P<hi>\d+)$")
MAX_RANGE = 256
"""Ports in one range: more than a stack member or a Linux box has (checked before expanding)."""
VLAN_MIN, VLAN_MAX = 1, 4094
_VLAN_ID = re.compile(r"[0-9]+\Z")


def prepare(platforms: set[str]) -> None:
    """Import now what normalising names of these platforms needs (netutils for IOS, 59 ms):
    :func:`parse` calls it while its child loads files, so that neither the rules' child
    forked later nor the design imports it again, and the import overlaps the child's work."""
    if "ios" in platforms:
        import netutils.interface  # noqa: F401


@lru_cache(maxsize=65536)
def normalise(name: str, platform: str) -> str:
    """The canonical spelling of ``name`` on ``platform`` (IOS abbreviations expanded).

    Cached: an estate spells the same few hundred port names on every switch."""
    name = name.strip()
    if platform == "ios":
        # Imported here: netutils' protocol tables cost 59 ms that the CLI's start-up (and
        # a network without IOS ports) need not pay.
        from netutils.interface import canonical_interface_name

        return str(canonical_interface_name(name))
    return name


def _ranges(spec: str | list[str] | tuple[str, ...]) -> list[tuple[str, int, int] | str]:
    """Items of a port spec: a name, or (prefix, lo, hi); ValueError before any expansion."""
    items = spec.split(",") if isinstance(spec, str) else spec
    result: list[tuple[str, int, int] | str] = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        match = _RANGE.match(item)
        if not match:
            result.append(item)
            continue
        if len(match["lo"]) > 6 or len(match["hi"]) > 6:
            raise ValueError(f"port range {excerpt(item)}: port numbers are at most 6 digits")
        lo, hi = int(match["lo"]), int(match["hi"])
        if hi < lo:
            raise ValueError(f"port range {excerpt(item)} is reversed")
        if hi - lo >= MAX_RANGE:
            raise ValueError(f"port range {excerpt(item)} holds {hi - lo + 1} ports, more "
                             f"than the {MAX_RANGE} a range may hold")
        result.append((match["prefix"], lo, hi))
    return result


def check(spec: str | list[str]) -> None:
    """ValueError if ``spec`` has a malformed, reversed or oversized range."""
    _checked(spec if isinstance(spec, str) else tuple(spec))


@lru_cache(maxsize=4096)
def _checked(spec: str | tuple[str, ...]) -> None:
    """check(), cached for the specs that pass (an error is raised, never kept): every
    switch of an estate spells the same few port ranges (18,500 checks at 5,002 devices)."""
    _ranges(spec)


def expand(spec: str | list[str], platform: str) -> list[str]:
    """``"Gi1/0/1-3, Gi1/0/10"`` -> the four full interface names, in order.

    Raises ValueError on a malformed, reversed or oversized range.
    """
    return list(_expanded(spec if isinstance(spec, str) else tuple(spec), platform))


def expanded(spec: str | list[str], platform: str) -> tuple[str, ...]:
    """:func:`expand` as a tuple shared by every caller of the same spec (no copy)."""
    return _expanded(spec if isinstance(spec, str) else tuple(spec), platform)


@lru_cache(maxsize=4096)
def _expanded(spec: str | tuple[str, ...], platform: str) -> tuple[str, ...]:
    """expand(), cached: every switch of an estate spells the same few port ranges."""
    names: list[str] = []
    for item in _ranges(spec):
        if isinstance(item, str):
            names.append(normalise(item, platform))
        else:
            prefix, lo, hi = item
            names.extend(normalise(f"{prefix}{n}", platform) for n in range(lo, hi + 1))
    return tuple(names)


def _vlan_id(text: str, part: str, top: int = VLAN_MAX) -> int:
    if not _VLAN_ID.match(text):
        raise ValueError(f"bad VLAN list item {excerpt(part)}")
    value = int(text) if len(text) <= 6 else top + 1
    if not VLAN_MIN <= value <= top:
        raise ValueError(f"VLAN list item {excerpt(part)} is outside {VLAN_MIN}-{VLAN_MAX}")
    return value


def vlan_list(spec: list[int] | str) -> list[int]:
    """``"110-130,199"`` (or a list of ints) -> sorted VLAN ids; ValueError if malformed.

    Both ends of a range are checked against 1-4094 before it is expanded.
    """
    if isinstance(spec, list):
        return sorted(set(spec))
    return list(_vlan_ids(spec))


@lru_cache(maxsize=4096)
def _vlan_ids(spec: str) -> tuple[int, ...]:
    """vlan_list() of a string, cached: trunks repeat the same lists."""
    ids: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        if not hi:  # a single id: NP102/NP112 judge it against the site's VLANs
            ids.add(_vlan_id(lo, part, 10**6 - 1))
            continue
        start, end = _vlan_id(lo, part), _vlan_id(hi, part)
        if end < start:
            raise ValueError(f"reversed VLAN range {excerpt(part)}")
        ids.update(range(start, end + 1))
    return tuple(sorted(ids))
