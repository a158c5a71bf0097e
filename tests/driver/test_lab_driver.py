"""The FRR driver against real FRR daemons and nftables in two lab namespaces.

Every test starts and ends with both routers on the lab's original config (see conftest).
Run as root; skipped with the reason when not root or FRR/nftables are missing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import napalm
import pytest
from napalm.base import models
from napalm.base.exceptions import CommitError, ReplaceConfigException
from napalm.base.test.helpers import test_model as model_ok

from napalm_frr import FrrDriver
from napalm_frr.transport import NetnsTransport
from pipeline.lab import frr, netns
from pipeline.lab.lab import power_cycle
from tests.driver.labkit import (
    FORWARDING,
    NFT,
    Lab,
    Router,
    bundle,
    changed_lines,
    frr_conf,
    poll,
)

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------- 0. the lab itself


def test_lab_is_closed(lab: Lab) -> None:
    """r1's eth1 peers into r2 (not the root namespace) and neither router has a way out."""
    link = json.loads(netns.run(["ip", "-n", lab.r1.ns, "-j", "-d", "link", "show", "eth1"]).stdout)
    nsid = link[0]["link_netnsid"]
    ids = netns.run(["ip", "-n", lab.r1.ns, "netns", "list-id"]).stdout
    assert f"nsid {nsid} (iproute2 netns name: {lab.r2.ns})" in ids
    for router in (lab.r1, lab.r2):
        assert netns.run(["ip", "-n", router.ns, "route", "show", "default"]).stdout == ""
        assert "eth1" in netns.run(["ip", "-n", router.ns, "link", "show"]).stdout
    assert not any(ns in netns.run(["ip", "link", "show"]).stdout for ns in (lab.r1.ns, lab.r2.ns))


# ---------------------------------------------------------------------------- 1. replace cycle


def test_replace_compare_commit_idempotent_rollback(r1: Router) -> None:
    original = r1.snapshot()
    device = r1.driver()
    device.load_replace_candidate(config=bundle(frr_conf(1), NFT))
    diff = device.compare_config()
    lines = changed_lines(diff)
    assert "--- running/frr.conf\n+++ candidate/frr.conf\n" in diff
    assert "--- running/nftables.conf\n+++ candidate/nftables.conf\n" in diff
    for expected in (
        "-no ip forwarding",  # the candidate turns forwarding on (FRR's default)
        "+ip route 198.51.100.1/32 Null0",
        "+interface eth1",
        "+ description to-peer",
        "+ ip address 10.99.255.1/32",
        "+ timers throttle spf 0 50 500",
        "+table inet netpipe {",
        '+\t\tiif "lo" accept',
        "+\t\tip saddr @mgmt tcp dport 22 accept",
        "+\t\ttype filter hook input priority filter; policy drop;",
    ):
        assert expected in lines, f"{expected!r} missing from diff:\n{diff}"
    assert not any("hostname" in line or "frr defaults" in line for line in lines)

    device.commit_config(message="test replace")
    assert "ip address 10.99.255.1/32" in r1.running_frr()
    assert "ip saddr @mgmt tcp dport 22 accept" in r1.running_nft()
    assert not device.has_pending_commit()

    device.load_replace_candidate(config=bundle(frr_conf(1), NFT))
    assert device.compare_config() == ""  # idempotent: frr-reload --test and nft agree
    device.discard_config()
    assert device.compare_config() == ""

    device.rollback()
    assert r1.snapshot() == original
    device.close()


NFT_NAT = NFT[:NFT.rindex("}")] + """
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "eth1" ip daddr 203.0.113.10 tcp dport 443 dnat ip to 10.1.2.3 comment "portal"
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth1" ip saddr 10.0.0.0/8 snat ip to 203.0.113.1 comment "source nat"
	}
}
"""


def test_nat_chains_commit_compare_and_roll_back_byte_for_byte(r1: Router) -> None:
    """NAT lives in the same table: committed with it, compared in canonical form, and a
    rollback puts the ruleset without NAT back exactly."""
    device = r1.driver()
    device.load_replace_candidate(config=bundle(nft=NFT))
    device.commit_config()
    before = r1.running_nft()
    device.load_replace_candidate(config=bundle(nft=NFT_NAT))
    assert '+\t\toifname "eth1" ip saddr 10.0.0.0/8 snat ip to 203.0.113.1 comment "source nat"' \
        in changed_lines(device.compare_config())
    device.commit_config()
    running = r1.running_nft()
    assert "dnat ip to 10.1.2.3" in running and "snat ip to 203.0.113.1" in running
    device.load_replace_candidate(config=bundle(nft=NFT_NAT))
    assert device.compare_config() == ""
    device.discard_config()
    device.rollback()
    assert r1.running_nft() == before
    device.close()


