"""Pickles of intent and design values that unpickle at C speed.

The standard library pickles an IPv4 network or interface as its text, so unpickling one
parses that text again in Python: a 5,002-device intent recalled from build/cache-intent
holds about 75,000 of them (half of the recall's time). Here they go as integers (address,
prefix length), which the classes take without parsing; the value is the same, and so are
the bytes for the same content (the cache keys rely on that).
"""

from __future__ import annotations

import copyreg
import io
import pickle
from collections.abc import Callable, Mapping
from ipaddress import IPv4Interface, IPv4Network
from typing import Any


def _network(net: IPv4Network) -> tuple[type[IPv4Network], tuple[tuple[int, int]]]:
    return IPv4Network, ((int(net.network_address), net.prefixlen),)


def _interface(iface: IPv4Interface) -> tuple[type[IPv4Interface], tuple[tuple[int, int]]]:
    return IPv4Interface, ((int(iface.ip), iface.network.prefixlen),)


_TABLE: Mapping[type, Callable[[Any], Any]] = {**copyreg.dispatch_table, IPv4Network: _network,
                                               IPv4Interface: _interface}


def dumps(value: Any, *, fast: bool = False) -> bytes:
    """``value`` pickled (protocol 5) with IPv4 networks and interfaces as integers.
    ``fast``: no memo, so equal content gives equal bytes whether or not objects are shared
    (for values that never refer to themselves)."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=5)
    pickler.dispatch_table = _TABLE
    pickler.fast = fast
    pickler.dump(value)
    return out.getvalue()
