"""Rendered-config lint: catch what the templates got wrong before any device sees it.

* IOS: structural checks on the config's lines (every VLAN an interface uses is
  defined, every referenced ACL exists, no address on two interfaces), and that the
  candidate keeps what NAPALM's replace and commit-confirm need (NP305).
* FRR: FRR's own parser, ``vtysh --dryrun``, in a private config directory.
* nftables: ``nft --check`` inside a throw-away network namespace (``unshare -n`` as
  root, ``unshare -rn`` with a user namespace otherwise), so it never touches the host's
  ruleset and needs no root.
* interfaces: ifupdown2's own syntax check (``ifup -a -s -i``) with its attribute check on,
  in a throw-away mount namespace (its lock and configuration private to the check).
* sysctl: ``sysctl -p`` in a throw-away network namespace holding an interface of each name
  the file's per-interface keys use: every key must exist and take its value.
* router services: ``chronyd -p -f``, ``rsyslogd -N1 -f``, ``dnsmasq --test -C`` (the DHCP
  relay), snmpd starting on its file in a throw-away network namespace (it has no check mode),
  resolv.conf's lines as resolv.conf(5).

Router files that differ only in the router's own values are checked once, as one neutral
text (:mod:`pipeline.render.neutral`); each router gets the findings at its own file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from pipeline import pool, system
from pipeline.findings import Finding, Loc, Severity, clip
from pipeline.intent.ports import VLAN_MAX, VLAN_MIN
from pipeline.render import nftcheck
from pipeline.render.neutral import Neutral, neutral
from pipeline.render.render import Rendered

VTYSH = "vtysh"
NFT = "nft"

# Over the whole config, where every line starts after a "\n" (_Config): a pattern that
# starts with one is searched for as a literal, eight times faster than "^" in multiline
# mode. [^\S\n] is a space within a line.
_CHECKED = re.compile(
    r"\n(?:[^\S\n]*(?:switchport access vlan (?P<access>\d+)"
    r"|switchport trunk (?:allowed vlan (?:add )?(?P<trunk>[\d,\-]+)|native vlan (?P<native>\d+))"
    r"|access-class (?P<acl>\S+) in|ip access-group (?P<group>\S+) (?:in|out)"
    r"|ip address (?P<address>\d+\.\d+\.\d+\.\d+) \d+\.\d+\.\d+\.\d+)"
    r"|snmp-server community \S+ R[OW] (?P<community>\S+))")
"""Every line a check reads, in one pass in C; the group that matched says which check."""
_EOL = r"[^\S\n]*(?=\n|\Z)"
"""The end of a line, spaces allowed before it."""
_VLAN = re.compile(r"\nvlan (\d+)" + _EOL)
_ACL = re.compile(r"\nip access-list (?:standard|extended) (\S+)")
_SECTION_END = re.compile(r"\n(?=[^\s!])")
"""Where a section ends: the next line that is neither indented, blank nor a comment."""
_OTHER_BREAKS = re.compile("[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
"""What ``str.splitlines`` also ends a line at."""


class _Config:
    """An IOS config as one string in which each line starts after a "\n" (lines as
    ``str.splitlines`` counts them): every check is a pattern searched in C over the whole
    of it, and a line number is counted only for what is reported (a switch config has
    500 lines, and there are 4,500 switches)."""

    def __init__(self, text: str) -> None:
        if _OTHER_BREAKS.search(text):
            text = "\n".join(text.splitlines())
        self.text = "\n" + text
        self.counted = (0, 0)  # (position, newlines before it): where line() counted to

    def line(self, match: re.Match[str]) -> int:
        """The number of the line ``match`` starts on (at the "\n" that begins it),
        counted on from the last line asked for: the checks ask in order, so a file
        with many findings is counted through once, not once per finding."""
        end = match.start() + 1
        start, lines = self.counted if self.counted[0] <= end else (0, 0)
        self.counted = end, lines + self.text.count("\n", start, end)
        return self.counted[1]

    def top(self, pattern: str) -> re.Match[str] | None:
        """The first top-level line (not indented) that starts with ``pattern``."""
        return re.search("\n(?:" + pattern + ")[^\n]*", self.text)

    def child(self, parent: str, pattern: str) -> bool:
        """Whether a line under a top-level ``parent`` line starts with ``pattern`` (IOS
        nests by indentation; comments and blank lines do not end a section)."""
        for head in re.finditer("\n" + re.escape(parent) + _EOL, self.text):
            end = _SECTION_END.search(self.text, head.end())
            block = self.text[head.end():end.start() if end else len(self.text)]
            if re.search("\n[^\\S\\n]+(?:" + pattern + ")", block):
                return True
        return False


def _vlan_id(text: str) -> int | None:
    """A VLAN id (1-4094) as written, or None (a template can print any digits)."""
    number = int(text) if text.isdecimal() and len(text) <= 4 else 0
    return number if VLAN_MIN <= number <= VLAN_MAX else None


@functools.lru_cache(maxsize=1024)
def _vlans(spec: str) -> frozenset[int] | None:
    """The ids of a trunk's VLAN list (ids and ranges), None if it is not one (once per
    list: a switch's trunks carry the same few)."""
    out: set[int] = set()
    for part in spec.split(","):
        lo, dash, hi = part.partition("-")
        first, last = _vlan_id(lo), _vlan_id(hi) if dash else _vlan_id(lo)
        if first is None or last is None or last < first:
            return None
        out.update(range(first, last + 1))  # at most 4,094 ids per range
    return frozenset(out)