def test_modify_shows_removed_and_added_lines(r1: Router) -> None:
    device = r1.driver()
    device.load_replace_candidate(config=bundle(frr_conf(1), NFT))
    device.commit_config()
    committed = r1.snapshot()

    nft_b = NFT.replace("\t\tip saddr @mgmt tcp dport 22 accept\n", "").replace(
        "198.51.100.10", "198.51.100.10, 198.51.100.11"
    )
    device.load_replace_candidate(config=bundle(frr_conf(1, description="core"), nft_b))
    lines = changed_lines(device.compare_config())
    assert lines == {
        "- description to-peer",
        "+ description core",
        "-\t\telements = { 198.51.100.10 }",
        "+\t\telements = { 198.51.100.10, 198.51.100.11 }",
        "-\t\tip saddr @mgmt tcp dport 22 accept",
    }
    device.commit_config()
    device.load_replace_candidate(config=bundle(frr_conf(1, description="core"), nft_b))
    assert device.compare_config() == ""
    device.rollback()  # back to the backup taken before the last commit
    assert r1.snapshot() == committed
    device.close()


def test_one_target_leaves_the_other_alone(r1: Router) -> None:
    device = r1.driver()
    device.load_replace_candidate(config=bundle(nft=NFT))
    device.commit_config()
    frr_before = r1.running_frr()
    device.load_replace_candidate(config=bundle(frr=frr_conf(1)))
    diff = device.compare_config()
    assert "nftables.conf" not in diff and "frr.conf" in diff
    device.commit_config()
    assert "ip saddr @mgmt tcp dport 22 accept" in r1.running_nft()
    assert r1.running_frr() != frr_before
    device.close()


def test_merge_and_directory_candidate(r1: Router, tmp_path: Path) -> None:
    (tmp_path / "frr.conf").write_text(frr_conf(1))
    (tmp_path / "nftables.conf").write_text(NFT)
    device = r1.driver()
    device.load_replace_candidate(filename=str(tmp_path))
    device.commit_config()
    device.load_merge_candidate(
        config=bundle(
            "ip route 198.51.100.99/32 Null0\n",
            "add element inet netpipe mgmt { 198.51.100.12 }\n",
        )
    )
    lines = changed_lines(device.compare_config())
    assert lines == {
        "+ip route 198.51.100.99/32 Null0",
        "-\t\telements = { 198.51.100.10 }",
        "+\t\telements = { 198.51.100.10, 198.51.100.12 }",
    }
    device.commit_config()
    assert "ip route 198.51.100.99/32 Null0" in r1.running_frr()
    assert "ip route 198.51.100.1/32 Null0" in r1.running_frr()  # merge kept the rest
    device.close()


def test_startup_config_survives_daemon_restart(r2: Router) -> None:
    """frr-reload writes DIR/frr.conf; start_frr loads it back (vtysh -b)."""
    device = r2.driver()
    device.load_replace_candidate(config=bundle(frr_conf(2)))
    device.commit_config()
    committed = r2.running_frr()
    assert "ip address 10.99.255.2/32" in device.get_config(retrieve="startup")["startup"]
    device.close()
    frr.stop_frr(r2.rundir)
    assert not frr.frr_running(r2.rundir)
    frr.start_frr(r2.ns, r2.rundir)
    assert r2.running_frr() == committed


# ---------------------------------------------------------------------------- 2. rejections


@pytest.mark.parametrize(
    ("candidate", "message"),
    [
        (bundle(frr_conf(1, extra="router bgp 65001\n bgp bogus-knob 7\nexit\n"), NFT),
         "Unknown command"),
        (bundle(frr_conf(1), NFT.replace("@mgmt", "@undefined_set")), "@undefined_set"),
        (bundle(frr_conf(1), NFT.replace('iif "eth1"', 'iif "eth9"')), "Interface does not exist"),
    ],
    ids=["frr-syntax", "nft-undefined-set", "nft-unknown-interface"],
)  # fmt: skip
def test_rejected_candidate_raises_device_message(r1: Router, candidate: str, message: str) -> None:
    device = r1.driver()
    device.load_replace_candidate(config=bundle(nft=NFT))
    device.commit_config()
    before = r1.snapshot()
    with pytest.raises(ReplaceConfigException, match=message) as err:
        device.load_replace_candidate(config=candidate)
    print(err.value)
    assert r1.snapshot() == before
    assert device.compare_config() == ""  # the rejected candidate was not kept
    device.close()


