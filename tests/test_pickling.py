"""Pickles of intent values: IPv4 networks and interfaces as integers, the same values back."""

from __future__ import annotations

import pickle
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from pipeline import pickling
from pipeline.intent.parse import parse
from tests.conftest import REPO

VALUES = [IPv4Network("0.0.0.0/0"), IPv4Network("10.1.0.0/16"), IPv4Network("10.255.0.4/31"),
          IPv4Network("10.254.0.1/32"), IPv4Interface("10.1.10.1/24"),
          IPv4Interface("10.255.0.5/31"), IPv4Interface("10.254.0.1/32"),
          IPv4Interface("0.0.0.0/0"), IPv4Address("192.0.2.7")]


def test_addresses_come_back_equal_and_whole() -> None:
    for value in VALUES:
        back = pickle.loads(pickling.dumps(value))
        assert type(back) is type(value) and back == value
        if isinstance(value, IPv4Interface):
            assert (back.ip, back.network, back.netmask) == (value.ip, value.network,
                                                             value.netmask)
        if isinstance(value, IPv4Network):
            assert (back.netmask, back.hostmask, back.broadcast_address) == (
                value.netmask, value.hostmask, value.broadcast_address)


def test_networks_and_interfaces_are_not_pickled_as_text() -> None:
    # Their text would be parsed again in Python on every recall (half of it at 5,002 devices).
    for value in VALUES[:-1]:
        assert str(value).encode() not in pickling.dumps(value)
        assert str(value).encode() in pickle.dumps(value, protocol=5)  # the stdlib's way


def test_equal_content_gives_equal_bytes_without_the_memo() -> None:
    net = IPv4Network("10.1.0.0/16")
    shared = [net, net]
    copies = [IPv4Network("10.1.0.0/16"), IPv4Network("10.1.0.0/16")]
    assert pickling.dumps(shared, fast=True) == pickling.dumps(copies, fast=True)


def test_the_example_intent_comes_back_equal() -> None:
    intent, findings = parse(REPO)
    assert intent is not None and not findings
    back = pickle.loads(pickling.dumps(intent))
    assert back.sites == intent.sites and back.topology == intent.topology
    assert back.firewall == intent.firewall and back.hosts == intent.hosts