MAX_LISTED = 100
"""Findings one config gets before its check stops: a rendered file can hold 16 million
characters, hundreds of thousands of lines a check would refuse one by one (each told
apart, 20 KB a trunk of 4,094 undefined VLANs: 40 s and 775 MB of findings for 2 MB of
config), and every device renders the same template."""
MAX_TRUNK_IDS = 1_000_000
"""VLAN ids the trunk lists of one config may hold in all (a 48-port switch trunking every
VLAN on every port holds 196,512): checking them costs a set operation per list."""


def _shown(ids: list[int]) -> str:
    return ",".join(map(str, ids[:10])) + (f" … ({len(ids)} in all)" if len(ids) > 10 else "")


def lint_ios(name: str, text: str) -> list[Finding]:
    config = _Config(text)
    defined_vlans = {i for v in _VLAN.findall(config.text) if (i := _vlan_id(v)) is not None}
    acls = set(_ACL.findall(config.text))
    findings: list[Finding] = []

    def at(line: int, code: str, message: str, hint: str) -> None:
        findings.append(Finding.at(Loc(name, line, 1), code, message, hint))

    addresses: dict[str, int] = {}  # address -> the line it is first on
    trunk_ids = 0
    for m in _CHECKED.finditer(config.text):
        if len(findings) >= MAX_LISTED:
            at(config.line(m), findings[-1].code, f"more than {MAX_LISTED} findings in this "
               "file: its check stopped here", "fix the template: one mistake repeats")
            break
        kind, value = m.lastgroup, m[m.lastgroup or 0]
        if kind == "access" and _vlan_id(value) not in defined_vlans:
            at(config.line(m), "NP301", f"access VLAN {clip(value, 12)} is not defined",
               "add 'vlan N' (the switch would create it with no name)")
        elif kind in ("trunk", "native"):
            ids = _vlans(value)
            if ids is None:
                at(config.line(m), "NP304", f"trunk VLAN list {clip(value, 40)} is not VLAN "
                   "ids and ranges within 1-4094", "print the VLAN list the intent gives")
                continue
            trunk_ids += len(ids)
            if trunk_ids > MAX_TRUNK_IDS:
                at(config.line(m), "NP304", f"the trunk VLAN lists hold more than "
                   f"{MAX_TRUNK_IDS} ids in all: the check stopped here",
                   "print the VLAN lists the intent gives")
                break
            missing = sorted(ids - defined_vlans)
            if missing:
                at(config.line(m), "NP304", f"trunk VLAN(s) {_shown(missing)} not defined",
                   "define every VLAN a trunk carries")
        elif kind in ("acl", "group", "community") and value not in acls:
            at(config.line(m), "NP302", f"ACL {clip(value, 40)} is referenced but not defined",
               "define the access list in the template")
        elif kind == "address":
            if value in addresses:
                at(config.line(m), "NP303", f"address {value} is also on line "
                   f"{addresses[value]}", "one address per interface")
            else:
                addresses[value] = config.line(m)
    findings += [Finding.at(Loc(name, line, 1), "NP305", message, hint)
                 for line, message, hint in replace_essentials(config)]
    return findings


_LOGIN_HINT = "set ios_login in intent/network.yaml (break_glass, enable_hash_secret)"


