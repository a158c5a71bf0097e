"""Getter parsers, device scripts and transport quoting (no root needed)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any

from napalm.base import models
from napalm.base.test.helpers import test_model as model_ok

from napalm_frr import device, getters
from napalm_frr.transport import SshTransport

LINKS = [
    {"ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"], "mtu": 65536,
     "address": "00:00:00:00:00:00"},
    {"ifname": "eth1", "flags": ["BROADCAST", "UP", "LOWER_UP"], "mtu": 1500,
     "address": "ba:c1:d3:45:6d:50"},
    {"ifname": "eth2", "flags": ["BROADCAST"], "mtu": 1500, "address": "ba:c1:d3:45:6d:51"},
]  # fmt: skip
FRR_IFACES = {"eth1": {"description": "to-r2", "speed": 10000}, "lo": {"speed": 0}}
SUMMARY = {
    "default": {
        "ipv4Unicast": {
            "routerId": "10.99.255.1",
            "as": 65001,
            "peers": {"10.99.0.1": {"pfxRcd": 1, "pfxSnt": 2, "state": "Established"}},
        }
    }
}
NEIGHBORS = {
    "default": {
        "vrfId": 0,
        "vrfName": "default",
        "10.99.0.1": {
            "remoteAs": 65002, "localAs": 65001, "nbrDesc": "peer-r2",
            "remoteRouterId": "10.99.255.2", "bgpState": "Established", "bgpTimerUpMsec": 12000,
            "addressFamilyInfo": {"ipv4Unicast": {"acceptedPrefixCounter": 1,
                                                  "sentPrefixCounter": 2}},
        },
    }
}  # fmt: skip
OSPF = {
    "neighbors": {
        "10.99.255.2": [
            {"ifaceAddress": "10.99.0.1", "areaId": "0.0.0.0", "ifaceName": "eth1",
             "nbrPriority": 1, "nbrState": "Full/-"}
        ]
    }
}  # fmt: skip


def test_interfaces_model() -> None:
    result = getters.interfaces(LINKS, FRR_IFACES)
    assert result["eth1"]["description"] == "to-r2"
    assert result["eth1"]["speed"] == 10000.0
    assert result["eth1"]["mac_address"] == "BA:C1:D3:45:6D:50"
    assert result["eth2"] == {**result["eth2"], "is_up": False, "is_enabled": False}
    assert result["lo"]["speed"] == -1.0
    for data in result.values():
        assert model_ok(models.InterfaceDict, data)


def test_interfaces_ip() -> None:
    addrs: list[dict[str, Any]] = [
        {"ifname": "eth1", "addr_info": [
            {"family": "inet", "local": "10.99.0.0", "prefixlen": 31},
            {"family": "inet6", "local": "FE80::1", "prefixlen": 64}]},
        {"ifname": "eth2", "addr_info": []},
    ]  # fmt: skip
    result = getters.interfaces_ip(addrs)
    assert result == {
        "eth1": {
            "ipv4": {"10.99.0.0": {"prefix_length": 31}},
            "ipv6": {"fe80::1": {"prefix_length": 64}},
        }
    }


def test_bgp_neighbors_model() -> None:
    result = getters.bgp_neighbors(SUMMARY, NEIGHBORS)
    peer = result["global"]["peers"]["10.99.0.1"]
    assert result["global"]["router_id"] == "10.99.255.1"
    assert peer["is_up"] and peer["uptime"] == 12 and peer["remote_id"] == "10.99.255.2"
    assert model_ok(models.PeerDict, peer)
    assert model_ok(models.AFDict, peer["address_family"]["ipv4"])


def test_ospf_neighbors() -> None:
    result = getters.ospf_neighbors(OSPF)
    assert result == {
        "global": {
            "neighbors": {
                "10.99.255.2": {
                    "address": "10.99.0.1", "interface": "eth1", "state": "Full", "role": "",
                    "area": "0.0.0.0", "priority": 1, "is_up": True,
                }
            }
        }
    }  # fmt: skip


def test_os_version() -> None:
    line = "FRRouting 8.4.4 (vm) on Linux(6.1.0-18-amd64).\nCopyright 1996-2005\n"
    assert getters.os_version(line) == "FRRouting 8.4.4 on Linux 6.1.0-18-amd64"


def test_ssh_command_line_quotes_every_word() -> None:
    transport = SshTransport("h", "u", sudo=True)
    line = transport.command_line(["sh", "-c", 'echo "$1"; rm -rf /', "sh", "a b; reboot"])
    assert shlex.split(line) == ["sudo", "-n", "--", "sh", "-c", 'echo "$1"; rm -rf /', "sh",
                                 "a b; reboot"]  # fmt: skip


def test_scripts_are_valid_sh_and_quote_paths(tmp_path: Path) -> None:
    paths = device.DevicePaths(
        vty_socket="/run/frr x", confdir="/etc/frr", rundir="/run/frr x", state_dir="/v/s t",
        nft_file="/etc/nftables.d/net pipe.nft",
    )
    for text in (
        device.restore_script(paths),
        device.timer_script(paths),
        device.boot_script(paths),
        device.confirm_script(paths),
        device.cancel_script(paths),
        device.open_script(paths),
        device.reload_keeping_saved(paths),
        device.START_TIMER,
        device.WRITE_THEN_EXEC,
        device.WRITE_FILES,
        device.backup_script("inet", "netpipe"),
        device.SET_DEADLINE,
    ):
        script = tmp_path / "s.sh"
        script.write_text(text)
        assert subprocess.run(["sh", "-n", str(script)], check=False).returncode == 0
    assert "'/run/frr x'" in device.restore_script(paths)
    assert "state='/v/s t'" in device.timer_script(paths)
    assert "'/etc/nftables.d/net pipe.nft'" in device.boot_script(paths)
