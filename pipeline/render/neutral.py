"""A router file with the router's own values replaced by fixed ones.

Routers' service files mostly differ only in the router's name and addresses, and each check
of one starts a daemon: the lint checks each neutral text once and gives its findings to every
router that shares it (:func:`pipeline.render.lint.lint`). A value is replaced only where its
exact value cannot change whether the file parses, and only when it is known to be safe:

* the router's name (the model's ``Name`` pattern, else it stays) in comment lines and as
  snmpd's ``sysName``;
* in an interfaces file, canonical IPv4 addresses (``address A/P``, unicast, P >= 8): one
  placeholder network per network, host part and prefix length kept, placeholders never
  overlapping each other;
* in an interfaces file, an ``alias`` made only of letters, digits, spaces and ``./_:,-``
  (anything else stays and is checked as written).

No line is added or removed, so a finding's line holds for every router sharing the text.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Interface, IPv4Network, ip_address
from typing import NamedTuple

from pipeline.intent.model import NAME_PATTERN

NAME = "netpipe-router"
"""Stands for the router's name: itself a valid name."""
_NAME = re.compile(NAME_PATTERN)
_ADDRESS = re.compile(r"(\s+address )(\S+)")
_SAFE = "A-Za-z0-9./_:,-"
_ALIAS = re.compile(rf"(\s+alias )([{_SAFE}](?:[ {_SAFE}]{{0,198}}[{_SAFE}])?)")
_PLACEHOLDERS = IPv4Network("10.0.0.0/8")


class Neutral(NamedTuple):
    text: str
    values: tuple[tuple[str, str], ...] = ()
    """(placeholder, the router's own value) of every value replaced."""

    def restore(self, message: str) -> str:
        """A message about the neutral text, in the router's own values."""
        if not self.values:
            return message
        own = dict(self.values)
        tokens = "|".join(re.escape(p) for p in sorted(own, key=len, reverse=True))
        return re.sub(rf"(?<![\w.-])(?:{tokens})(?![\w-]|\.\w)",
                      lambda m: own[m[0]], message)


class _Addresses:
    """Placeholder networks in 10.0.0.0/8, one per network met, none overlapping."""

    def __init__(self) -> None:
        self.networks: dict[IPv4Network, IPv4Network] = {}
        self.next = int(_PLACEHOLDERS.network_address)

    def placeholder(self, value: str) -> str | None:
        try:
            address = IPv4Interface(value)
        except ValueError:
            return None
        ip = address.ip
        if (str(address) != value or address.network.prefixlen < 8 or ip.is_loopback
                or ip.is_multicast or ip.is_link_local or ip.is_reserved or ip.is_unspecified):
            return None
        network = address.network
        if network not in self.networks:
            size = network.num_addresses
            start = -(-self.next // size) * size  # aligned to its own size
            if start + size > int(_PLACEHOLDERS.broadcast_address) + 1:
                return None
            self.networks[network] = IPv4Network((start, network.prefixlen))
            self.next = start + size
        host = int(ip) - int(network.network_address)
        base = self.networks[network].network_address
        return f"{ip_address(int(base) + host)}/{network.prefixlen}"


def neutral(host: str, fname: str, text: str) -> Neutral:
    """``text`` (router ``host``'s ``fname``) with its known-safe own values replaced."""
    values: dict[str, str] = {}  # placeholder -> own value
    name_ok = _NAME.match(host) is not None
    own_name = re.compile(rf"(?<![\w.-]){re.escape(host)}(?![\w.-])")
    addresses = _Addresses()
    aliases: dict[str, str] = {}
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if name_ok and line.lstrip().startswith("#") and own_name.search(line):
            lines[number] = own_name.sub(NAME, line)
            values[NAME] = host
        elif name_ok and fname == "snmpd.conf" and line == f"sysName {host}":
            lines[number] = f"sysName {NAME}"
            values[NAME] = host
        elif fname != "interfaces":
            continue
        elif (m := _ADDRESS.fullmatch(line)) and (new := addresses.placeholder(m[2])):
            lines[number] = m[1] + new
            values[new] = m[2]
        elif m := _ALIAS.fullmatch(line):
            new = aliases.setdefault(m[2], f"text{len(aliases) + 1}")
            lines[number] = m[1] + new
            values[new] = m[2]
    return Neutral("\n".join(lines), tuple(values.items()))