def replace_essentials(config: _Config) -> Iterator[tuple[int, str, str]]:
    """(line, message, hint) for each thing a ``configure replace`` candidate lacks that
    NAPALM or the people managing the device need: the replace removes whatever the
    candidate does not have, so its absence locks the pipeline (or everyone) out."""
    archive = config.top("archive" + _EOL)
    if archive is None or not config.child("archive", r"path \S+"):
        yield (config.line(archive) if archive else 1,
               "no 'archive' with a 'path': NAPALM's commit-confirm (configure replace ... "
               "revert timer) and its pending-commit check need the archive",
               "add 'archive' with ' path flash:<name>' to the IOS template")
    if config.top("ip scp server enable" + _EOL) is None:
        yield (1, "no 'ip scp server enable': NAPALM uploads the candidate by SCP, so "
               "the next deploy could not reach the device",
               "add 'ip scp server enable' to the IOS template")
    user = config.top(r"username \S+ (?:privilege 15 )?secret [589] ")
    if user is None or "privilege 15" not in user.group():
        yield (config.line(user) if user else 1,
               "no local user with privilege 15 and a hashed secret: with TACACS+ "
               "unreachable nobody could log in, console included", _LOGIN_HINT)
    if config.top("enable secret [589] ") is None:
        yield 1, "no 'enable secret' (as a type 5, 8 or 9 hash)", _LOGIN_HINT
    login = config.top("aaa authentication login default ")
    if login is not None and not login.group().rstrip().endswith(" local"):
        yield (config.line(login), "'aaa authentication login default' does not "
               "fall back to 'local': the break-glass user would not work", "end the method "
               "list with 'local'")
    gateway = config.top(r"ip default-gateway \S+" + _EOL)
    route = config.top(r"ip route 0\.0\.0\.0 0\.0\.0\.0 \S+" + _EOL)
    if gateway is None or route is None:
        missing = "ip route 0.0.0.0 0.0.0.0 <gw>" if route is None else "ip default-gateway"
        present = gateway or route
        yield (config.line(present) if present else 1,
               f"no '{missing}': management needs 'ip default-gateway' without 'ip "
               "routing' and the default route with it (a Catalyst 9000 routes by default)",
               "render both, with the management VLAN's gateway")
    elif gateway.group().split()[-1] != route.group().split()[-1]:
        yield (config.line(route), f"the default route ({route.group().split()[-1]}) "
               f"and ip default-gateway ({gateway.group().split()[-1]}) differ",
               "use the management VLAN's gateway for both")


def _tool(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for p in (Path("/usr/bin") / name, Path("/usr/sbin") / name) if p.exists()), None)


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
        proc = system.run_checker([vtysh, "--config_dir", tmp, "--dryrun", "-f", str(conf)])
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


def lint_nft(name: str, text: str) -> list[Finding]:
    tools = _nft_tools()
    if tools is None:
        return [_missing(name, system.NFT, system.UNSHARE)]
    return nftcheck.check(tools, name, text)


def _nft_tools() -> nftcheck.Tools | None:
    nft, unshare = _tool(NFT), _tool("unshare")
    return nftcheck.Tools(nft, unshare) if nft is not None and unshare is not None else None


_UNSHARE_MOUNT = ["-m"] if os.geteuid() == 0 else ["-rm"]

# $1 the interfaces file, $2 a private copy of ifupdown2.conf: ifupdown2's syntax check with
# its own lock and attribute checking on, leaving the machine's alone. The lock lives in
# /run/network, which a machine has only once ifupdown2 has run there (not on a fresh
# runner): a private tmpfs over the whole of /run gives the check its own.
_IFUPDOWN_CHECK = """set -e
mount -t tmpfs none /run
mkdir /run/network
mount --bind "$2" /etc/network/ifupdown2/ifupdown2.conf
exec ifup -a -s -i "$1"
"""
_IFUPDOWN_ERROR = re.compile(r"^error: .*?: line(\d+): (.*)$")
_IFUPDOWN_WARNING = re.compile(r"^warning: (\S+?): (?:(\S+): )?(.*)$")


def _iface_line(text: str, iface: str, attr: str | None) -> int:
    """The line of ``iface NAME`` (or of an attribute inside its block) in an interfaces file."""
    block = 0
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if words[:1] == ["iface"]:
            if block and attr:
                break
            block = number if words[1:2] == [iface] else 0
            if block and not attr:
                return number
        elif block and attr and words[:1] == [attr]:
            return number
    return block or 1


