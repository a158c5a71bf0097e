"""The lab end to end: build it, push the rendered configs, verify routing and the
firewall with real packets, and see a removed rule as exactly the flows it allowed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from ipaddress import IPv4Address
from pathlib import Path

import napalm
import pytest

from napalm_frr.transport import NetnsTransport
from pipeline.build import build
from pipeline.cli import main
from pipeline.lab import lab, netns
from pipeline.lab.plan import Host
from pipeline.verify.checks import expectations
from pipeline.verify.probes import Probe, run_probes
from pipeline.verify.run import verify
from tests.conftest import copy_example
from tests.lab.conftest import PREFIX, Lab

pytestmark = pytest.mark.lab


def root_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def run_verify(the_lab: Lab, intent_build: object | None = None) -> object:
    result = the_lab.build
    assert result.intent is not None
    drivers = {d: the_lab.driver(d) for d in the_lab.plan.routers}
    firewall = next(d.firewall for d in result.devices.values() if d.firewall)
    try:
        return verify(expectations(result.intent, result.devices), drivers.__getitem__,
                      wait=40, lab=the_lab.plan, firewall=firewall)
    finally:
        for drv in drivers.values():
            drv.close()


def deployed(the_lab: Lab) -> Lab:
    """The lab with the example deployed and verified, so a test that needs it passes or
    fails alone (``pytest -k``) as in the whole module; pushed again only when needed."""
    if not the_lab.ready:
        the_lab.push()
        report = run_verify(the_lab)
        assert report.ok, report.text()  # type: ignore[attr-defined]
        the_lab.ready = True
    return the_lab


def test_lab_has_every_frr_device_peer_and_host(example_lab: Lab) -> None:
    p = example_lab.plan
    assert sorted(p.routers) == ["gent-core1", "hq-core1", "hq-edge1", "wh-core1"]
    assert {x.name for x in p.peers} == {"isp", "cloud-vpn"}
    st = lab.status(p)
    assert st.complete
    # two hosts per VLAN (16 VLANs), one per address group, one behind each peer
    assert len(p.hosts) == 16 * 2 + 5 + 2


def _links(ns: str) -> dict[str, dict[str, object]]:
    out = netns.run(["ip", "-n", ns, "-j", "addr", "show"]).stdout
    return {link["ifname"]: link for link in json.loads(out)}


def test_routers_are_bare_boxes(example_lab: Lab) -> None:
    """Only the cabling: physical ports carrying the intent's names (and, this kernel having
    no 802.1Q, one wire per VLAN a trunk carries), all down, no address, no forwarding."""
    ns = example_lab.plan.routers["gent-core1"]
    links = _links(ns)
    assert set(links) == {"lo", "eth1", "eth2", "eth3", "eth4", "eth3v110", "eth3v120",
                          "eth3v130", "eth3v199", "eth4v140", "eth4v150", "eth4v160",
                          "eth4v170", "eth4v198"}
    for name, link in links.items():
        if name != "lo":
            assert "UP" not in link["flags"] and link["addr_info"] == [], name  # type: ignore
    forwarding = netns.ns_exec(ns, ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip()
    assert forwarding == "0"


def test_no_link_to_the_root_namespace(example_lab: Lab) -> None:
    before = root_links()
    for ns in example_lab.plan.namespaces:
        out = netns.run(["ip", "-n", ns, "-j", "link", "show", "type", "veth"]).stdout
        for link in json.loads(out):
            # every veth's peer lives in another namespace of the lab, never in ours
            assert "link_netnsid" in link, f"{ns} {link['ifname']} has its peer in the root ns"
    assert not any(name.startswith(("eth3.", "r1", "ph")) for name in before)


def test_up_is_idempotent(example_lab: Lab) -> None:
    assert lab.up(example_lab.plan, example_lab.secrets) is False


def test_routers_start_unconfigured(example_lab: Lab) -> None:
    drv = example_lab.driver("hq-edge1")
    try:
        assert "router bgp" not in drv.get_config(retrieve="running")["running"]
    finally:
        drv.close()


def test_status_json_opens_a_router(example_lab: Lab, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETPIPE_LAB_PREFIX", PREFIX)
    assert main(["lab", "status", "--root", str(example_lab.root), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["up"] is True
    entry = data["devices"]["hq-core1"]
    assert entry["namespace"] == f"{PREFIX}hq-core1"
    assert Path(entry["vty_socket"], "zebra.vty").exists()
    params = entry["napalm"]
    drv = napalm.get_network_driver(params["driver"])(params["hostname"], "", "",
                                                      optional_args=params["optional_args"])
    drv.open()
    try:
        assert drv.get_facts()["vendor"] == "FRRouting"
    finally:
        drv.close()


def test_push_then_verify_passes(example_lab: Lab) -> None:
    """The first deploy makes every interface the intent gives a router, with its address."""
    example_lab.push()
    for device, ns in example_lab.plan.routers.items():
        links = _links(ns)
        for iface in example_lab.build.devices[device].interfaces:
            assert iface.name in links, (device, iface.name)
            if iface.address is not None:
                assert str(iface.address.ip) in str(links[iface.name]["addr_info"]), iface
            assert "UP" in links[iface.name]["flags"] or iface.mode == "unused"  # type: ignore
    report = run_verify(example_lab)
    assert report.ok, report.text()  # type: ignore[attr-defined]
    example_lab.ready = True
    kinds = {c.kind for c in report.checks}  # type: ignore[attr-defined]
    assert kinds == {"ospf", "bgp", "route"}
    probes = report.probes  # type: ignore[attr-defined]
    assert sum(r.probe.expect for r in probes) > 50 and sum(not r.probe.expect for r in probes) > 50


def _host(the_lab: Lab, name: str) -> Host:
    return next(h for h in the_lab.plan.hosts if h.name == name)


WHO_AM_I = """
import socket, sys
server = socket.create_server(("0.0.0.0", int(sys.argv[1])))
print("ready", flush=True)
conn, (peer, _) = server.accept()
conn.sendall(peer.encode())
conn.close()
"""


def _seen_by(the_lab: Lab, server: Host, client: Host, port: int) -> str:
    """The source address ``server`` sees when ``client`` connects to it ("" if none)."""
    srv = subprocess.Popen(["ip", "netns", "exec", server.ns, sys.executable, "-c", WHO_AM_I,
                            str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert srv.stdout is not None and srv.stdout.readline().strip() == "ready"
        ask = ("import socket, sys\ns = socket.create_connection((sys.argv[1], int(sys.argv[2])),"
               " timeout=5)\nprint(s.recv(64).decode())")
        out = subprocess.run(["ip", "netns", "exec", client.ns, sys.executable, "-c", ask,
                              str(server.address.ip), str(port)], capture_output=True, text=True)
        return out.stdout.strip()
    finally:
        srv.kill()
        srv.wait()


def test_inside_reaches_the_internet_from_the_public_address(example_lab: Lab) -> None:
    """Source NAT at the ISP uplink: the Internet host sees the pool's public address, never
    the office host's private one (the emulated ISP routes no private space back)."""
    deployed(example_lab)
    (nat,) = example_lab.build.devices["hq-edge1"].nat
    assert nat.pool is not None
    seen = _seen_by(example_lab, _host(example_lab, "x-isp"), _host(example_lab, "h210a"), 80)
    assert seen == str(nat.pool[0]) == "203.0.113.1"