def test_failed_apply_restores_both_targets(r1: Router) -> None:
    """Passes the syntax checks but cannot be applied (ripd is not running): full restore."""
    before = r1.snapshot()
    device = r1.driver()
    device.load_replace_candidate(
        config=bundle(frr_conf(1, extra="router rip\n network 10.99.0.0/31\nexit\n"), NFT)
    )
    with pytest.raises(CommitError, match="router rip") as err:
        device.commit_config()
    assert "restored" in str(err.value)
    assert r1.snapshot() == before  # nftables had been applied first: it was put back too
    device.close()


# ---------------------------------------------------------------------------- 3. commit-confirm


def test_unconfirmed_commit_reverts_on_the_device(r1: Router) -> None:
    original = r1.snapshot()
    device = r1.driver()
    device.load_replace_candidate(config=bundle(frr_conf(1), NFT))
    started = time.monotonic()
    device.commit_config(revert_in=3)
    assert device.has_pending_commit()
    assert r1.snapshot() != original
    with pytest.raises(CommitError, match="pending"):
        device.commit_config()
    poll(lambda: r1.snapshot() == original and not device.has_pending_commit(), timeout=12)
    assert time.monotonic() - started >= 3
    with pytest.raises(CommitError, match="no pending commit"):
        device.confirm_commit()
    assert "revert timer fired" in (r1.state_dir / "revert.log").read_text()
    device.close()


def test_confirmed_commit_stays(r1: Router) -> None:
    device = r1.driver()
    device.load_replace_candidate(config=bundle(frr_conf(1), NFT))
    device.commit_config(revert_in=1)
    committed = r1.snapshot()
    pid = int((r1.state_dir / "pending").read_text().split()[0])
    device.confirm_commit()
    assert not device.has_pending_commit()
    poll(lambda: not Path(f"/proc/{pid}").exists(), timeout=5)  # timer killed
    time.sleep(3)  # past the moment the timer would have fired (1 s, +1.5 s at most)
    assert r1.snapshot() == committed
    assert not (r1.state_dir / "revert.log").exists()
    device.close()


def test_rollback_of_pending_commit_is_immediate(r1: Router) -> None:
    original = r1.snapshot()
    device = r1.driver()
    device.load_replace_candidate(config=bundle(frr_conf(1), NFT))
    device.commit_config(revert_in=60)
    pid = int((r1.state_dir / "pending").read_text().split()[0])
    device.rollback()
    assert r1.snapshot() == original
    assert not device.has_pending_commit()
    poll(lambda: not Path(f"/proc/{pid}").exists(), timeout=5)
    device.close()


CONTROLLER = """
import json, sys, time
from napalm_frr import FrrDriver
from napalm_frr.transport import NetnsTransport
from pipeline.lab import frr, netns
args = json.loads(sys.argv[1])
device = FrrDriver("r1", "", "", optional_args=args["optional_args"])
device.open()
device.load_replace_candidate(config=args["candidate"])
device.commit_config(revert_in=3)
print("COMMITTED", flush=True)
time.sleep(120)
"""


def test_killed_controller_device_reverts_by_itself(r1: Router) -> None:
    original = r1.snapshot()
    payload = json.dumps(
        {"optional_args": r1.optional_args(), "candidate": bundle(frr_conf(1), NFT)}
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CONTROLLER, payload], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "COMMITTED"
        assert r1.snapshot() != original
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=5) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    poll(lambda: r1.snapshot() == original, timeout=12)


# ---------------------------------------------------------------------------- 4. getters


