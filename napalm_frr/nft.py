"""nftables side of the driver: only ``table inet netpipe`` is ever read, compared or written.

Canonical form: ``nft -s list table inet netpipe`` (``-s``: no counter values, so traffic does not
look like a config change). A candidate is canonicalised by loading it into a throw-away network
namespace on the device and listing it there; comparing canonical candidate with canonical running
makes the diff empty exactly when the two are in sync. ``iif``/``oif`` need existing interfaces,
so the scratch namespace gets a veth (both ends inside it) for each of the device's interface names.

Applying is always ``table inet netpipe`` + ``delete table inet netpipe`` + the canonical listing
in one ``nft -f`` transaction: atomic, and other tables are never touched.
"""

from __future__ import annotations

import re
import secrets

from napalm_frr.transport import Transport

FAMILY = "inet"
TABLE = "netpipe"
REPLACE_PREAMBLE = f"table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\n"
_IFACE_MATCH = re.compile(r"\b(iif|oif)\b")

# Prints the canonical listing of the table, nothing if it does not exist; one round trip.
_LIST_SCRIPT = f"""nft list tables >/dev/null || exit 1
if nft list tables | grep -qxF 'table {FAMILY} {TABLE}'; then
  exec nft -s list table {FAMILY} {TABLE}
fi
"""

# Runs on the device: scratch namespace lifetime bounded by this one shell (trap deletes it).
# $1 scratch name, $2 ruleset file, $3 "1" to mirror the device's interface names as veths.
_SCRATCH_SCRIPT = f"""set -e
ns=$1; file=$2; mirror=$3
names=""
if [ "$mirror" = 1 ]; then
  names=$(ip -o link show | awk -F': ' '{{print $2}}' | cut -d@ -f1 | grep -vx lo || true)
fi
ip netns add "$ns"
trap 'ip netns delete "$ns"' EXIT
i=0
for name in $names; do
  while printf '%s\\n' $names | grep -qx "npx$i"; do i=$((i+1)); done
  ip -n "$ns" link add "$name" type veth peer name "npx$i"
  i=$((i+1))
done
ip netns exec "$ns" nft -f "$file"
tables=$(ip netns exec "$ns" nft list tables)
if [ -n "$tables" ] && [ "$tables" != "table {FAMILY} {TABLE}" ]; then
  echo "ruleset must manage only table {FAMILY} {TABLE}; it creates:" $tables >&2
  exit 4
fi
if [ -n "$tables" ]; then ip netns exec "$ns" nft -s list table {FAMILY} {TABLE}; fi
"""


class NftError(Exception):
    """nft rejected a ruleset or a listing failed; the message is nft's own."""


def replace_text(listing: str) -> str:
    """A file that atomically replaces the table with ``listing`` (or removes it if empty)."""
    return REPLACE_PREAMBLE + listing


def list_table(transport: Transport) -> str:
    """Canonical running table, ``""`` if the table does not exist (one round trip)."""
    result = transport.run(["sh", "-c", _LIST_SCRIPT])
    if not result.ok:
        raise NftError(result.message)
    return result.stdout


def canonicalise(transport: Transport, path: str, text: str) -> str:
    """Load ``path`` (whose content is ``text``) into a scratch namespace; return its listing."""
    mirror = "1" if _IFACE_MATCH.search(text) else "0"
    scratch = f"np-scratch-{secrets.token_hex(4)}"
    result = transport.run(["sh", "-c", _SCRATCH_SCRIPT, "sh", scratch, path, mirror])
    if not result.ok:
        raise NftError(result.message)
    return result.stdout


def merge_text(running: str, fragment: str) -> str:
    """Running table then a fragment, as one file: nft applies both in order."""
    return (replace_text(running) if running else "") + fragment
