"""The system files netpipe runs, and the Debian package each one comes from.

One table, so that a missing program is reported by its exact path and the package to
install (``apt-get install frr-pythontools``), and so that a test can hold the Makefile's
package list to it: a package present on one machine by chance must not hide a missing
install step from a fresh one.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Need:
    path: str
    package: str
    purpose: str


ZEBRA = Need("/usr/lib/frr/zebra", "frr", "FRR daemons (lab)")
FRR_RELOAD = Need("/usr/lib/frr/frr-reload.py", "frr-pythontools", "FRR diff and apply")
VTYSH = Need("/usr/bin/vtysh", "frr", "FRR config check")
NFT = Need("/usr/sbin/nft", "nftables", "nftables check and apply")
IP = Need("/bin/ip", "iproute2", "network namespaces")
SYSCTL = Need("/sbin/sysctl", "procps", "kernel settings")
UNSHARE = Need("/usr/bin/unshare", "util-linux", "throw-away namespaces for nft --check")
SSHD = Need("/usr/sbin/sshd", "openssh-server", "the ssh transport's lab tests")
RSYNC = Need("/usr/bin/rsync", "rsync", "gitlab-ci-local's per-job checkouts (CI tests)")
IFUP = Need("/sbin/ifup", "ifupdown2", "interfaces check (ifup -s)")
IFRELOAD = Need("/sbin/ifreload", "ifupdown2", "interfaces apply (lab routers)")
IFUPDOWN2_CONF = Need("/etc/network/ifupdown2/ifupdown2.conf", "ifupdown2",
                      "ifupdown2's settings (the interfaces check starts from them)")
MOUNT = Need("/bin/mount", "mount", "a lab router's own directories (bind mounts)")
MOUNTPOINT = Need("/bin/mountpoint", "util-linux",
                  "a lab box's resolv.conf, a file mounted alone, is written in place")
CHRONYD = Need("/usr/sbin/chronyd", "chrony", "NTP client: check (chronyd -p) and lab routers")
SNMPD = Need("/usr/sbin/snmpd", "snmpd", "SNMP agent: check and lab routers")
RSYSLOGD = Need("/usr/sbin/rsyslogd", "rsyslog", "remote syslog: check (rsyslogd -N1) and lab")
DNSMASQ = Need("/usr/sbin/dnsmasq", "dnsmasq-base",
               "DHCP relay: check (dnsmasq --test) and lab routers; the lab's DHCP server")
UDHCPC = Need("/bin/busybox", "busybox", "the lab's DHCP client (busybox udhcpc)")
SNMPGET = Need("/usr/bin/snmpget", "snmp", "the lab's SNMP probes")

LINT: tuple[Need, ...] = (VTYSH, NFT, UNSHARE, IFUP, IFUPDOWN2_CONF, SYSCTL, IP, CHRONYD, SNMPD,
                          RSYSLOGD, DNSMASQ)
LAB: tuple[Need, ...] = (ZEBRA, FRR_RELOAD, VTYSH, NFT, IP, SYSCTL, IFRELOAD, MOUNT, CHRONYD,
                         SNMPD, RSYSLOGD, SNMPGET, DNSMASQ, UDHCPC, MOUNTPOINT)
# Derived, so a need added to LINT or LAB is in the set-up test's dpkg check without a third list.
ALL: tuple[Need, ...] = tuple(dict.fromkeys((*LINT, *LAB, SSHD, RSYNC)))


SYSTEM_DIRS = "/usr/sbin:/usr/bin:/sbin:/bin"


def checker_env() -> dict[str, str]:
    """The environment a checking program runs in: the system's directories first on PATH.
    The checkers are Debian's programs, and ifupdown2 starts with ``#!/usr/bin/env python3``:
    a caller's own ``python3`` (a pyenv shim, a venv) must not run it (a shim cost 0.15 s
    per check here; an interpreter without its modules fails the check)."""
    return {**os.environ, "PATH": f"{SYSTEM_DIRS}:{os.environ.get('PATH', '')}"}


CHECK_TIMEOUT = 60
_checks_deadline: float | None = None  # time.monotonic() past which no check starts


class CheckUnfinished(Exception):
    """A checking program did not finish within its timeout, or the checks' time in all
    (:func:`checks_within`) ran out before it started."""


@contextmanager
def checks_within(seconds: float) -> Iterator[None]:
    """Every :func:`check_timeout` inside is cut to what is left of ``seconds`` in all."""
    global _checks_deadline
    outer, _checks_deadline = _checks_deadline, time.monotonic() + seconds
    try:
        yield
    finally:
        _checks_deadline = outer


def check_timeout() -> float:
    """The timeout of the next check: :data:`CHECK_TIMEOUT`, or less when the checks' time
    in all ends sooner; CheckUnfinished when it has ended."""
    if _checks_deadline is None:
        return CHECK_TIMEOUT
    left = _checks_deadline - time.monotonic()
    if left <= 0:
        raise CheckUnfinished("the checks' time in all ran out before it started")
    return min(CHECK_TIMEOUT, left)


def run_checker(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """A checking program's run in :func:`checker_env`, its output read as UTF-8 whatever
    it prints (rsyslogd quotes one byte of a character it refuses); CheckUnfinished past
    :func:`check_timeout`."""
    timeout = check_timeout()
    try:
        return subprocess.run(argv, capture_output=True, text=True, errors="replace",
                              timeout=timeout, check=False, stdin=subprocess.DEVNULL,
                              env=checker_env())
    except subprocess.TimeoutExpired:
        raise CheckUnfinished(f"it ran past its timeout ({timeout:g} s)") from None


def missing(needs: Iterable[Need]) -> list[Need]:
    return [n for n in needs if not os.path.exists(n.path)]


def describe_missing(needs: Iterable[Need]) -> str:
    """``""`` if all are present, else e.g. ``/usr/lib/frr/frr-reload.py is missing
    (apt-get install frr-pythontools)``."""
    absent = missing(needs)
    if not absent:
        return ""
    files = ", ".join(n.path for n in absent)
    packages = " ".join(sorted({n.package for n in absent}))
    verb = "is" if len(absent) == 1 else "are"
    return f"{files} {verb} missing (apt-get install {packages})"
