"""The Jinja environment: sandboxed, strict, and refusing config injection.

* ``SandboxedEnvironment``: templates live in the network repository and are edited
  by many hands; they must not reach Python internals.
* ``StrictUndefined``: a typo in a template is an error, never an empty string.
* ``finalize`` checks every value printed into a config: a control character or a
  newline there would let intent data add config lines of its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from pipeline.design import Match
from pipeline.intent.derive import Port
from pipeline.intent.loader import UNSAFE
from pipeline.secrets import placeholder


class InjectionError(ValueError):
    """A value bound for a config contains a control character or a line break."""


def _finalize(value: Any) -> Any:
    if isinstance(value, str) and UNSAFE.search(value):
        raise InjectionError(f"refusing to render a value with a control character: {value!r}")
    return value


def ospf_area(area: int) -> str:
    """FRR and IOS both accept the dotted form; areas print as 0.0.0.1, not 1."""
    return str(IPv4Address(area))


def nft_match(match: Match, direction: str) -> str:
    if match.outside:
        return f"ip {direction} != @internal "
    if match.set_name:
        return f"ip {direction} @{match.set_name} "
    return f"ip {direction} {{ {', '.join(str(p) for p in match.prefixes)} }} "


def nft_port(port: Port) -> str:
    if port.proto == "any":
        return ""
    if port.proto == "icmp":
        return "icmp type echo-request "
    return f"{port.proto} dport {port.ports} "


def nft_ports(ports: Iterable[Port]) -> list[str]:
    """One match per protocol: ``tcp dport { 80, 443 }``; ``any`` makes it one empty match."""
    by_proto: dict[str, list[str]] = defaultdict(list)
    for port in ports:
        if port.proto == "any":
            return [""]
        if port.ports not in by_proto[port.proto]:
            by_proto[port.proto].append(port.ports)
    result = []
    for proto, values in by_proto.items():
        if proto == "icmp":
            result.append("icmp type echo-request ")
        elif len(values) == 1:
            result.append(f"{proto} dport {values[0]} ")
        else:
            result.append(f"{proto} dport {{ {', '.join(values)} }} ")
    return result


def environment(template_dirs: list[Path]) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader([str(d) for d in template_dirs]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=_finalize,
    )
    env.filters.update(
        secret=placeholder, ospf_area=ospf_area, nft_match=nft_match, nft_port=nft_port,
        nft_ports=nft_ports,
    )
    return env