def test_getters_against_live_ospf_and_bgp(lab: Lab, r1: Router, r2: Router) -> None:
    d1, d2 = r1.driver(), r2.driver()
    for n, device in ((1, d1), (2, d2)):
        device.load_replace_candidate(config=bundle(frr_conf(n, bgp=True)))
        device.commit_config()

    def bgp_up() -> dict[str, Any] | None:
        result = d1.get_bgp_neighbors()
        peer = result.get("global", {}).get("peers", {}).get("10.99.0.1", {})
        return result if peer.get("is_up") and peer["address_family"]["ipv4"][
            "received_prefixes"] else None  # fmt: skip

    def ospf_full() -> dict[str, Any] | None:
        result = d1.get_ospf_neighbors()
        neighbor = result["global"]["neighbors"].get("10.99.255.2", {})
        return result if neighbor.get("state") == "Full" else None

    ospf = poll(ospf_full, timeout=20)
    assert ospf["global"]["neighbors"]["10.99.255.2"] == {
        "address": "10.99.0.1",
        "interface": "eth1",
        "state": "Full",
        "role": "",
        "area": "0.0.0.0",
        "priority": 1,
        "is_up": True,
    }
    bgp = poll(bgp_up, timeout=30)
    assert isinstance(bgp["global"]["router_id"], str) and bgp["global"]["router_id"]
    peer = bgp["global"]["peers"]["10.99.0.1"]
    assert model_ok(models.PeerDict, peer)
    for family in peer["address_family"].values():
        assert model_ok(models.AFDict, family)
    assert (peer["local_as"], peer["remote_as"], peer["remote_id"]) == (65001, 65002, "10.99.255.2")
    assert peer["description"] == "r2" and peer["is_enabled"]

    facts = d1.get_facts()
    assert model_ok(models.FactsDict, facts)
    assert facts["hostname"] == "r1" and facts["vendor"] == "FRRouting"
    assert facts["interface_list"] == ["eth1", "eth1v110", "lo"]
    assert facts["os_version"].startswith("FRRouting 8.")

    interfaces = d1.get_interfaces()
    for data in interfaces.values():
        assert model_ok(models.InterfaceDict, data)
    assert interfaces["eth1"]["is_up"] and interfaces["eth1"]["description"] == "to-peer"

    ips = d1.get_interfaces_ip()
    for families in ips.values():
        for family in families.values():
            for entry in family.values():
                assert model_ok(models.InterfacesIPDictEntry, entry)
    assert ips["eth1"]["ipv4"] == {"10.99.0.0": {"prefix_length": 31}}
    assert ips["lo"]["ipv4"]["10.99.255.1"] == {"prefix_length": 32}

    config = d1.get_config()
    assert model_ok(models.ConfigDict, config)
    assert "! netpipe:file frr.conf\n" in config["running"]
    assert "router bgp 65001" in config["running"] and "router bgp 65001" in config["startup"]
    assert config["candidate"] == ""
    d1.load_replace_candidate(config=bundle(frr_conf(1, bgp=True, extra=(
        "router bgp 65001\n neighbor 10.99.0.1 password s3cret\nexit\n"))))  # fmt: skip
    cand = d1.get_config(retrieve="candidate", sanitized=True)
    assert cand["running"] == "" and "password <removed>" in cand["candidate"]
    assert "s3cret" not in cand["candidate"]
    assert d1.cli(["show ip route 10.99.255.2/32"])["show ip route 10.99.255.2/32"]
    d1.close()
    d2.close()


def test_unsupported_features_are_explicit(r1: Router) -> None:
    device = r1.driver()
    with pytest.raises(NotImplementedError):
        device.get_lldp_neighbors()
    with pytest.raises(NotImplementedError):
        device.get_config(format="json")
    assert device.is_alive() == {"is_alive": True}
    device.close()
    assert device.is_alive() == {"is_alive": False}


# ---------------------------------------------------------------------------- 5. discovery


def test_napalm_and_nornir_find_the_driver(r1: Router) -> None:
    assert napalm.get_network_driver("frr") is FrrDriver

    from nornir.core import Nornir
    from nornir.core.configuration import Config
    from nornir.core.inventory import (
        ConnectionOptions,
        Defaults,
        Groups,
        Host,
        Hosts,
        Inventory,
    )
    from nornir.core.plugins.connections import ConnectionPluginRegister
    from nornir.plugins.runners import SerialRunner
    from nornir_napalm.plugins.tasks import napalm_get

    ConnectionPluginRegister.auto_register()  # what InitNornir does
    host = Host(
        name="r1",
        hostname="r1",
        platform="frr",
        connection_options={
            "napalm": ConnectionOptions(extras={"optional_args": r1.optional_args()})
        },
    )
    nr = Nornir(
        inventory=Inventory(hosts=Hosts({"r1": host}), groups=Groups(), defaults=Defaults()),
        runner=SerialRunner(),
        config=Config(),
    )
    try:
        result = nr.run(task=napalm_get, getters=["facts", "interfaces"])
    finally:
        nr.close_connections()
    assert not result.failed, result["r1"].exception
    assert result["r1"].result["facts"]["vendor"] == "FRRouting"
    assert "eth1" in result["r1"].result["interfaces"]


# ---------------------------------------------------------------------------- 5. what boots


def _reboot(router: Router, *, boot_hook: bool = True) -> None:
    """A power cut and a boot (pipeline.lab.lab.power_cycle); eth1's address is the box's
    /etc/network/interfaces, put back by the networking step of the boot."""
    power_cycle(router.ns, router.rundir, router.state_dir, boot_hook=boot_hook, root=router.root,
                interfaces={"eth1": [router.address]})


def _confirmed(router: Router, frr_text: str, nft_text: str) -> tuple[str, str]:
    device = router.driver()
    device.load_replace_candidate(config=bundle(frr_text, nft_text, sysctl_conf=FORWARDING))
    device.commit_config()  # final: applied and persisted
    device.close()
    return router.snapshot()