Linter = Callable[[str, str], list[Finding]]
_CACHES: list[Callable[[], None]] = []


def forget() -> None:
    """Empty every once-per-text cache (a test counting the checks' process starts)."""
    for clear in _CACHES:
        clear()


def _once_per_text(check: Linter) -> Linter:
    """The same file gives the same findings, so a tool slow to start (ifupdown2 takes most
    of a second) checks each text once per process."""
    cached = functools.lru_cache(maxsize=256)(lambda name, text: tuple(check(name, text)))
    _CACHES.append(cached.cache_clear)

    @functools.wraps(check)
    def lint(name: str, text: str) -> list[Finding]:
        return list(cached(name, text))

    return lint


@_once_per_text
def lint_interfaces(name: str, text: str) -> list[Finding]:
    ifup, unshare = _tool("ifup"), _tool("unshare")
    conf = Path(system.IFUPDOWN2_CONF.path)
    if ifup is None or unshare is None or not conf.is_file():
        return [_missing(name, system.IFUP, system.IFUPDOWN2_CONF, system.UNSHARE)]
    with tempfile.TemporaryDirectory(prefix="netpipe-ifupdown-") as tmp:
        private = Path(tmp, "ifupdown2.conf")
        settings = re.sub(r"(?m)^(addon_syntax_check|template_enable)=.*$", "", conf.read_text())
        # Templates off: a check must never evaluate what a file says.
        private.write_text(settings + "\naddon_syntax_check=1\ntemplate_enable=0\n")
        path = Path(tmp, "interfaces")
        path.write_text(text)
        os.chmod(tmp, 0o755)
        proc = system.run_checker([unshare, *_UNSHARE_MOUNT, "sh", "-c", _IFUPDOWN_CHECK,
                                   "sh", str(path), str(private)])
    if proc.returncode == 0:
        return []
    lines = []
    for raw in (output := proc.stdout + proc.stderr).splitlines():
        if m := _IFUPDOWN_ERROR.match(raw):
            lines.append((int(m[1]), m[2]))
        elif m := _IFUPDOWN_WARNING.match(raw):
            lines.append((_iface_line(text, m[1], m[2]), f"{m[1]}: {m[2] or ''} {m[3]}"))
    return _rejections(name, "NP312", "ifupdown2", output, lines,
                       "fix the interfaces template (ifup -a -s)")


# $1 the sysctl file, then the interface names its keys use: each made as a veth in the
# throw-away network namespace, so per-interface keys exist.
_SYSCTL_CHECK = """set -e
file=$1; shift
i=0
for name in "$@"; do ip link add "$name" type veth peer name "npx$i"; i=$((i+1)); done
exec sysctl -q -p "$file"
"""
_SYSCTL_KEY = re.compile(r"^\s*([^#;\s=][^=\s]*)\s*=")
_SYSCTL_FAILED = re.compile(r'^sysctl: (?:cannot stat /proc/sys/(\S+?):|setting key "([^"]+)")'
                            r"\s*(.*)$")


def _proc_path(key: str) -> str:
    """sysctl's mapping of a key to its /proc/sys path: dots are slashes and slashes dots."""
    return key.translate(str.maketrans("./", "/."))


@_once_per_text
def lint_sysctl(name: str, text: str) -> list[Finding]:
    sysctl, unshare, ip = _tool("sysctl"), _tool("unshare"), _tool("ip")
    if sysctl is None or unshare is None or ip is None:
        return [_missing(name, system.SYSCTL, system.UNSHARE, system.IP)]
    keys = {}
    for number, line in enumerate(text.splitlines(), 1):
        if m := _SYSCTL_KEY.match(line):
            keys[m[1]] = number
    names = sorted({parts[3].replace("/", ".") for key in keys
                    if len(parts := key.split(".")) > 4 and parts[:3] == ["net", "ipv4", "conf"]
                    and parts[3] not in ("all", "default", "lo")})
    with _private_copy(text) as path:
        proc = system.run_checker([unshare, *nftcheck.NETNS, "sh", "-c", _SYSCTL_CHECK, "sh",
                                   path, *names])
    if proc.returncode == 0:
        return []
    paths = {_proc_path(k): k for k in keys}
    lines = [(keys.get(m[2] or paths.get(m[1] or "", ""), 0), raw)
             for raw in proc.stderr.splitlines() if (m := _SYSCTL_FAILED.match(raw))]
    return _rejections(name, "NP313", "sysctl", proc.stderr, lines,
                       "fix the sysctl template (sysctl -p)")


