"""Build, tear down and inspect the namespace lab from a :class:`LabPlan`.

``up`` is idempotent (a complete lab is left as it is) and starts from scratch when
anything is missing; ``down`` removes every namespace with the lab's prefix, whatever
a crashed run left. Routers start as bare boxes (ports down, no addresses, forwarding off,
FRR running unconfigured) so the first deploy is a real change that makes every interface.
Each router has directories of its own under its run directory (``root/``: its
``/etc/network``, ``/etc/sysctl.d`` ...; see ``napalm_frr.transport.BOX_DIRS``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from napalm_frr import boxfiles
from napalm_frr.transport import BOX_DIRS, NetnsTransport
from pipeline.lab import frr, netns
from pipeline.lab.plan import Host, LabPlan, Peer, Veth, peer_config

RUN_BASE = Path("/run/netpipe")
WORKERS = 8
T = TypeVar("T")


def rundir(prefix: str, ns: str) -> Path:
    """Private FRR directory of a namespace: sockets, pid files, frr.conf, driver state."""
    return RUN_BASE / prefix.rstrip("-") / ns


def lab_secrets(names: Iterable[str], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Secret values for the lab: the environment's, else a fixed lab-only value.

    The lab's emulated peers and the deploy to lab routers must agree on e.g. a BGP
    password without anyone exporting variables for a demo.
    """
    source = os.environ if env is None else env
    return {n: source.get(n, f"lab-{n.lower().replace('_', '-')}") for n in names}


def _parallel(fn: Callable[[T], Any], items: Iterable[T]) -> None:
    with ThreadPoolExecutor(WORKERS) as pool:
        for _ in pool.map(fn, items):
            pass


def _veth(lab: LabPlan, link: Veth, tagged: bool) -> None:
    netns.create_veth(link.a_ns, link.a_if, link.b_ns, link.b_if, prefix=lab.prefix, up=False)
    routers = set(lab.routers.values())
    for ns, ifname in ((link.a_ns, link.a_if), (link.b_ns, link.b_if)):
        if ns not in routers:  # a router's port stays down until its deploy brings it up
            netns.set_link_up(ns, ifname, prefix=lab.prefix)
    if link.a_addr is not None:
        netns.add_address(link.a_ns, link.a_if, str(link.a_addr), prefix=lab.prefix)
    if link.b_addr is not None:
        netns.add_address(link.b_ns, link.b_if, str(link.b_addr), prefix=lab.prefix)
    if link.bridge is not None:
        netns.run(["ip", "-n", link.b_ns, "link", "set", link.b_if, "master", link.bridge])
    if tagged and link.vlan is not None:
        # A kernel with 802.1Q: the router's eth3.110 is a real VLAN on eth3, so the switch's
        # end of the trunk gets the VLAN too, in the VLAN's segment (not proven on this VM).
        trunk = next(x.b_if for x in lab.links if x.a_ns == link.a_ns
                     and x.b_ns == link.b_ns and x.a_if == link.a_if.rsplit("v", 1)[0])
        sub = f"{trunk}.{link.vlan}"[:15]
        netns.run(["ip", "-n", link.b_ns, "link", "add", "link", trunk, "name", sub, "type",
                   "vlan", "id", str(link.vlan)])
        netns.run(["ip", "-n", link.b_ns, "link", "set", sub, "master", link.bridge or "",
                   "up"])


def _host(lab: LabPlan, host: Host) -> None:
    netns.run(["ip", "-n", host.ns, "route", "add", "default", "via", str(host.gateway)])


def _peer(lab: LabPlan, peer: Peer, secrets: Mapping[str, str]) -> None:
    path = frr.prepare_rundir(rundir(lab.prefix, peer.ns))
    password = secrets.get(peer.password_secret) if peer.password_secret else None
    (path / "frr.conf").write_text(peer_config(peer, password))
    netns.set_forwarding(peer.ns, True, prefix=lab.prefix)
    frr.start_frr(peer.ns, path, ("zebra", "staticd", "bgpd"))