def test_from_outside_only_the_published_service_answers(example_lab: Lab) -> None:
    """Destination NAT: the supplier portal answers at its public address; its other ports,
    another inside host and the private address itself do not."""
    deployed(example_lab)
    internet, wms, server = (_host(example_lab, n) for n in ("x-isp", "g-wms", "h220a"))
    public = IPv4Address("203.0.113.10")

    def probe(dst: Host, port: int, via: IPv4Address | None) -> Probe:
        return Probe(f"n{port}{dst.name}{via}", internet, dst, "tcp", port, False, "", "", via)

    probes = [probe(wms, 443, public), probe(wms, 22, public), probe(server, 443, None),
              probe(wms, 443, None)]
    results = run_probes(probes)
    assert [r.passed for r in results] == [True, False, False, False], [r.seen for r in results]


def test_without_nat_nothing_inside_reaches_the_internet(example_lab: Lab,
                                                          tmp_path: Path) -> None:
    root = copy_example(tmp_path / "net")
    topo = root / "intent/topology.yaml"
    text = topo.read_text()
    start = text.index("    nat:\n")
    end = text.index("  - name: cloud-vpn")
    topo.write_text(text[:start] + text[end:])
    without = build(root, run_lint=False)
    assert without.ok and without.devices["hq-edge1"].nat == ()
    deployed(example_lab)
    office, internet = _host(example_lab, "h210a"), _host(example_lab, "x-isp")
    try:
        example_lab.push(without, ["hq-edge1"])
        (result,) = run_probes([Probe("n", office, internet, "tcp", 443, False, "", "")])
        assert not result.passed, result.seen  # out it goes; no reply finds the way back
    finally:
        example_lab.push(devices=["hq-edge1"])
    assert _seen_by(example_lab, internet, office, 80) == "203.0.113.1"