def _rejections(name: str, code: str, tool: str, output: str,
                lines: Sequence[tuple[int, str]], hint: str) -> list[Finding]:
    """A finding per (line, message) the tool's output names, else one for the whole file."""
    findings = [Finding.at(Loc(name, line, 1), code,
                           f"{tool} rejects this: {clip(message.strip(), 160)}", hint)
                for line, message in lines]
    return findings or [Finding.at(Loc(name), code,
                                   f"{tool} rejects the file: {clip(output.strip(), 160)}", hint)]


def _tool_findings(name: str, code: str, tool: str, output: str, line_re: re.Pattern[str],
                   hint: str) -> list[Finding]:
    """Findings from a tool's output: one per line naming a line of the file, else one."""
    return _rejections(name, code, tool, output,
                       [(int(m["line"]), m["message"]) for m in line_re.finditer(output)], hint)


@contextlib.contextmanager
def _private_copy(text: str) -> Iterator[str]:
    """The path of a private copy of ``text`` that a checker dropping privileges can read."""
    with tempfile.NamedTemporaryFile("w", suffix=".conf", prefix="netpipe-check-") as tmp:
        tmp.write(text)
        tmp.flush()
        os.chmod(tmp.name, 0o644)
        yield tmp.name


def _file_check(program: str, need: system.Need, options: list[str], code: str,
                errors: re.Pattern[str], hint: str) -> Linter:
    """A linter running ``program OPTIONS FILE`` on a private copy of the text: a daemon's own
    parser. Exit 0 is clean; otherwise each line of its output naming a line is a finding."""

    @_once_per_text
    def lint(name: str, text: str) -> list[Finding]:
        tool = _tool(program)
        if tool is None:
            return [_missing(name, need)]
        with _private_copy(text) as path:
            proc = system.run_checker([tool, *options, path])
        if proc.returncode == 0:
            return []
        return _tool_findings(name, code, program, proc.stderr + proc.stdout, errors, hint)

    return lint


lint_chrony = _file_check(
    "chronyd", system.CHRONYD, ["-p", "-f"], "NP314",
    re.compile(r"(?m)^(?:\S+Z )?(?:Fatal error : )?(?P<message>[^\n]*?) at line (?P<line>\d+) "
               r"in file"), "fix the chrony template (chronyd -p -f)")
"""chronyd's own parser (``chronyd -p -f``: print the configuration and exit)."""
lint_rsyslog = _file_check(
    "rsyslogd", system.RSYSLOGD, ["-N1", "-f"], "NP315",
    re.compile(r"(?m)^rsyslogd: error during parsing file \S+, on or before line "
               r"(?P<line>\d+): (?P<message>.*)$"), "fix the rsyslog template (rsyslogd -N1)")
"""rsyslog's own validation run (``rsyslogd -N1 -f``)."""
lint_dhcp_relay = _file_check(
    "dnsmasq", system.DNSMASQ, ["--test", "-C"], "NP318",
    re.compile(r"(?m)^dnsmasq: (?P<message>[^\n]*?) at line (?P<line>\d+) of"),
    "fix the DHCP relay template (dnsmasq --test)")
"""dnsmasq's own syntax check (``dnsmasq --test -C``)."""


# $1 the snmpd.conf, $2 a private persistent directory: snmpd has no check mode, so it starts on
# the file in a throw-away network namespace (its agent address bound there) and says each line
# it could not read; the caller stops it once it is up.
_SNMPD_CHECK = """ip link set lo up
SNMP_PERSISTENT_DIR=$2 MIBS= exec snmpd -C -c "$1" -f -Lo -I -smux,mteTrigger,mteTriggerConf \
  -p "$2/snmpd.pid"
"""
_SNMPD_ERROR = re.compile(r"(?m)^\S+: line (?P<line>\d+): (?P<message>(?:Warning|Error).*)$")
SNMPD_READY = "NET-SNMP version"