def _router(lab: LabPlan, ns: str) -> None:
    """A bare box: FRR installed and running with an empty config, nothing else."""
    path = rundir(lab.prefix, ns)
    if path.exists():
        shutil.rmtree(path)
    frr.prepare_rundir(path)
    frr.start_frr(ns, path)


@dataclass
class Status:
    namespaces: dict[str, bool]
    frr: dict[str, bool]  # namespace -> daemons running

    @property
    def complete(self) -> bool:
        return all(self.namespaces.values()) and all(self.frr.values())

    @property
    def empty(self) -> bool:
        return not any(self.namespaces.values())


def status(lab: LabPlan) -> Status:
    spaces = {ns: netns.namespace_exists(ns) for ns in lab.namespaces}
    daemons = {ns: frr.frr_running(rundir(lab.prefix, ns))
               for ns in [*lab.routers.values(), *(p.ns for p in lab.peers)]}
    return Status(spaces, daemons)


def _links_in(ns: str) -> set[str]:
    out = netns.run(["ip", "-n", ns, "-j", "link", "show"]).stdout
    return {link["ifname"] for link in json.loads(out or "[]")}


def up(lab: LabPlan, secrets: Mapping[str, str]) -> bool:
    """Build what is missing; False if the lab was already complete (nothing done).

    Reconciles rather than rebuilds: a running lab whose intent gained a VLAN or a link
    gets just the new segment, so routers keep their deployed configs, the way a real
    network keeps running while a merge request adds to it.
    """
    if status(lab).complete:
        return False
    wanted = set(lab.namespaces)
    existing = set(netns.list_namespaces(lab.prefix))
    for ns in sorted(existing - wanted):  # e.g. test hosts of a VLAN the intent dropped
        netns.delete_namespace(ns, prefix=lab.prefix)
    new = sorted(wanted - existing)
    _parallel(lambda ns: netns.create_namespace(ns, prefix=lab.prefix), new)
    have = {ns: _links_in(ns) for ns in sorted(wanted)}
    for ns, bridges in lab.bridges.items():
        for bridge in bridges:
            if bridge not in have[ns]:
                netns.run(["ip", "-n", ns, "link", "add", bridge, "type", "bridge"])
                netns.run(["ip", "-n", ns, "link", "set", bridge, "up"])
    tagged = netns.kernel_has_8021q()
    _parallel(lambda link: _veth(lab, link, tagged),
              [x for x in lab.links if x.a_if not in have[x.a_ns]])
    _parallel(lambda host: _host(lab, host), [h for h in lab.hosts if h.ns in new])
    st = status(lab)
    _parallel(lambda ns: _router(lab, ns), [ns for ns in lab.routers.values() if not st.frr[ns]])
    _parallel(lambda peer: _peer(lab, peer, secrets), [p for p in lab.peers if not st.frr[p.ns]])
    return True


def down(prefix: str) -> list[str]:
    """Remove every namespace with ``prefix`` and its FRR state; returns what was removed."""
    removed = netns.cleanup(prefix)
    base = RUN_BASE / prefix.rstrip("-")
    if base.exists():
        shutil.rmtree(base, ignore_errors=True)
    return removed


def reboot(prefix: str, device: str, *, boot_hook: bool = True) -> None:
    """Power-cycle one router of the example network's lab (see :func:`power_cycle`)."""
    ns = f"{prefix}{device}"
    args = napalm_params(prefix, device)["optional_args"]
    power_cycle(ns, rundir(prefix, ns), Path(args["state_dir"]), boot_hook=boot_hook,
                root=Path(args["root_dir"]))


