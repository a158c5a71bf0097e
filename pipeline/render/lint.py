"""Rendered-config lint: catch what the templates got wrong before any device sees it.

* IOS: structural checks with ciscoconfparse2 (every VLAN an interface uses is
  defined, every referenced ACL exists, no address on two interfaces).
* FRR: FRR's own parser, ``vtysh --dryrun``, in a private config directory.
* nftables: ``nft --check`` inside a throw-away network namespace (``unshare -n`` as
  root, ``unshare -rn`` with a user namespace otherwise), so it never touches the host's
  ruleset and needs no root.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ciscoconfparse2 import CiscoConfParse

from pipeline import system
from pipeline.findings import Finding, Loc, Severity, clip
from pipeline.render.render import Rendered

VTYSH = "vtysh"
NFT = "nft"
TOOL_TIMEOUT = 60

_ACCESS_VLAN = re.compile(r"^\s*switchport access vlan (\d+)")
_TRUNK_VLANS = re.compile(r"^\s*switchport trunk allowed vlan (?:add )?([\d,\-]+)")
_NATIVE_VLAN = re.compile(r"^\s*switchport trunk native vlan (\d+)")
_ACL_REFS = (
    re.compile(r"^\s*access-class (\S+) in"),
    re.compile(r"^\s*ip access-group (\S+) (?:in|out)"),
    re.compile(r"^snmp-server community \S+ R[OW] (\S+)"),
)
_ADDRESS = re.compile(r"^\s*ip address (\d+\.\d+\.\d+\.\d+) \d+\.\d+\.\d+\.\d+")


def _vlans(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def lint_ios(name: str, text: str) -> list[Finding]:
    conf = CiscoConfParse(text.splitlines(), syntax="ios")
    defined_vlans = {int(o.text.split()[1]) for o in conf.find_objects(r"^vlan \d+$")}
    acls = {o.text.split()[-1] for o in conf.find_objects(r"^ip access-list (standard|extended) ")}
    findings: list[Finding] = []

    def at(line: int, code: str, message: str, hint: str) -> None:
        findings.append(Finding.at(Loc(name, line + 1, 1), code, message, hint))

    addresses: dict[str, int] = {}
    for obj in conf.objs:
        line = obj.text
        if (m := _ACCESS_VLAN.match(line)) and int(m[1]) not in defined_vlans:
            at(obj.linenum, "NP301", f"access VLAN {m[1]} is not defined",
               "add 'vlan N' (the switch would create it with no name)")
        if m := (_TRUNK_VLANS.match(line) or _NATIVE_VLAN.match(line)):
            missing = [v for v in _vlans(m[1]) if v not in defined_vlans]
            if missing:
                at(obj.linenum, "NP304", f"trunk VLAN(s) {','.join(map(str, missing))} "
                   "not defined", "define every VLAN a trunk carries")
        for pattern in _ACL_REFS:
            if (m := pattern.match(line)) and m[1] not in acls:
                at(obj.linenum, "NP302", f"ACL {m[1]} is referenced but not defined",
                   "define the access list in the template")
        if m := _ADDRESS.match(line):
            if m[1] in addresses:
                at(obj.linenum, "NP303", f"address {m[1]} is also on line "
                   f"{addresses[m[1]] + 1}", "one address per interface")
            else:
                addresses[m[1]] = obj.linenum
    return findings


def _tool(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for p in (Path("/usr/bin") / name, Path("/usr/sbin") / name) if p.exists()), None)


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT,
                          check=False, stdin=subprocess.DEVNULL)


def _missing(name: str, *needs: system.Need) -> Finding:
    """NP390 naming the exact file and the package to install."""
    why = system.describe_missing(needs) or "not on PATH"
    return Finding.at(Loc(name), "NP390", f"{name} was not checked: {why}",
                      "install it (as root, `make setup` does)", Severity.WARNING)


def lint_frr(name: str, text: str) -> list[Finding]:
    vtysh = _tool(VTYSH)
    if vtysh is None:
        return [_missing(name, system.VTYSH)]
    with tempfile.TemporaryDirectory(prefix="netpipe-vtysh-") as tmp:
        Path(tmp, "vtysh.conf").write_text("service integrated-vtysh-config\n")
        conf = Path(tmp, "frr.conf")
        conf.write_text(text)
        proc = _run([vtysh, "--config_dir", tmp, "--dryrun", "-f", str(conf)])
    if proc.returncode == 0:
        return []
    findings = []
    output = (proc.stdout + proc.stderr).strip()
    for m in re.finditer(r"^line (\d+): (.*)$", output, re.M):
        findings.append(Finding.at(Loc(name, int(m[1]), 1), "NP310",
                                   f"FRR rejects this line: {clip(m[2].strip(), 160)}",
                                   "fix the FRR template (vtysh --dryrun)"))
    return findings or [Finding.at(Loc(name), "NP310",
                                   f"FRR rejects the config: {clip(output, 160)}",
                                   "fix the FRR template (vtysh --dryrun)")]


_NETNS = ["-n"] if os.geteuid() == 0 else ["-rn"]
"""A throw-away network namespace; a user namespace too when not root. Inside a user
namespace netlink cannot enlarge its buffer, so a large ruleset (2,000 rules) fails with
"Message too long" there although nft accepts it: as root, no user namespace is needed."""


def lint_nft(name: str, text: str) -> list[Finding]:
    nft, unshare = _tool(NFT), _tool("unshare")
    if nft is None or unshare is None:
        return [_missing(name, system.NFT, system.UNSHARE)]
    with tempfile.NamedTemporaryFile("w", suffix=".nft", prefix="netpipe-") as tmp:
        tmp.write(text)
        tmp.flush()
        proc = _run([unshare, *_NETNS, nft, "--check", "-f", tmp.name])
        path = tmp.name
    if proc.returncode == 0:
        return []
    findings = []
    for m in re.finditer(rf"^{re.escape(path)}:(\d+):(\d+)(?:-\d+)?: Error: (.*)$",
                         proc.stderr, re.M):
        findings.append(Finding.at(Loc(name, int(m[1]), int(m[2])), "NP311",
                                   f"nftables rejects this line: {clip(m[3].strip(), 160)}",
                                   "fix the nftables template (nft --check)"))
    return findings or [Finding.at(Loc(name), "NP311",
                                   "nftables rejects the ruleset: "
                                   f"{clip(proc.stderr.strip(), 160)}",
                                   "fix the nftables template (nft --check)")]


LINTERS: dict[tuple[str, str], Callable[[str, str], list[Finding]]] = {
    ("ios", "running.conf"): lint_ios,
    ("frr", "frr.conf"): lint_frr,
    ("frr", "nftables.conf"): lint_nft,
}


def lint(rendered: dict[str, Rendered], prefix: str = "build/configs") -> list[Finding]:
    """Lint every rendered file; findings name ``<prefix>/<host>/<file>``."""
    return list(_lint_all(rendered, prefix))


def _lint_all(rendered: dict[str, Rendered], prefix: str) -> Iterator[Finding]:
    for host, item in sorted(rendered.items()):
        for fname, text in sorted(item.files.items()):
            linter = LINTERS.get((item.platform, fname))
            if linter is not None:
                yield from linter(f"{prefix}/{host}/{fname}", text)