@_once_per_text
def lint_snmpd(name: str, text: str) -> list[Finding]:
    """snmpd reading the file (it has no check mode): a line it warns of is a finding."""
    snmpd, unshare = _tool("snmpd"), _tool("unshare")
    if snmpd is None or unshare is None:
        return [_missing(name, system.SNMPD, system.UNSHARE)]
    with tempfile.TemporaryDirectory(prefix="netpipe-snmpd-") as tmp:
        path = Path(tmp, "snmpd.conf")
        path.write_text(text)
        proc = subprocess.Popen([unshare, *nftcheck.NETNS, "sh", "-c", _SNMPD_CHECK, "sh",
                                 str(path), tmp], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                                errors="replace", env=system.checker_env())
        lines = []
        expired = threading.Event()

        def expire() -> None:  # a daemon that neither starts nor gives up
            expired.set()
            proc.kill()

        timer = threading.Timer(system.check_timeout(), expire)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:  # until it is up, or it gave up
                lines.append(line)
                if line.startswith(SNMPD_READY):
                    break
        finally:
            timer.cancel()
            proc.kill()
            proc.wait()
        if expired.is_set() and not any(x.startswith(SNMPD_READY) for x in lines):
            raise system.CheckUnfinished("snmpd neither started nor gave up within its timeout")
    output = "".join(x for x in lines if not x.startswith("Cannot find module"))
    if any(x.startswith(SNMPD_READY) for x in lines) and not _SNMPD_ERROR.search(output):
        return []
    return _tool_findings(name, "NP316", "snmpd", output, _SNMPD_ERROR,
                          "fix the snmpd template (snmpd reads it in a throw-away namespace)")


_RESOLV_LINE = re.compile(r"^(?:nameserver\s+\S+|search(?:\s+\S+)+|domain\s+\S+|"
                          r"options(?:\s+\S+)+)\s*$")


def lint_resolv(name: str, text: str) -> list[Finding]:
    """resolv.conf has no tool of its own: only lines glibc's resolver reads (resolv.conf(5)),
    and at most three name servers (it ignores the rest)."""
    findings = []
    servers = 0
    for number, line in enumerate(text.splitlines(), 1):
        body = line.strip()
        if not body or body.startswith(("#", ";")):
            continue
        servers += body.startswith("nameserver")
        if not _RESOLV_LINE.match(body) or (servers > 3 and body.startswith("nameserver")):
            findings.append(Finding.at(Loc(name, number, 1), "NP317",
                                       f"the resolver does not read this: {clip(body, 80)}",
                                       "fix the resolv.conf template (resolv.conf(5))"))
    return findings


LINTERS: dict[tuple[str, str], Linter] = {
    ("ios", "running.conf"): lint_ios,
    ("frr", "frr.conf"): lint_frr,
    ("frr", "nftables.conf"): lint_nft,
    ("frr", "interfaces"): lint_interfaces,
    ("frr", "sysctl.conf"): lint_sysctl,
    ("frr", "chrony.conf"): lint_chrony,
    ("frr", "rsyslog.conf"): lint_rsyslog,
    ("frr", "snmpd.conf"): lint_snmpd,
    ("frr", "resolv.conf"): lint_resolv,
    ("frr", "dhcp-relay.conf"): lint_dhcp_relay,
}
NEUTRAL = {"interfaces", "sysctl.conf", "chrony.conf", "rsyslog.conf", "snmpd.conf",
           "dhcp-relay.conf"}
"""Router files checked in neutral form: the router's own values replaced."""
EXTERNAL_CODES = {"frr.conf": "NP310", "nftables.conf": "NP311", "interfaces": "NP312",
                  "sysctl.conf": "NP313", "chrony.conf": "NP314", "rsyslog.conf": "NP315",
                  "snmpd.conf": "NP316", "dhcp-relay.conf": "NP318"}
"""Each router file another program checks, and the code of what that check finds."""
EXTERNAL = {("frr", fname) for fname in EXTERNAL_CODES}
"""Checked by another program (vtysh, nft, ifupdown2, sysctl, chronyd, rsyslogd, snmpd,
dnsmasq): run in threads, not in worker processes."""

_Item = tuple[str, str, str, str]  # (shown name, platform, file name, text)


