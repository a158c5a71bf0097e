"""The box's own files beside ``frr.conf`` and the ruleset: interfaces, kernel settings and the
router's services (resolvers, NTP client, syslog forwarding, SNMP agent, DHCP relay).

Each is a file the box reads at boot and a command that makes what runs match it:

* ``interfaces``: ``/etc/network/interfaces`` (ifupdown2 syntax), applied with ``ifreload -a``,
  which also takes down (and deletes, for a VLAN subinterface) what left the file. ``ifquery -a
  -c`` tells whether the kernel matches it. ifreload reads only this path (it has no ``-i``).
* ``sysctl.conf``: ``/etc/sysctl.d/90-netpipe.conf``, applied with ``sysctl -p``; per interface
  keys (``net.ipv4.conf.eth3/110.rp_filter``) as systemd-sysctl applies them when the interface
  appears. What runs is the kernel's value of each key the file names.
* ``resolv.conf``, ``chrony.conf``, ``snmpd.conf``, ``rsyslog.conf``, ``dhcp-relay.conf``: each
  read by its daemon (the resolver reads ``/etc/resolv.conf`` live), applied by restarting the
  daemon (:data:`SERVICE`); an empty file, none on the box, stops it.

Like FRR's config, a commit changes what runs and a confirm what boots: the file is put in
place for the apply and the previous one put back right after (the boot hook covers the
instant between); ``STATE/applied/<name>`` keeps what was applied, and confirm writes it to
the boot path. Empty content means the box has no such file.

**A kernel without 802.1Q** (``8021q``: this project's lab VM) cannot make ``eth3.110``.
There, and only there, the apply makes each VLAN subinterface the file declares as a macvlan
(passthru) on the interface that carries that VLAN of the raw device, named ``<raw>v<vid>``
(``eth3v110``: the lab cables one veth per VLAN because frames cannot be tagged), before
ifreload configures it; ifupdown2 accepts it as the dot-named VLAN and deletes it when it
leaves the file. On a kernel with 802.1Q ifupdown2 creates the real VLAN device.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

INTERFACES = "interfaces"
SYSCTL = "sysctl.conf"
RESOLV = "resolv.conf"
CHRONY = "chrony.conf"
SNMPD = "snmpd.conf"
RSYSLOG = "rsyslog.conf"
DHCP_RELAY = "dhcp-relay.conf"


@dataclass(frozen=True)
class BoxFile:
    name: str  # the target's name in a candidate bundle
    path: str  # where the box reads it at boot


FILES: tuple[BoxFile, ...] = (
    BoxFile(INTERFACES, "/etc/network/interfaces"),
    BoxFile(SYSCTL, "/etc/sysctl.d/90-netpipe.conf"),
    BoxFile(RESOLV, "/etc/resolv.conf"),
    BoxFile(CHRONY, "/etc/chrony/chrony.conf"),
    BoxFile(SNMPD, "/etc/snmp/snmpd.conf"),
    BoxFile(RSYSLOG, "/etc/rsyslog.d/90-netpipe.conf"),
    BoxFile(DHCP_RELAY, "/etc/dnsmasq.d/netpipe-relay.conf"),
)
BY_NAME = {f.name: f for f in FILES}
LIVE = frozenset({RESOLV})
"""Files whose boot path is what runs (the resolver reads /etc/resolv.conf at every lookup):
a commit leaves them in place instead of putting the boot copy back."""
SERVICES = {CHRONY: "chrony", SNMPD: "snmpd", RSYSLOG: "rsyslog", DHCP_RELAY: "dnsmasq"}
"""Box files a daemon reads at start, and the daemon's systemd unit: applying one restarts it
(an empty file, none on the box, stops it)."""
PRIVATE = frozenset({SNMPD})
"""Files holding a secret (the SNMP community): readable by root only."""
CHECKS: dict[str, list[str]] = {
    INTERFACES: ["ifup", "-a", "-s", "-i"],
    CHRONY: ["chronyd", "-p", "-f"],
    RSYSLOG: ["rsyslogd", "-N1", "-f"],
    DHCP_RELAY: ["dnsmasq", "--test", "-C"],
}
"""A box file's own check on the device, the file's path appended (snmpd and resolv.conf have
none; netpipe's lint reads them before any deploy)."""

def standin_wire(vlan_interface: str) -> str:
    """The interface that carries a VLAN where frames cannot be tagged: ``eth3.110`` ->
    ``eth3v110`` (see the module docstring)."""
    raw, _, vid = vlan_interface.rpartition(".")
    return f"{raw}v{vid}"


_SYSCTL_LINE = re.compile(r"^\s*([a-z0-9_]+(?:[./][A-Za-z0-9_.@:/-]+)+)\s*=\s*(\S.*?)\s*$")


def sysctl_errors(text: str) -> list[str]:
    """Lines of a sysctl file that are neither ``key = value``, a comment nor blank."""
    errors = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        if not _SYSCTL_LINE.match(line):
            errors.append(f"line {number}: not 'key = value': {line.strip()[:80]!r}")
    return errors


# standins FILE: on a kernel without 802.1Q, a macvlan stand-in for each dot-named VLAN
# subinterface FILE declares that does not exist yet (see the module docstring). Says so on
# stderr, once per interface it makes.
STANDINS = r"""standins() {
  [ -d /proc/net/vlan ] && return 0
  modprobe -q 8021q 2>/dev/null && [ -d /proc/net/vlan ] && return 0
  [ -s "$1" ] || return 0
  rc=0
  vlans=$(awk '$1 == "iface" && $2 ~ /^[A-Za-z0-9_-]+\.[0-9]+$/ { print $2 }' "$1")
  for name in $vlans; do
    ip link show dev "$name" >/dev/null 2>&1 && continue
    wire="${name%.*}v${name##*.}"
    if ! ip link show dev "$wire" >/dev/null 2>&1; then
      echo "$name: this kernel has no 802.1Q (8021q) and there is no stand-in wire $wire" >&2
      rc=1; continue
    fi
    ip link set dev "$wire" up && ip link add link "$wire" name "$name" type macvlan \
      mode passthru || { rc=1; continue; }
    echo "netpipe: no 802.1Q in this kernel: $name is a macvlan stand-in on $wire" >&2
  done
  return $rc
}
"""

# daemon_apply NAME FILE (needs $services): the daemon NAME (its systemd unit) restarted on FILE, or
# stopped if FILE is empty or absent. services=systemd: systemctl. services=lab: the lab's
# stand-in for systemd, the daemon started and stopped by its pid file in the box's own /run
# (so only this box's daemon), chronyd not steering the clock (-x: one clock for every
# namespace), rsyslogd on a main config of the box's own (its socket in the box's /run; no
# /dev/log and no kernel log, which are the machine's), including /etc/rsyslog.d as Debian's.
# service_state NAME FILE: says on stdout what is wrong ("" if the daemon runs as FILE wants).
SERVICE = r"""lab_daemon() {
  case "$1" in
    chrony) echo "/run/chrony/chronyd.pid chronyd" ;;
    snmpd) echo "/run/snmpd/snmpd.pid snmpd" ;;
    rsyslog) echo "/run/rsyslog/rsyslogd.pid rsyslogd" ;;
    dnsmasq) echo "/run/dnsmasq/dnsmasq.pid dnsmasq" ;;
  esac
}
lab_pid() {
  set -- $(lab_daemon "$1")
  pid=$(cat "$1" 2>/dev/null) || return 1
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
  echo "$pid"
}
daemon_apply() {
  if [ "$services" = systemd ]; then
    if [ -s "$2" ]; then systemctl restart "$1"; else systemctl stop "$1"; fi
    return
  fi
  if pid=$(lab_pid "$1"); then
    kill "$pid"; n=0
    while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
  fi
  [ -s "$2" ] || return 0
  case "$1" in
    chrony) install -d -o _chrony -g _chrony -m 0750 /run/chrony /var/lib/chrony &&
      chronyd -x -f "$2" ;;
    snmpd) mkdir -p /run/snmpd /var/lib/snmp && SNMP_PERSISTENT_DIR=/var/lib/snmp MIBS= \
      snmpd -C -c "$2" -Lf /run/snmpd/snmpd.log -u Debian-snmp -g Debian-snmp \
      -I -smux,mteTrigger,mteTriggerConf -p /run/snmpd/snmpd.pid ;;
    rsyslog) mkdir -p /run/rsyslog && printf '%s\n' \
      'module(load="imuxsock" SysSock.Use="off")' \
      'input(type="imuxsock" Socket="/run/rsyslog/log")' \
      '$IncludeConfig /etc/rsyslog.d/*.conf' > /run/rsyslog/rsyslog.conf &&
      rsyslogd -f /run/rsyslog/rsyslog.conf -i /run/rsyslog/rsyslogd.pid ;;
    dnsmasq) mkdir -p /run/dnsmasq && dnsmasq -C "$2" --pid-file=/run/dnsmasq/dnsmasq.pid ;;
  esac
}
service_state() {
  if [ "$services" = systemd ]; then
    active=$(systemctl is-active "$1" 2>/dev/null)
  elif lab_pid "$1" >/dev/null; then active=active
  else active=inactive; fi
  if [ -s "$2" ] && [ "$active" != active ]; then echo "$1 is not running ($active)"
  elif [ ! -s "$2" ] && [ "$active" = active ]; then echo "$1 runs without a config file"; fi
}
"""

# apply_box NAME FILE: make what runs match FILE, which is at the box file's path.
APPLY = r"""apply_box() {
  case "$1" in
    interfaces) standins "$2" || return 1; ifreload -a ;;
    sysctl.conf) [ ! -s "$2" ] || sysctl -q -p "$2" ;;
    resolv.conf) : ;;
    chrony.conf) daemon_apply chrony "$2" ;;
    snmpd.conf) daemon_apply snmpd "$2" ;;
    rsyslog.conf) daemon_apply rsyslog "$2" ;;
    dhcp-relay.conf) daemon_apply dnsmasq "$2" ;;
    *) echo "unknown box file $1" >&2; return 1 ;;
  esac
}
"""

# running_sysctl FILE: FILE with each key's value as the kernel has it now ("<absent>": no such
# key, e.g. an interface that does not exist).
RUNNING_SYSCTL = r"""running_sysctl() {
  [ -s "$1" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      ''|'#'*|';'*) printf '%s\n' "$line"; continue ;;
    esac
    key=$(printf '%s' "${line%%=*}" | tr -d ' \t')
    value=$(sysctl -n "$key" 2>/dev/null) || value='<absent>'
    printf '%s = %s\n' "$key" "$value"
  done < "$1"
}
"""

# sysctl_keys FILE...: the keys the files name, one a line.
SYSCTL_KEYS = r"""sysctl_keys() {
  for f in "$@"; do
    [ -s "$f" ] && sed -n 's/^[ \t]*\([a-z0-9_][^ \t=]*\)[ \t]*=.*/\1/p' "$f"
  done | sort -u
}
"""


def normal_sysctl(text: str) -> str:
    """A sysctl file as :data:`RUNNING_SYSCTL` prints what runs: ``key = value`` lines,
    comments and blank lines as they are."""
    lines = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            lines.append(line)
            continue
        key, _, value = line.partition("=")
        lines.append(f"{''.join(key.split())} = {value.strip()}")
    return "".join(f"{x}\n" for x in lines)


def services_script(*, start: bool) -> str:
    """On a lab box (the lab's stand-in for systemd): at boot (``start``) each daemon whose box
    file is there starts on it; at a reset, every daemon stops."""
    run = "".join(f"daemon_apply {unit} {BY_NAME[name].path if start else '/dev/null'} || rc=1\n"
                  for name, unit in SERVICES.items())
    return f"services=lab\n{SERVICE}rc=0\n{run}exit $rc\n"