NFT_B = NFT.replace("198.51.100.10", "198.51.100.10, 198.51.100.11")


def test_commit_changes_what_runs_and_confirm_what_boots(r1: Router) -> None:
    """frr-reload writes the saved frr.conf as part of --reload: the driver must put it back,
    and the nftables table must be persisted, both only at confirm."""
    saved = r1.rundir / "frr.conf"
    _confirmed(r1, frr_conf(1), NFT)
    assert "ip route 198.51.100.1/32 Null0" in saved.read_text()
    assert "198.51.100.10 }" in (r1.rundir / "nftables.conf").read_text()
    booted_from = saved.read_text(), (r1.rundir / "nftables.conf").read_text()
    device = r1.driver()
    device.load_replace_candidate(config=bundle(frr_conf(1, description="core"), NFT_B))
    device.commit_config(revert_in=60)
    assert "description core" in r1.running_frr()
    assert (saved.read_text(), (r1.rundir / "nftables.conf").read_text()) == booted_from
    startup = device.get_config(retrieve="startup")["startup"]
    assert "description to-peer" in startup and "198.51.100.11" not in startup
    device.confirm_commit()
    assert "description core" in saved.read_text()
    assert "198.51.100.10, 198.51.100.11" in (r1.rundir / "nftables.conf").read_text()
    device.close()


def test_a_reboot_in_the_confirm_window_boots_the_old_config(r1: Router) -> None:
    """Scenario 2: power cut while a commit waits for its confirm. The box comes back on
    the confirmed config, zone firewall included, with nothing pending."""
    good = _confirmed(r1, frr_conf(1), NFT)
    device = r1.driver()
    device.load_replace_candidate(config=bundle(frr_conf(1, description="unconfirmed"), NFT_B))
    device.commit_config(revert_in=300)
    device.close()
    _reboot(r1)
    assert r1.snapshot() == good
    assert "boot: a commit that was never confirmed was reverted" in (
        r1.state_dir / "revert.log").read_text()
    device = r1.driver()
    assert not device.has_pending_commit()
    device.load_replace_candidate(config=bundle(frr_conf(1, description="next"), NFT))
    device.commit_config(revert_in=60)  # not refused
    device.rollback()
    assert r1.snapshot() == good
    device.close()


def test_a_confirmed_config_survives_a_reboot(r1: Router) -> None:
    good = _confirmed(r1, frr_conf(1, description="kept"), NFT_B)
    _reboot(r1)
    assert r1.snapshot() == good


def test_without_the_boot_hook_the_next_open_reverts(r1: Router) -> None:
    """A box without netpipe-boot.service: the stale commit is found and reverted by the
    next driver open once its deadline has passed (the timer died with the box)."""
    good = _confirmed(r1, frr_conf(1), NFT)
    device = r1.driver()
    device.load_replace_candidate(config=bundle(frr_conf(1, description="unconfirmed"), NFT_B))
    device.commit_config(revert_in=2)
    device.close()
    _reboot(r1, boot_hook=False)
    assert r1.running_nft() == "", "nothing loaded the zone table: the hook is missing"
    time.sleep(3)  # the deadline passes while nobody is there to act on it
    device = r1.driver()
    assert device.reverted_at_open == ["reverted rc=0"]
    assert r1.snapshot() == good
    assert not device.has_pending_commit()
    device.close()


def test_open_leaves_a_live_commit_alone(r1: Router) -> None:
    device = r1.driver()
    device.load_replace_candidate(config=bundle(frr_conf(1), NFT))
    device.commit_config(revert_in=60)
    other = r1.driver()
    assert other.reverted_at_open == [] and other.has_pending_commit()
    other.load_replace_candidate(config=bundle(frr_conf(1, description="x")))
    other.discard_config()  # a diff beside a deploy: its own candidate folder only
    device.confirm_commit()
    other.close()
    device.close()


# ---------------------------------------------------------------------------- 9. box files

VLAN_IFACES = """auto lo
iface lo inet loopback

auto eth1.110
iface eth1.110
    address 10.98.110.1/24
    mtu 1400
    alias VLAN 110 to r2
"""
LO_ONLY = "auto lo\niface lo inet loopback\n"
VLAN_SYSCTL = FORWARDING + "net.ipv4.conf.eth1/110.rp_filter = 1\n"


def _link(router: Router, name: str) -> dict[str, Any] | None:
    """``ip addr`` of one link, with its description (ifalias, only ``ip link`` has it)."""
    addrs = json.loads(netns.run(["ip", "-n", router.ns, "-j", "addr", "show"]).stdout)
    links = json.loads(netns.run(["ip", "-n", router.ns, "-j", "link", "show"]).stdout)
    found = next((x for x in addrs if x["ifname"] == name), None)
    if found is not None:
        found["ifalias"] = next(x.get("ifalias") for x in links if x["ifname"] == name)
    return found