def test_removed_rule_fails_exactly_its_flows(example_lab: Lab, tmp_path: Path) -> None:
    root = copy_example(tmp_path / "net")
    fw = root / "intent/firewall.yaml"
    text = fw.read_text()
    rule = "  - name: scanners-to-wms\n    from: scanners\n    to: wms\n    services: https\n"
    assert rule in text
    fw.write_text(text.replace(rule, ""))
    without = build(root, run_lint=False)
    assert without.ok
    try:
        example_lab.push(without)
        report = run_verify(example_lab)
        failed = [r for r in report.probes if not r.ok]  # type: ignore[attr-defined]
        assert failed, "removing a rule must show in the probes"
        assert {r.probe.decided_by for r in failed} == {"scanners-to-wms"}
        assert {(r.probe.src.zone, r.probe.dst.zone) for r in failed} == {("scanners", "servers")}
        assert all(r.probe.expect and not r.passed for r in failed)
        assert {r.seen for r in failed} == {"no answer"}  # the firewall drops, silently
        assert "✗" in report.text()  # type: ignore[attr-defined]
    finally:
        example_lab.push()


def test_cli_verify_lab(example_lab: Lab, capsys: pytest.CaptureFixture[str],
                        monkeypatch: pytest.MonkeyPatch) -> None:
    deployed(example_lab)
    monkeypatch.setenv("NETPIPE_LAB_PREFIX", PREFIX)
    code = main(["verify", "--lab", "--root", str(example_lab.root), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert out["ok"] is True and out["errors"] == {}
    assert all(p["ok"] for p in out["probes"])


def _snmp_name(ns: str, address: str, community: str) -> str | None:
    proc = netns.ns_exec(ns, ["snmpget", "-v2c", "-c", community, "-t", "1", "-r", "1", "-Oqv",
                              address, "1.3.6.1.2.1.1.5.0"], check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def test_router_services_answer_the_management_zone_only(example_lab: Lab) -> None:
    """Every router runs the SNMP agent, NTP client, syslog forwarding and resolvers of
    network.yaml from its deploy. The agent answers a host in the management zone and not
    one in the office (real SNMP requests through the zone firewall and the agent's own
    community limit), and a line logged on a router reaches the syslog server."""
    example_lab.push()
    community = example_lab.secrets["SNMP_RO_COMMUNITY"]
    net = example_lab.build.intent
    assert net is not None
    for device in example_lab.plan.routers:
        box = Path(lab.napalm_params(example_lab.plan.prefix, device)
                   ["optional_args"]["root_dir"])
        assert (box / "etc/resolv.conf").read_text() == \
            example_lab.build.rendered[device].files["resolv.conf"]
        for rel, comm in (("run/chrony/chronyd.pid", "chronyd"), ("run/snmpd/snmpd.pid", "snmpd"),
                          ("run/rsyslog/rsyslogd.pid", "rsyslogd")):
            pid = (box / rel).read_text().strip()
            assert Path(f"/proc/{pid}/comm").read_text().strip() == comm, (device, comm)
    mgmt = next(h for h in example_lab.plan.hosts if h.zone == net.network.management_zone
                and str(h.address.ip).startswith("10.2."))
    office = next(h for h in example_lab.plan.hosts if h.zone == "office"
                  and str(h.address.ip).startswith("10.2."))
    for device in example_lab.plan.routers:
        loopback = net.hosts[device].data.loopback
        assert loopback is not None
        assert _snmp_name(mgmt.ns, str(loopback.ip), community) == f'"{device}"', device
        assert _snmp_name(office.ns, str(loopback.ip), community) is None, device
    # syslog: the server (10.2.20.12 in network.yaml) stands in a host of the servers VLAN
    server = str(net.network.syslog[0])
    host = next(h for h in example_lab.plan.hosts if IPv4Address(server) in h.address.network)
    netns.run(["ip", "-n", host.ns, "addr", "add", f"{server}/32", "dev", "eth0"])
    listener = subprocess.Popen(
        ["ip", "netns", "exec", host.ns, sys.executable, "-c",
         "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
         f"s.bind(('{server}', 514)); s.settimeout(30); print(s.recv(4096).decode())"],
        stdout=subprocess.PIPE, text=True)
    try:
        router = _box(example_lab, "hq-core1")
        deadline = time.monotonic() + 30
        while listener.poll() is None and time.monotonic() < deadline:
            router.run(["logger", "-u", "/run/rsyslog/log", "netpipe-example-syslog-probe"])
            time.sleep(0.5)
        out, _ = listener.communicate(timeout=30)
    finally:
        listener.kill()
        netns.run(["ip", "-n", host.ns, "addr", "del", f"{server}/32", "dev", "eth0"],
                  check=False)
    assert "netpipe-example-syslog-probe" in out


def _box(example_lab: Lab, device: str) -> NetnsTransport:
    """A command runner on the lab router `device`, seeing the box's own /etc and /run."""
    args = lab.napalm_params(example_lab.plan.prefix, device)["optional_args"]
    return NetnsTransport(args["netns"], root=args["root_dir"])


def _ntp_answers(ns: str, server: str, tmp_path: Path) -> subprocess.Popen[str]:
    """One NTP client query (``chronyd -Q``: measure, never set the clock) from namespace `ns`;
    exit 0 when `server` answered within 4 s."""
    # its own pid file and no command socket: the machine may run a chronyd of its own
    conf = [f"server {server} iburst maxsamples 1", f"pidfile {tmp_path / (ns + server)}.pid",
            "bindcmdaddress /"]
    return subprocess.Popen(["ip", "netns", "exec", ns, "chronyd", "-Q", "-t", "4", *conf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)


def test_routers_keep_time_from_the_ntp_server(example_lab: Lab, tmp_path: Path) -> None:
    """network.yaml's NTP server (10.2.20.11) stands in a host of hq's servers VLAN as a real
    chronyd (`local stratum 8`, -x: it never steers the machine's clock). Every router's
    chronyd, started by its deploy, selects it as its source (``chronyc sources``: `*`)
    through the WAN and the zone firewall; no router answers NTP itself, neither to the
    management zone nor to the office (they are clients: no `allow`), while the server
    answers both, so the probe itself works."""
    example_lab.push()
    net = example_lab.build.intent
    assert net is not None
    server = str(net.network.ntp[0])
    host = next(h for h in example_lab.plan.hosts if IPv4Address(server) in h.address.network)
    conf = tmp_path / "ntp-server.conf"
    conf.write_text(f"local stratum 8\nallow 10.0.0.0/8\nbindaddress {server}\ncmdport 0\n"
                    f"bindcmdaddress /\npidfile {tmp_path / 'ntp-server.pid'}\n")
    netns.run(["ip", "-n", host.ns, "addr", "add", f"{server}/32", "dev", "eth0"])
    try:
        netns.ns_exec(host.ns, ["chronyd", "-x", "-u", "root", "-f", str(conf),
                                "-l", str(tmp_path / "ntp-server.log")])
        boxes = {device: _box(example_lab, device) for device in example_lab.plan.routers}
        for box in boxes.values():  # measure now, not at the next 64 s poll
            assert box.run(["chronyc", "burst", "4/4"]).stdout.strip() == "200 OK"
        selected: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while len(selected) < len(boxes) and time.monotonic() < deadline:
            for device, box in boxes.items():
                # csv: mode, state (* = the selected source), address, stratum, ...
                for row in box.run(["chronyc", "-n", "-c", "sources"]).stdout.splitlines():
                    if row.split(",")[1:3] == ["*", server]:
                        selected[device] = row
            time.sleep(1)
        assert set(selected) == set(boxes), {d: boxes[d].run(["chronyc", "-n", "sources"])
                                             for d in boxes if d not in selected}
        mgmt, office = (next(h for h in example_lab.plan.hosts if h.zone == zone
                             and str(h.address.ip).startswith("10.2."))
                        for zone in (net.network.management_zone, "office"))
        targets = [server]
        for device in boxes:
            loopback = net.hosts[device].data.loopback
            assert loopback is not None
            targets.append(str(loopback.ip))
        queries = {(h.zone, target): _ntp_answers(h.ns, target, tmp_path)
                   for h in (mgmt, office) for target in targets}
        answered = {key for key, proc in queries.items() if proc.wait(timeout=30) == 0}
    finally:
        pidfile = tmp_path / "ntp-server.pid"
        if pidfile.exists():
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        netns.run(["ip", "-n", host.ns, "addr", "del", f"{server}/32", "dev", "eth0"],
                  check=False)
    assert answered == {(mgmt.zone, server), (office.zone, server)}


UDHCPC_SCRIPT = '#!/bin/sh\n[ "$1" = bound ] && echo "lease $ip/$subnet router $router"\nexit 0\n'


def test_a_vlan_host_gets_a_lease_through_the_relay(example_lab: Lab, tmp_path: Path) -> None:
    """hq's office VLAN relays DHCP to 10.2.20.14 (intent/sites/hq.yaml): a DHCP server
    (dnsmasq) there, behind hq-core1, and a real DHCP client (busybox udhcpc) in an office host
    get a lease in the VLAN's subnet, only through the relay hq-core1's deploy runs."""
    example_lab.push()
    net = example_lab.build.intent
    assert net is not None
    vlan = next(v for v in net.sites["hq"].vlans if v.dhcp_relay)
    server = str(vlan.dhcp_relay[0])
    pool = list(vlan.subnet.hosts())[-20:]
    host = next(h for h in example_lab.plan.hosts if IPv4Address(server) in h.address.network)
    client = next(h for h in example_lab.plan.hosts if h.vlan == vlan.id
                  and h.address.network == vlan.subnet)
    netns.run(["ip", "-n", host.ns, "addr", "add", f"{server}/32", "dev", "eth0"])
    # the server answers from its own address, which the router accepts replies from
    to_vlan = ["ip", "-n", host.ns, "route", "add", str(vlan.subnet), "via", str(host.gateway),
               "src", server]
    netns.run(to_vlan)
    pidfile = tmp_path / "dhcp-server.pid"
    script = tmp_path / "udhcpc.sh"
    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o755)
    try:
        netns.ns_exec(host.ns, [
            "dnsmasq", "-C", "/dev/null", "--port=0", f"--pid-file={pidfile}",
            f"--dhcp-leasefile={tmp_path / 'leases'}", "--bind-interfaces",
            f"--listen-address={server}",
            f"--dhcp-range={pool[0]},{pool[-1]},{vlan.subnet.netmask},10m"])
        got = netns.ns_exec(client.ns, ["busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n",
                                        "-t", "10", "-T", "2", "-s", str(script)],
                            check=False, timeout=60)
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        netns.run([*to_vlan[:4], "del", *to_vlan[5:]], check=False)
        netns.run(["ip", "-n", host.ns, "addr", "del", f"{server}/32", "dev", "eth0"],
                  check=False)
    lease = next((line.split() for line in got.stdout.splitlines()
                  if line.startswith("lease ")), None)
    assert lease is not None, got.stdout + got.stderr
    address = IPv4Address(lease[1].split("/")[0])
    assert address in vlan.subnet and address in pool, lease
    assert lease[3] == str(vlan.gateway_address)  # the server answered the relay's subnet
    assert f"from {server}" in got.stderr