def power_cycle(ns: str, frr_dir: Path, state_dir: Path, *, boot_hook: bool = True,
                root: Path | None = None,
                interfaces: Mapping[str, Iterable[str]] | None = None) -> None:
    """A lab router goes down and comes back the way a Debian box does.

    Power off: every process of the router dies at once (FRR, a revert timer, whatever was
    running there), and its kernel state goes: the nftables ruleset, addresses, routes,
    every link that is not a port (VLAN subinterfaces and their stand-ins), forwarding and
    reverse-path settings (back to a fresh namespace's); links go down; the box's ``/run``
    empties. What is on "disk" stays: ``frr_dir`` (FRR's saved ``frr.conf``, the persisted
    netpipe ruleset), ``state_dir`` (the driver's) and the box's own directories under
    ``root`` (``/etc/network/interfaces``, ``/etc/sysctl.d``). Boot, in systemd's order:
    nftables.service (an empty ruleset here), netpipe-boot.service (``state_dir/boot.sh``,
    unless ``boot_hook`` is False: a box without the hook installed), systemd-sysctl (the
    box's ``/etc/sysctl.d``), networking (``ifup -a``; ``interfaces`` adds addresses for a box
    without an interfaces file), the per-interface sysctls again (systemd's udev rule does so
    as each interface appears), chrony, snmpd and rsyslog on their files where the box has
    them, frr.service (daemons, then ``vtysh -b`` loads the saved frr.conf). Nothing else is
    done for the router.
    """
    for pid in netns.namespace_pids(ns):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    frr.stop_frr(frr_dir)  # nothing left to stop: removes the pid files, as /run is emptied
    box = NetnsTransport(ns, root=str(root) if root else None)
    netns.ns_exec(ns, ["nft", "flush", "ruleset"])
    ports = _ports(ns)
    for link in sorted(_links_in(ns) - {"lo"} - set(ports)):
        netns.run(["ip", "-n", ns, "link", "del", link], check=False)  # gone with the power
    for link in ports:
        netns.run(["ip", "-n", ns, "link", "set", link, "down"])
        netns.run(["ip", "-n", ns, "addr", "flush", "dev", link])
    netns.run(["ip", "-n", ns, "addr", "flush", "dev", "lo"])
    netns.run(["ip", "-n", ns, "addr", "add", "127.0.0.1/8", "dev", "lo"])
    netns.run(["ip", "-n", ns, "route", "flush", "table", "main"])
    netns.fresh_sysctls(ns, ports)
    for box_dir in BOX_DIRS:
        if box_dir.startswith("/run/") and root is not None:
            shutil.rmtree(root / box_dir.lstrip("/"), ignore_errors=True)
    hook = state_dir / "boot.sh"
    if boot_hook and hook.is_file():
        box.run(["sh", str(hook)])
    sysctl_files = ["sh", "-c", 'for f in /etc/sysctl.d/*.conf; do [ -e "$f" ] && '
                    'sysctl -q -e -p "$f"; done; exit 0']
    box.run(sysctl_files)
    box.run(["ifup", "-a"])
    for link in ports:
        if link in (interfaces or {}):
            netns.run(["ip", "-n", ns, "link", "set", link, "up"])
        for cidr in (interfaces or {}).get(link, ()):
            netns.run(["ip", "-n", ns, "addr", "add", cidr, "dev", link])
    box.run(sysctl_files)
    box.run(["sh", "-c", boxfiles.services_script(start=True)])
    frr.start_frr(ns, frr_dir)


def _ports(ns: str) -> list[str]:
    """The router's ports: the lab's veths (its cabling); every other link is made at boot."""
    out = netns.run(["ip", "-n", ns, "-j", "-d", "link", "show", "type", "veth"]).stdout
    return sorted(link["ifname"] for link in json.loads(out or "[]"))


def napalm_params(prefix: str, device: str) -> dict[str, Any]:
    """How to open a lab router with NAPALM: ``get_network_driver(driver)(hostname, …)``.

    Needs only the lab prefix and the device name, so an emergency rollback can reach
    lab routers without rendering anything."""
    ns = f"{prefix}{device}"
    path = rundir(prefix, ns)
    return {
        "driver": "frr",
        "hostname": ns,
        "optional_args": {"transport": "netns", "netns": ns, "vty_socket": str(path),
                          "state_dir": str(path / "netpipe"), "root_dir": str(path / "root")},
    }
