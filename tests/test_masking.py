"""Masking by position (pipeline.masking): a secret-bearing line's value is hidden whatever
it is, so a rotated secret's old value, an IOS type 7 key or a value typed by hand never
reaches a diff, a drift report, a merge-request note or an error message."""

from __future__ import annotations

import re

import pytest

from pipeline.build import build
from pipeline.change.candidate import device_text
from pipeline.masking import learned, mask_lines, redact
from pipeline.secrets import MASK, PLACEHOLDER
from tests.conftest import REPO


def test_every_secret_line_of_the_example_is_known_by_its_syntax() -> None:
    """The keyword list alone covers every line where a template puts a secret: a device
    running values nobody told netpipe about is still masked."""
    result = build(REPO, run_lint=False)
    checked = 0
    for host, item in result.rendered.items():
        text = device_text(item)
        for n, line in enumerate(text.splitlines()):
            if not PLACEHOLDER.search(line):
                continue
            unknown = PLACEHOLDER.sub(f"UnKnown{n}xyz", line)
            assert f"UnKnown{n}xyz" not in mask_lines(unknown), (host, line)
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize("line", [
    " neighbor 198.51.100.1 password 0ld-bgp-pw",
    "-neighbor 198.51.100.1 password 0ld-bgp-pw",
    "+ neighbor 198.51.100.1 password 7 0822455D0A16",
    "snmp-server community 0ldC0mm RO MGMT-ACCESS",
    "snmp-server host 10.2.20.10 version 2c 0ldC0mm",
    " key 7 0822455D0A16",
    "tacacs-server key 0ld-tacacs",
    "username breakglass privilege 15 secret 9 $9$abc$def",
    "enable secret 9 $9$abc$def",
    " password 0ld-vty",
    " ip ospf message-digest-key 1 md5 0ld-ospf",
    " ip ospf authentication-key 0ld-ospf",
    " server-private 10.2.20.9 key 7 0822455D0A16",
    # removals in a remediation list (hier_config): the old value after a `no`
    "no snmp-server community 0ldC0mm RO MGMT-ACCESS",
    "  no key 7 0822455D0A16",
    "no username breakglass privilege 15 secret 9 $9$abc$def",
    "-no enable secret 9 $9$abc$def",
])
def test_known_secret_lines(line: str) -> None:
    masked = mask_lines(line)
    assert MASK in masked
    value = line.split()[-1] if "community 0ldC0mm RO" not in line else "0ldC0mm"
    assert value not in masked
    assert masked.startswith(line[:2])  # the diff marker and indentation stay


@pytest.mark.parametrize("line", [
    " description WAN gent-hq", "key chain ospf-keys", " key 1",
    "\t\tip saddr @mgmt tcp dport 22 accept", "router bgp 65000",
])
def test_other_lines_are_left_alone(line: str) -> None:
    assert mask_lines(line) == line


def test_a_rotated_secret_in_a_diff() -> None:
    """The running config still has the old value; the candidate has the new one; only the
    new one is known. Neither may show."""
    candidate = " neighbor 203.0.113.9 remote-as 64496\n neighbor 203.0.113.9 passwd N3w\n"
    shapes = learned([candidate], {"PW": "N3w"})
    diff = "- neighbor 203.0.113.9 passwd 0ld-value\n+ neighbor 203.0.113.9 passwd N3w\n"
    out = redact(diff, {"PW": "N3w"}, shapes)
    assert "0ld-value" not in out and "N3w" not in out
    assert out.count(MASK) == 2


def test_a_learned_shape_after_a_no() -> None:
    shapes = learned(["  vpn-psk <secret:VPN_PSK> tunnel 3\n"])
    assert "Xyz" not in mask_lines("  no vpn-psk 6 Xyz tunnel 3", shapes)


def test_learned_shapes_come_from_placeholders_too() -> None:
    shapes = learned(["  vpn-psk <secret:VPN_PSK> tunnel 3\n"])
    assert re.sub(r"\s+", " ", mask_lines("  vpn-psk 6 Xyz tunnel 3", shapes)) == \
        f" vpn-psk 6 {MASK} tunnel 3"
