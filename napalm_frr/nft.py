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

import json
import re
import secrets

from napalm_frr.transport import Result, Transport

FAMILY = "inet"
TABLE = "netpipe"
REPLACE_PREAMBLE = f"table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\n"
_IFACE_MATCH = re.compile(r"\b(iif|oif)\b")

# Runs on the device: scratch namespace lifetime bounded by this one shell (trap deletes it).
_SCRATCH_SCRIPT = f"""set -e
ns=$1; file=$2; shift 2
ip netns add "$ns"
trap 'ip netns delete "$ns"' EXIT
while [ $# -gt 1 ]; do ip -n "$ns" link add "$1" type veth peer name "$2"; shift 2; done
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
    """Canonical running table, ``""`` if the table does not exist."""
    tables = transport.run(["nft", "list", "tables"])
    if not tables.ok:
        raise NftError(tables.message)
    if f"table {FAMILY} {TABLE}" not in tables.stdout.splitlines():
        return ""
    listing = transport.run(["nft", "-s", "list", "table", FAMILY, TABLE])
    if not listing.ok:
        raise NftError(listing.message)
    return listing.stdout


def check(transport: Transport, path: str) -> Result:
    """``nft -c -f path`` inside the device (its interfaces and sets are what count)."""
    return transport.run(["nft", "-c", "-f", path])


def interface_names(transport: Transport) -> list[str]:
    """The device's interface names (for the scratch namespace's stand-in veths)."""
    result = transport.run(["ip", "-j", "link", "show"])
    if not result.ok:
        raise NftError(result.message)
    return [str(link["ifname"]) for link in json.loads(result.stdout or "[]")]


def canonicalise(transport: Transport, path: str, text: str) -> str:
    """Load ``path`` (whose content is ``text``) into a scratch namespace; return its listing."""
    args: list[str] = []
    if _IFACE_MATCH.search(text):
        names = [n for n in interface_names(transport) if n != "lo"]
        taken = set(names)
        index = 0
        for name in names:
            while f"npx{index}" in taken:
                index += 1
            args += [name, f"npx{index}"]
            index += 1
    scratch = f"np-scratch-{secrets.token_hex(4)}"
    result = transport.run(["sh", "-c", _SCRATCH_SCRIPT, "sh", scratch, path, *args])
    if not result.ok:
        raise NftError(result.message)
    return result.stdout


def merge_text(running: str, fragment: str) -> str:
    """Running table then a fragment, as one file: nft applies both in order."""
    return (replace_text(running) if running else "") + fragment