def _sysctl(router: Router, key: str) -> str:
    return netns.ns_exec(router.ns, ["sysctl", "-n", key]).stdout.strip()


def _boot_files(router: Router) -> tuple[str, str]:
    def read(rel: str) -> str:
        path = router.root / rel
        return path.read_text() if path.exists() else ""

    return read("etc/network/interfaces"), read("etc/sysctl.d/90-netpipe.conf")


def _vlan_up(router: Router) -> bool:
    link = _link(router, "eth1.110")
    return bool(link and link["mtu"] == 1400 and link.get("ifalias") == "VLAN 110 to r2"
                and {"local": "10.98.110.1", "prefixlen": 24} in
                [{k: a[k] for k in ("local", "prefixlen")} for a in link["addr_info"]
                 if a["family"] == "inet"]
                and _sysctl(router, "net.ipv4.conf.eth1/110.rp_filter") == "1")


def test_box_files_are_committed_confirmed_removed_and_rolled_back(r1: Router) -> None:
    """The interfaces file makes eth1.110 (a stand-in on its wire, this kernel having no
    802.1Q) with its address, MTU and description; the sysctl file sets its rp_filter.
    A commit changes what runs, the confirm what boots; taking the VLAN out of the file
    removes it from the box, and the rollback puts back both files byte for byte."""
    device = r1.driver()
    before_boot = _boot_files(r1)  # the box as installed: Debian's interfaces file, lo only
    assert "iface lo inet loopback" in before_boot[0] and before_boot[1] == ""
    device.load_replace_candidate(config=bundle(interfaces=VLAN_IFACES, sysctl_conf=VLAN_SYSCTL))
    lines = changed_lines(device.compare_config())
    assert {"+iface eth1.110", "+    address 10.98.110.1/24",
            "+net.ipv4.conf.eth1/110.rp_filter = 1"} <= lines, lines
    device.commit_config(revert_in=60)
    assert _vlan_up(r1)
    assert _sysctl(r1, "net.ipv4.ip_forward") == "1"
    assert _boot_files(r1) == before_boot, "a commit must not change what the box boots from"
    startup = device.get_config(retrieve="startup")["startup"]
    assert "eth1.110" not in startup
    device.confirm_commit()
    assert _boot_files(r1) == (VLAN_IFACES, VLAN_SYSCTL)
    device.load_replace_candidate(config=bundle(interfaces=VLAN_IFACES, sysctl_conf=VLAN_SYSCTL))
    assert device.compare_config() == ""  # idempotent: applied file and kernel agree

    device.load_replace_candidate(config=bundle(interfaces=LO_ONLY, sysctl_conf=FORWARDING))
    assert "-iface eth1.110" in changed_lines(device.compare_config())
    device.commit_config()
    assert _link(r1, "eth1.110") is None, "a VLAN taken out of the file is gone from the box"
    assert _boot_files(r1) == (LO_ONLY, FORWARDING)

    device.rollback()
    assert _vlan_up(r1)
    assert _boot_files(r1) == (VLAN_IFACES, VLAN_SYSCTL)
    running = device.get_config(retrieve="running")["running"]
    assert "# netpipe:file interfaces\n" + VLAN_IFACES in running
    assert "net.ipv4.conf.eth1/110.rp_filter = 1" in running
    device.close()


def test_a_sysctl_the_old_file_lacks_goes_back_too(r1: Router) -> None:
    """Rolling back to a file without a key puts the key's old kernel value back: the
    backup holds the values of every key either file names."""
    device = r1.driver()
    device.load_replace_candidate(config=bundle(interfaces=VLAN_IFACES, sysctl_conf=FORWARDING))
    device.commit_config()
    assert _sysctl(r1, "net.ipv4.conf.eth1/110.rp_filter") != "2"
    old = _sysctl(r1, "net.ipv4.conf.eth1/110.rp_filter")
    device.load_replace_candidate(
        config=bundle(sysctl_conf=FORWARDING + "net.ipv4.conf.eth1/110.rp_filter = 2\n"))
    device.commit_config(revert_in=60)
    assert _sysctl(r1, "net.ipv4.conf.eth1/110.rp_filter") == "2"
    device.rollback()
    assert _sysctl(r1, "net.ipv4.conf.eth1/110.rp_filter") == old
    device.close()


