"""FRR text helpers: what is stripped, how frr-reload output is read, readable diffs."""

from __future__ import annotations

import pytest

from napalm_frr import frrconf

RUNNING = """Building configuration...

Current configuration:
!
frr version 8.4.4
frr defaults traditional
hostname vm
no ip forwarding
service integrated-vtysh-config
!
router ospf
 ospf router-id 10.99.255.1
exit
!
interface lo
 ip address 10.99.255.1/32
exit
!
end
"""


def test_clean_running_drops_vtysh_banner_only() -> None:
    clean = frrconf.clean_running(RUNNING)
    assert clean.startswith("!\nfrr version 8.4.4\n")
    assert "Building configuration" not in clean
    assert "no ip forwarding" in clean


def test_prepare_candidate_replaces_hostname_and_drops_unconvergeable_lines() -> None:
    cand = (
        "frr version 9.9\nfrr defaults datacenter\nhostname r1\nip forwarding\nno ipv6 forwarding\n"
    )
    prepared = frrconf.prepare_candidate(cand, "vm")
    assert prepared.splitlines() == ["hostname vm", "no ipv6 forwarding"]


def test_prepare_candidate_never_empty() -> None:
    assert frrconf.prepare_candidate("hostname r1\n", None).strip() == "!"


def test_hostname_of() -> None:
    assert frrconf.hostname_of(RUNNING) == "vm"
    assert frrconf.hostname_of("interface lo\n") is None


def test_reload_changes() -> None:
    out = (
        "\nLines To Delete\n===============\ninterface lo\n no ip address 10.99.255.1/32\n"
        "\nLines To Add\n============\nrouter ospf\n timers lsa min-arrival 0\n"
    )
    assert frrconf.reload_changes(out) == [
        "-interface lo",
        "- no ip address 10.99.255.1/32",
        "+router ospf",
        "+ timers lsa min-arrival 0",
    ]
    assert frrconf.reload_changes("") == []


def test_readable_diff_ignores_block_order_and_noise() -> None:
    candidate = (
        "frr defaults traditional\nhostname r1\nno ip forwarding\n!\ninterface lo\n"
        " ip address 10.99.255.1/32\nexit\n!\nrouter ospf\n ospf router-id 10.99.255.1\n"
        " timers throttle spf 0 50 500\nexit\n!\nend\n"
    )
    diff = frrconf.readable_diff(RUNNING, candidate, ["+router ospf"], "frr.conf")
    lines = diff.splitlines()
    assert lines[:2] == ["--- running/frr.conf", "+++ candidate/frr.conf"]
    assert [line for line in lines[2:] if line[:1] in "+-"] == ["+ timers throttle spf 0 50 500"]


def test_readable_diff_falls_back_to_frr_reload_lines() -> None:
    diff = frrconf.readable_diff(RUNNING, RUNNING, ["-interface lo"], "frr.conf")
    assert diff.splitlines()[-1] == "-interface lo"


def test_merge_candidate_is_additive() -> None:
    merged = frrconf.merge_candidate(RUNNING, "router ospf\n passive-interface default\n")
    assert merged.index("ospf router-id") < merged.index("passive-interface default")
    with pytest.raises(ValueError, match="additive"):
        frrconf.merge_candidate(RUNNING, "router ospf\n no ospf router-id\n")


def test_readable_lines_ignore_order_inside_blocks() -> None:
    a = "interface eth1\n ip ospf network point-to-point\n ip ospf hello-interval 1\nexit\n"
    b = "interface eth1\n ip ospf hello-interval 1\n ip ospf network point-to-point\nexit\n"
    assert frrconf.readable_lines(a) == frrconf.readable_lines(b)
    bgp = "router bgp 1\n address-family ipv4 unicast\n  network 10.0.0.0/8\n exit-address-family\n"
    assert frrconf.readable_lines(bgp) == [
        "router bgp 1",
        " address-family ipv4 unicast",
        "  network 10.0.0.0/8",
    ]
