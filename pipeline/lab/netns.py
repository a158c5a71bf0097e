"""Network-namespace primitives for the lab.

Every namespace the lab creates carries a name prefix (``np-`` by default) so that cleanup after a
crash can remove exactly what a previous run left behind and nothing else. Links are veth pairs
created *inside* a lab namespace and moved straight into the peer namespace, so no interface ever
appears in the root namespace and the lab has no path to the outside.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

PREFIX = "np-"
NETNS_DIR = Path("/run/netns")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_IFNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")


class NetnsError(RuntimeError):
    """A namespace operation failed; the message carries the command and its stderr."""


def run(
    argv: Sequence[str], *, input: str | None = None, check: bool = True, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run a command in the current namespace, raising NetnsError with stderr on failure."""
    proc = subprocess.run(
        list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(argv)} failed (rc={proc.returncode}): {proc.stderr.strip()}")
    return proc


def ns_exec(
    ns: str,
    argv: Sequence[str],
    *,
    input: str | None = None,
    check: bool = True,
    timeout: float = 30.0,
) -> subprocess.CompletedProcess[str]:
    """Run a command inside namespace ``ns`` (``ip netns exec``)."""
    return run(["ip", "netns", "exec", ns, *argv], input=input, check=check, timeout=timeout)


def _check_name(name: str, prefix: str) -> None:
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid namespace name {name!r}")
    if not name.startswith(prefix):
        raise ValueError(f"namespace {name!r} lacks the lab prefix {prefix!r}")


def _check_ifname(name: str) -> None:
    if not _IFNAME_RE.match(name):
        raise ValueError(f"invalid interface name {name!r} (1-15 chars, [A-Za-z0-9_.-])")


def namespace_exists(name: str) -> bool:
    """True if ``/run/netns/NAME`` exists."""
    return (NETNS_DIR / name).exists()


def list_namespaces(prefix: str = PREFIX) -> list[str]:
    """Names of existing namespaces starting with ``prefix`` (sorted)."""
    if not prefix:
        raise ValueError("refusing to list namespaces with an empty prefix")
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))


def create_namespace(name: str, *, prefix: str = PREFIX) -> None:
    """Create namespace ``name`` with ``lo`` up (new namespaces start with forwarding off)."""
    _check_name(name, prefix)
    if namespace_exists(name):
        raise NetnsError(f"namespace {name} already exists")
    run(["ip", "netns", "add", name])
    run(["ip", "-n", name, "link", "set", "lo", "up"])


def namespace_pids(name: str) -> list[int]:
    """Pids of processes whose network namespace is ``name``."""
    proc = run(["ip", "netns", "pids", name], check=False)
    return [int(tok) for tok in proc.stdout.split() if tok.isdigit()]


def kill_namespace_processes(name: str, *, timeout: float = 5.0) -> None:
    """SIGTERM every process inside ``name`` by pid, then SIGKILL those still alive."""
    pids = [p for p in namespace_pids(name) if p != os.getpid()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [p for p in pids if pid_alive(p)]
            if not pids:
                return
            time.sleep(0.05)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes: it holds no namespace resources.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def delete_namespace(name: str, *, prefix: str = PREFIX) -> None:
    """Kill processes left in ``name`` and delete it (veths inside go with it). Idempotent."""
    _check_name(name, prefix)
    if not namespace_exists(name):
        return
    kill_namespace_processes(name)
    run(["ip", "netns", "delete", name])


def cleanup(prefix: str = PREFIX) -> list[str]:
    """Delete every namespace with ``prefix`` (e.g. after a crash); returns the names removed."""
    names = list_namespaces(prefix)
    for name in names:
        delete_namespace(name, prefix=prefix)
    return names


def create_veth(
    ns_a: str,
    if_a: str,
    ns_b: str,
    if_b: str,
    *,
    prefix: str = PREFIX,
    up: bool = True,
    mtu: int | None = None,
) -> None:
    """Create a veth pair ``ns_a:if_a`` <-> ``ns_b:if_b``.

    The pair is created inside ``ns_a`` with its peer placed directly into ``ns_b`` (one
    netlink request), so neither end ever exists in the root namespace.
    """
    for ns in (ns_a, ns_b):
        _check_name(ns, prefix)
    _check_ifname(if_a)
    _check_ifname(if_b)
    if ns_a == ns_b and if_a == if_b:
        raise ValueError("both ends of a veth in one namespace need distinct names")
    for ns in (ns_a, ns_b):
        if not namespace_exists(ns):
            raise NetnsError(f"namespace {ns} does not exist")
    argv = ["ip", "-n", ns_a, "link", "add", if_a]
    if mtu is not None:
        argv += ["mtu", str(mtu)]
    argv += ["type", "veth", "peer", "name", if_b, "netns", ns_b]
    if mtu is not None:
        argv += ["mtu", str(mtu)]
    run(argv)
    if up:
        set_link_up(ns_a, if_a, prefix=prefix)
        set_link_up(ns_b, if_b, prefix=prefix)


def set_link_up(ns: str, ifname: str, *, up: bool = True, prefix: str = PREFIX) -> None:
    """Set a link administratively up (or down)."""
    _check_name(ns, prefix)
    run(["ip", "-n", ns, "link", "set", ifname, "up" if up else "down"])


def add_address(ns: str, ifname: str, cidr: str, *, prefix: str = PREFIX) -> None:
    """Add an address (``10.99.0.0/31``, ``2001:db8::1/64``) to an interface in ``ns``."""
    _check_name(ns, prefix)
    family = "-6" if ":" in cidr else "-4"
    run(["ip", "-n", ns, family, "address", "add", cidr, "dev", ifname])


def set_forwarding(ns: str, enabled: bool, *, ipv6: bool = True, prefix: str = PREFIX) -> None:
    """Enable or disable IPv4 (and IPv6) forwarding inside ``ns`` only."""
    _check_name(ns, prefix)
    value = "1" if enabled else "0"
    ns_exec(ns, ["sysctl", "-q", "-w", f"net.ipv4.ip_forward={value}"])
    if ipv6:
        ns_exec(ns, ["sysctl", "-q", "-w", f"net.ipv6.conf.all.forwarding={value}"])


def kernel_has_8021q() -> bool:
    """Whether this kernel makes 802.1Q VLAN devices (tried in a throw-away namespace)."""
    proc = run(["unshare", "-n", "sh", "-c", "ip link add npq0 type veth peer name npq1 && "
                "ip link add link npq0 name npq0.7 type vlan id 7"], check=False)
    return proc.returncode == 0


_FRESH = ("net.ipv4.ip_forward", "net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter")


def fresh_sysctls(ns: str, ports: Sequence[str]) -> None:
    """Forwarding and reverse-path filtering in ``ns`` (and on each of ``ports``) back to what
    a fresh namespace has, as after a reboot (read from a throw-away namespace)."""
    keys = [*_FRESH, "net.ipv4.conf.npq0.rp_filter"]
    proc = run(["unshare", "-n", "sh", "-c", 'ip link add npq0 type veth peer name npq1 && '
                'exec sysctl "$@"', "sh", *keys])
    values = dict(line.split(" = ", 1) for line in proc.stdout.splitlines() if " = " in line)
    sets = [f"{k}={values[k]}" for k in _FRESH]
    sets += [f"net.ipv4.conf.{p.replace('.', '/')}.rp_filter="
             f"{values['net.ipv4.conf.npq0.rp_filter']}" for p in ports]
    ns_exec(ns, ["sysctl", "-q", "-w", *sets])