def test_box_files_are_replayed_at_boot(r1: Router) -> None:
    """Confirmed box files come back after a power cut (the stand-in made by the boot hook,
    ifup -a, the sysctl file); a commit that removed the VLAN and was never confirmed does
    not."""
    device = r1.driver()
    device.load_replace_candidate(config=bundle(nft=NFT, interfaces=VLAN_IFACES,
                                                sysctl_conf=VLAN_SYSCTL))
    device.commit_config()
    device.load_replace_candidate(config=bundle(interfaces=LO_ONLY, sysctl_conf=FORWARDING))
    device.commit_config(revert_in=300)
    assert _link(r1, "eth1.110") is None
    device.close()
    _reboot(r1)
    assert _vlan_up(r1)
    assert _boot_files(r1) == (VLAN_IFACES, VLAN_SYSCTL)
    device = r1.driver()
    assert not device.has_pending_commit()
    device.close()


def test_a_bad_interfaces_file_changes_nothing(r1: Router) -> None:
    device = r1.driver()
    before_boot = _boot_files(r1)
    with pytest.raises(ReplaceConfigException, match="interfaces rejected by ifup"):
        device.load_replace_candidate(
            config=bundle(interfaces=VLAN_IFACES.replace("mtu 1400", "mtu lots")))
    device.load_replace_candidate(config=bundle(interfaces=VLAN_IFACES.replace(
        "eth1.110", "eth1.120")))  # no wire carries VLAN 120 here
    with pytest.raises(CommitError, match=r"no 802\.1Q .* no stand-in wire eth1v120"):
        device.commit_config()
    assert _link(r1, "eth1.120") is None and _boot_files(r1) == before_boot
    assert not device.has_pending_commit()
    device.close()


# ---------------------------------------------------------------------------- 10. router services

COMMUNITY = "lab-snmp-ro"  # a lab-only value
RESOLV = "search lab.example\nnameserver 10.99.0.1\n"
CHRONY = ("server 10.99.0.1 iburst\ndriftfile /var/lib/chrony/chrony.drift\nmakestep 1 3\n"
          "cmdport 0\n")
RSYSLOG = '*.* action(type="omfwd" target="10.99.0.1" port="514" protocol="udp")\n'
RELAY = {"dhcp-relay.conf": "port=0\ndhcp-relay=10.99.0.0,10.99.0.1\n"}


def _snmpd(allowed: str) -> str:
    return f"agentAddress udp:161\nsysName r1\nrocommunity {COMMUNITY} {allowed}\n"