def lint(rendered: dict[str, Rendered], prefix: str = "build/configs", *,
         processes: int | None = None) -> list[Finding]:
    """Lint every rendered file; findings name ``<prefix>/<host>/<file>``, in host and file
    order. Python checks run in worker processes, vtysh and nft runs side by side (one
    per core) with nftables rulesets batched (:mod:`pipeline.render.nftcheck`)."""
    files = [(host, item.platform, fname, text) for host, item in sorted(rendered.items())
             for fname, text in sorted(item.files.items()) if (item.platform, fname) in LINTERS]
    items = [(f"{prefix}/{host}/{fname}", platform, fname, text)
             for host, platform, fname, text in files]
    found: dict[int, list[Finding]] = {}
    local = [i for i, it in enumerate(items) if (it[1], it[2]) not in EXTERNAL]

    def python(share: Sequence[int]) -> list[list[Finding]]:
        return [LINTERS[items[i][1], items[i][2]](items[i][0], items[i][3]) for i in share]

    results = [r for part in pool.run(python, local, processes=processes) for r in part]
    found.update(zip(local, results, strict=True))
    todo = [i for i in range(len(items)) if i not in found]
    found.update(_shared(items, [host for host, *_ in files], todo, processes))
    return [f for i in range(len(items)) for f in found.get(i, [])]


def _shared(items: list[_Item], hosts: list[str], todo: list[int], processes: int | None
            ) -> dict[int, list[Finding]]:
    """The external checks, each neutral text once (:mod:`pipeline.render.neutral`): its
    findings go to every file that shares it, named for that file, in its own values."""
    groups: dict[tuple[str, str, str], list[tuple[int, Neutral]]] = {}
    for i in todo:
        _, platform, fname, text = items[i]
        same = neutral(hosts[i], fname, text) if fname in NEUTRAL else Neutral(text)
        groups.setdefault((platform, fname, same.text), []).append((i, same))
    firsts = [members[0][0] for members in groups.values()]
    checked = _external([(items[i][0], platform, fname, text)
                         for i, ((platform, fname, text), _) in zip(firsts, groups.items(),
                                                                     strict=True)],
                        list(range(len(firsts))), processes)
    found: dict[int, list[Finding]] = {}
    for k, members in enumerate(groups.values()):
        first = items[members[0][0]][0]
        for i, same in members:
            found[i] = [dataclasses.replace(
                f, file=items[i][0] if f.file == first else f.file,
                message=same.restore(f.message)) for f in checked.get(k, [])]
    return found


def _external(items: list[_Item], todo: list[int], processes: int | None
              ) -> dict[int, list[Finding]]:
    """vtysh one file per run (its node context would carry from one config into the next
    in a shared run), nft in batches; the runs themselves in parallel threads."""
    jobs: list[Callable[[], list[tuple[int, list[Finding]]]]] = []
    tools = _nft_tools()
    nft = [i for i in todo if items[i][2] == "nftables.conf"] if tools is not None else []

    def alone(i: int) -> list[tuple[int, list[Finding]]]:
        name, platform, fname, text = items[i]
        try:
            return [(i, LINTERS[platform, fname](name, text))]
        except system.CheckUnfinished as exc:
            return [(i, [_unfinished(name, fname, exc)])]

    def batch(tools: nftcheck.Tools, share: list[int]) -> list[tuple[int, list[Finding]]]:
        try:
            results = nftcheck.check_batch(tools, [(items[i][0], items[i][3]) for i in share])
        except system.CheckUnfinished as exc:
            results = [[_unfinished(items[i][0], items[i][2], exc)] for i in share]
        return list(zip(share, results, strict=True))

    batched = set(nft)
    jobs += [partial(alone, i) for i in todo if i not in batched]
    if tools is not None:
        position = {items[i][0]: i for i in nft}
        for group in nftcheck.batches([(items[i][0], items[i][3]) for i in nft]):
            jobs.append(partial(batch, tools, [position[name] for name, _ in group]))
    count = processes if processes is not None else pool.workers()
    with system.checks_within(CHECKS_SECONDS), \
            ThreadPoolExecutor(max_workers=max(1, count)) as executor:
        return dict(pair for done in executor.map(lambda job: job(), jobs) for pair in done)


CHECKS_SECONDS = 600.0
"""The external checks of one lint in all (5,002 devices take 8 s): each run has its own
timeout (system.CHECK_TIMEOUT), and a file the template makes slow to check is slow for
every router. Past it, what is left is not checked: a finding each."""


def _unfinished(name: str, fname: str, exc: system.CheckUnfinished) -> Finding:
    return Finding.at(Loc(name), EXTERNAL_CODES[fname], f"the check did not finish: {exc}",
                      "the rendered file is too large or too slow for its checker to read: "
                      "fix the template")
