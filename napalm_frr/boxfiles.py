"""The box's own files beside ``frr.conf`` and the ruleset: interfaces and kernel settings.

Each is a file the box reads at boot and a command that makes what runs match it:

* ``interfaces``: ``/etc/network/interfaces`` (ifupdown2 syntax), applied with ``ifreload -a``,
  which also takes down (and deletes, for a VLAN subinterface) what left the file. ``ifquery -a
  -c`` tells whether the kernel matches it. ifreload reads only this path (it has no ``-i``).
* ``sysctl.conf``: ``/etc/sysctl.d/90-netpipe.conf``, applied with ``sysctl -p``; per interface
  keys (``net.ipv4.conf.eth3/110.rp_filter``) as systemd-sysctl applies them when the interface
  appears. What runs is the kernel's value of each key the file names.

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


@dataclass(frozen=True)
class BoxFile:
    name: str  # the target's name in a candidate bundle
    path: str  # where the box reads it at boot


FILES: tuple[BoxFile, ...] = (
    BoxFile(INTERFACES, "/etc/network/interfaces"),
    BoxFile(SYSCTL, "/etc/sysctl.d/90-netpipe.conf"),
)
BY_NAME = {f.name: f for f in FILES}

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

# apply_box NAME FILE: make what runs match FILE, which is at the box file's path.
APPLY = r"""apply_box() {
  case "$1" in
    interfaces) standins "$2" || return 1; ifreload -a ;;
    sysctl.conf) [ ! -s "$2" ] || sysctl -q -p "$2" ;;
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