def _snmp_name(router: Router, address: str) -> str | None:
    """sysName.0 as an SNMP agent at ``address`` answers ``router`` (None: no answer)."""
    proc = netns.ns_exec(router.ns, ["snmpget", "-v2c", "-c", COMMUNITY, "-t", "1", "-r", "2",
                                     "-Oqv", address, "1.3.6.1.2.1.1.5.0"], check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _daemons(router: Router) -> dict[str, bool]:
    """Which of the box's daemons run (by their pid files in the box's own /run)."""
    running = {}
    for unit, pidfile, comm in (("chrony", "run/chrony/chronyd.pid", "chronyd"),
                                ("snmpd", "run/snmpd/snmpd.pid", "snmpd"),
                                ("rsyslog", "run/rsyslog/rsyslogd.pid", "rsyslogd"),
                                ("dnsmasq", "run/dnsmasq/dnsmasq.pid", "dnsmasq")):
        path = router.root / pidfile
        pid = path.read_text().strip() if path.exists() else ""
        comm_path = Path(f"/proc/{pid}/comm")
        running[unit] = bool(pid.isdigit() and comm_path.exists()
                             and comm_path.read_text().strip() == comm)
    return running


def _service_files(router: Router) -> dict[str, str | None]:
    return {rel: (router.root / rel).read_text() if (router.root / rel).exists() else None
            for rel in ("etc/resolv.conf", "etc/chrony/chrony.conf", "etc/snmp/snmpd.conf",
                        "etc/rsyslog.d/90-netpipe.conf", "etc/dnsmasq.d/netpipe-relay.conf")}


def _listen(router: Router, port: int) -> subprocess.Popen[str]:
    """A UDP listener on 10.99.0.1 in ``router`` that prints the first datagram, in hex."""
    return subprocess.Popen(
        ["ip", "netns", "exec", router.ns, sys.executable, "-c",
         "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
         f"s.bind(('10.99.0.1', {port})); s.settimeout(25); print(s.recv(4096).hex())"],
        stdout=subprocess.PIPE, text=True)


def test_router_services_are_committed_and_rolled_back_byte_for_byte(r1: Router,
                                                                      r2: Router) -> None:
    """resolv.conf, chrony, snmpd and rsyslog as box files: a commit starts the daemons on the
    new files (chronyd asks its NTP server, the SNMP agent answers the allowed prefix only, a
    log line reaches the syslog server), the confirm writes them where the box boots from, and
    the rollback stops the daemons the box did not run and puts every file back byte for
    byte."""
    device = r1.driver()  # its first command made the box's own directories
    before = _service_files(r1)
    assert before["etc/resolv.conf"] is not None  # the box's own, started as this machine's
    assert not any(_daemons(r1).values())
    services = bundle(resolv_conf=RESOLV, chrony_conf=CHRONY, snmpd_conf=_snmpd("10.99.0.1/32"),
                      rsyslog_conf=RSYSLOG)
    device.load_replace_candidate(config=services)
    lines = changed_lines(device.compare_config())
    assert {"+nameserver 10.99.0.1", "+server 10.99.0.1 iburst",
            f"+rocommunity {COMMUNITY} 10.99.0.1/32"} <= lines, lines
    ntp = _listen(r2, 123)  # the NTP server chronyd asks as it starts (iburst)
    device.commit_config(revert_in=60)
    assert _daemons(r1) == {"chrony": True, "snmpd": True, "rsyslog": True, "dnsmasq": False}
    try:
        request = bytes.fromhex(ntp.communicate(timeout=30)[0].strip() or "00")
    finally:
        ntp.kill()
    assert request[0] & 0x07 == 3, request.hex()  # an NTP packet in client mode
    assert _service_files(r1)["etc/resolv.conf"] == RESOLV  # the resolver reads it live
    assert _service_files(r1)["etc/chrony/chrony.conf"] == before["etc/chrony/chrony.conf"], \
        "a commit must not change what the box boots from"
    assert poll(lambda: _snmp_name(r2, "10.99.0.0"), 15) == '"r1"'
    # syslog: a line logged on r1 reaches the server (a listener in r2)
    listener = _listen(r2, 514)
    try:
        def logged() -> bool:
            r1_box = NetnsTransport(r1.ns, root=str(r1.root))
            r1_box.run(["logger", "-u", "/run/rsyslog/log", "netpipe-lab-syslog-probe"])
            return listener.poll() is not None
        poll(logged, 20, interval=0.5)
        out, _ = listener.communicate(timeout=20)
    finally:
        listener.kill()
    assert "netpipe-lab-syslog-probe" in bytes.fromhex(out.strip()).decode()
    device.confirm_commit()
    assert _service_files(r1) == {"etc/resolv.conf": RESOLV, "etc/chrony/chrony.conf": CHRONY,
                                  "etc/snmp/snmpd.conf": _snmpd("10.99.0.1/32"),
                                  "etc/rsyslog.d/90-netpipe.conf": RSYSLOG,
                                  "etc/dnsmasq.d/netpipe-relay.conf": None}
    assert oct((r1.root / "etc/snmp/snmpd.conf").stat().st_mode & 0o777) == "0o600"
    device.load_replace_candidate(config=services)
    assert device.compare_config() == ""  # idempotent

    # the agent answers only what its file allows
    device.load_replace_candidate(config=bundle(snmpd_conf=_snmpd("10.99.7.0/24")))
    device.commit_config(revert_in=60)
    assert _snmp_name(r2, "10.99.0.0") is None
    device.rollback()
    assert poll(lambda: _snmp_name(r2, "10.99.0.0"), 15) == '"r1"'
    device.close()


def test_a_rollback_stops_the_services_the_box_did_not_run(r1: Router) -> None:
    device = r1.driver()
    before = _service_files(r1)
    device.load_replace_candidate(config=bundle(resolv_conf=RESOLV, chrony_conf=CHRONY,
                                                snmpd_conf=_snmpd("10.99.0.1/32"),
                                                rsyslog_conf=RSYSLOG, **RELAY))
    device.commit_config()
    assert all(_daemons(r1).values())
    device.rollback()
    assert _daemons(r1) == dict.fromkeys(("chrony", "snmpd", "rsyslog", "dnsmasq"), False)
    assert _service_files(r1) == before
    device.close()


def test_a_bad_service_file_changes_nothing(r1: Router) -> None:
    device = r1.driver()
    with pytest.raises(ReplaceConfigException, match=r"chrony\.conf rejected by chronyd"):
        device.load_replace_candidate(config=bundle(chrony_conf=CHRONY + "bogus directive\n"))
    with pytest.raises(ReplaceConfigException, match=r"rsyslog\.conf rejected by rsyslogd"):
        device.load_replace_candidate(config=bundle(rsyslog_conf="*.* bogus(\n"))
    with pytest.raises(ReplaceConfigException, match=r"dhcp-relay\.conf rejected by dnsmasq"):
        device.load_replace_candidate(config=bundle(**{"dhcp-relay.conf": "dhcp-rely=1\n"}))
    assert not any(_daemons(r1).values())
    device.close()
