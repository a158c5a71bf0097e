"""Set-up that holds on a bare machine: every system file the code runs comes from a
Debian package that the Makefile installs."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pipeline import system
from tests.conftest import REPO

# Absolute paths in the code that are places, not programs a package ships.
PLACES = {"/etc/frr", "/etc/machine-id", "/run/frr", "/run/netns", "/run/netpipe",
          "/run/netpipe/", "/run/sshd", "/usr/bin", "/usr/lib/frr", "/usr/sbin",
          "/var/lib/netpipe", "/var/run/frr",
          # written on an ssh device by napalm_frr, never needed on this machine
          "/etc/nftables.d/netpipe.nft", "/etc/systemd/system",
          # a router's own files and ifupdown2's directories (napalm_frr.boxfiles, the lab
          # box's directories in napalm_frr.transport)
          "/etc/network", "/etc/network/interfaces", "/etc/sysctl.d",
          "/etc/sysctl.d/90-netpipe.conf", "/run/network", "/var/tmp/network", "/run/",
          # router services (napalm_frr.boxfiles) and their directories on a lab box
          "/etc/resolv.conf", "/etc/chrony", "/etc/chrony/chrony.conf", "/run/chrony",
          "/var/lib/chrony", "/etc/snmp", "/etc/snmp/snmpd.conf", "/run/snmpd", "/var/lib/snmp",
          "/etc/rsyslog.d", "/etc/rsyslog.d/90-netpipe.conf", "/run/rsyslog", "/run/rsyslog/log",
          "/etc/dnsmasq.d", "/etc/dnsmasq.d/netpipe-relay.conf", "/run/dnsmasq"}
PATH_IN_CODE = re.compile(r"[\"'](/(?:usr|etc|lib|sbin|bin|run|var)/[A-Za-z0-9_./+-]*)[\"']")


def makefile_packages() -> set[str]:
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(r"^APT_PACKAGES\s*:?=(.*)$", text, re.M)
    assert match, "the Makefile lists APT_PACKAGES"
    return set(match.group(1).split())


def test_every_needed_package_is_installed_by_the_makefile() -> None:
    missing = {n.package for n in system.ALL} - makefile_packages()
    assert not missing, f"add to APT_PACKAGES in the Makefile: {sorted(missing)}"


def test_every_system_path_in_the_code_is_a_known_need() -> None:
    known = {n.path for n in system.ALL} | PLACES
    found = {}
    for source in [*REPO.glob("pipeline/**/*.py"), *REPO.glob("napalm_frr/**/*.py")]:
        for path in PATH_IN_CODE.findall(source.read_text()):
            found.setdefault(path, source.relative_to(REPO).as_posix())
    unknown = {p: f for p, f in found.items() if p not in known}
    assert not unknown, f"name these in pipeline/system.py with their package: {unknown}"


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="not a Debian machine")
def test_each_need_comes_from_the_package_it_names() -> None:
    for need in system.ALL:
        if not Path(need.path).exists():
            continue
        out = subprocess.run(["dpkg", "-S", need.path], capture_output=True, text=True)
        owners = {line.split(":", 1)[0] for line in out.stdout.splitlines()}
        assert need.package in owners, f"{need.path} comes from {owners}, not {need.package}"


def test_missing_files_are_named_with_their_package(tmp_path: Path) -> None:
    fake = system.Need(str(tmp_path / "frr-reload.py"), "frr-pythontools", "test")
    message = system.describe_missing([fake, system.Need("/", "base-files", "root")])
    assert message == f"{fake.path} is missing (apt-get install frr-pythontools)"
    assert system.describe_missing([]) == ""


# --------------------------------------------------------------------------- Python dependencies

def _pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    """The normalised distribution name of a PEP 508 requirement (``PyYAML>=6`` -> pyyaml)."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of every requirement in requirements.lock."""
    text = (REPO / "requirements.lock").read_text().replace("\\\n", " ")
    locked = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spec, *options = line.split("--hash=")
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)(?: ; .*)?", spec.strip())
        assert match, f"requirements.lock: not an exact pin: {line.strip()[:80]}"
        locked[_name(match[1])] = (match[2], [o.split()[0] for o in options])
    return locked


def test_the_lock_pins_every_dependency_with_hashes() -> None:
    project = _pyproject()
    wanted = [*project["project"]["dependencies"],
              *project["project"]["optional-dependencies"]["dev"],
              *project["dependency-groups"]["build"], *project["dependency-groups"]["tools"]]
    locked = _locked()
    missing = sorted({_name(r) for r in wanted} - locked.keys())
    assert not missing, f"not in requirements.lock (run `make lock`): {missing}"
    unhashed = sorted(n for n, (_, hashes) in locked.items() if not hashes)
    assert not unhashed, f"locked without hashes: {unhashed}"
    assert all(h.startswith("sha256:") for _, hs in locked.values() for h in hs)


def test_the_locked_build_backend_is_the_one_pyproject_builds_with() -> None:
    project = _pyproject()
    assert sorted(project["dependency-groups"]["build"]) == \
        sorted(project["build-system"]["requires"])


def test_the_makefile_and_ci_install_only_from_the_lock() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "./scripts/setup-venv" in makefile
    script = (REPO / "scripts" / "setup-venv").read_text()
    assert '--require-hashes' in script and '--no-build-isolation -r "$lock"' in script
    # a fresh machine has no extra indexes: neither pip's nor uv's configuration applies
    assert "PIP_CONFIG_FILE=/dev/null" in script and "--no-config" in script
    for path in (REPO / ".gitlab-ci.yml", REPO / ".ci" / "run", REPO / ".ci" / "setup"):
        text = path.read_text()
        assert not re.search(r"pip3? install|uv pip", text), f"{path.name} installs around the lock"


def test_every_runtime_dependency_is_imported() -> None:
    """A dependency nothing uses is dead weight (and attack surface): remove it. Used means
    imported, or a plugin the code asks for by name (nornir-napalm's ``"napalm"``
    connection, found through its entry point)."""
    from importlib.metadata import distribution, packages_distributions

    by_module = packages_distributions()
    imported: set[str] = set()
    strings: set[str] = set()
    for source in [*REPO.glob("pipeline/**/*.py"), *REPO.glob("napalm_frr/**/*.py")]:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.add(node.value)
    used = {_name(d) for m in imported for d in by_module.get(m, [])}
    declared = {_name(r) for r in _pyproject()["project"]["dependencies"]}
    for name in declared - used:
        if any(ep.name in strings for ep in distribution(name).entry_points):
            used.add(name)
    assert not declared - used, f"declared but never used: {sorted(declared - used)}"


# --------------------------------------------------------------------------- gitlab-ci-local

def test_gitlab_ci_local_is_pinned_with_its_lock() -> None:
    package = json.loads((REPO / "package.json").read_text())
    pinned = package["devDependencies"]["gitlab-ci-local"]
    assert re.fullmatch(r"4\.65\.\d+", pinned), "an exact 4.65.x: it runs on Node.js 20"
    lock = json.loads((REPO / "package-lock.json").read_text())
    entry = lock["packages"]["node_modules/gitlab-ci-local"]
    assert entry["version"] == pinned and entry["integrity"].startswith("sha512-")
    assert all(p.get("integrity") for name, p in lock["packages"].items() if name)
    assert "./scripts/setup-node" in (REPO / "Makefile").read_text()
    assert "npm ci" in (REPO / "scripts" / "setup-node").read_text()


# --------------------------------------------------------------------------- the set-up scripts

# What `make demo` and `make test` run before any Python: the Makefile's recipes and the
# shell scripts they (and CI) call. A program they run must come from a package that a
# bare debian:12 has (minbase: Essential or Priority required, and apt) or from one that
# the set-up installs, with what those depend on.
SCRIPTS = ("Makefile", "scripts/demo.sh", "scripts/setup-venv", "scripts/setup-node",
           "scripts/newest-python", ".ci/run", ".ci/setup")
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"  # what packages install; no pyenv, no venv
_PREFIXES = {"if", "then", "else", "elif", "do", "while", "until", "!", "exec", "time", "{",
             "command", "env", "/usr/bin/env"}  # a command follows
_NO_COMMAND = {"for", "case", "set", "local", "export", "trap", "read", "declare"}
_SEPARATORS = re.compile(r"&&|\|\||[;|&(`]|\$\(")
# quoted text is a message or another language's program (awk, python -c), unless it holds
# a command substitution
_QUOTED = re.compile(r"'[^']*'|\"(?:[^\"$\\]|\\.|\$(?!\())*\"")
_ABSOLUTE = re.compile(r"(?<![\w$/.)}-])/(?:usr/)?s?bin/[\w.+-]+")


def _command_lines(rel: str) -> list[str]:
    """The lines of ``rel`` that the shell runs: a Makefile's recipe lines, a script's
    lines outside here-documents; the interpreter of a shebang. Comments dropped."""
    lines: list[str] = []
    text = (REPO / rel).read_text()
    shebang = text.splitlines()[0]
    if shebang.startswith("#!"):
        lines.append(shebang[2:].strip())
        if "python" in shebang:
            return lines  # the rest is Python: it runs programs it finds, none by name
    heredoc = None
    for line in text.replace("\\\n", " ").splitlines():
        if heredoc is not None:
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        if rel == "Makefile" and not line.startswith("\t"):
            continue
        line = re.sub(r"(^|\s)#.*", "", line.strip().lstrip("@-"))
        if here := re.search(r"<<-?\s*['\"]?(\w+)", line):
            heredoc = here[1]
        lines.append(line)
    return lines


def _programs(rel: str) -> set[str]:
    """The program names and absolute paths in command position in ``rel``."""
    found = set(_ABSOLUTE.findall((REPO / rel).read_text()))
    for line in _command_lines(rel):
        for part in _SEPARATORS.split(_QUOTED.sub("''", line)):
            words = [w for w in part.split() if not re.fullmatch(r"[A-Za-z_]\w*=\S*", w)]
            while words and words[0] in _PREFIXES:
                words.pop(0)
                while words and words[0].startswith("-"):  # env -u NAME, command -v
                    words = words[2:] if words[0] == "-u" else words[1:]
            if words and words[0] not in _NO_COMMAND \
                    and re.fullmatch(r"[a-z][a-z0-9+_.-]*", words[0]):
                found.add(words[0])
    return found


def _owner(path: str) -> set[str]:
    """The packages that ship ``path`` (merged /usr: under /bin or /usr/bin)."""
    candidates = {path, os.path.realpath(path)}
    candidates |= {re.sub(r"^/usr/", "/", p) for p in candidates}
    candidates |= {re.sub(r"^/(s?bin)/", r"/usr/\1/", p) for p in candidates}
    for candidate in sorted(candidates):
        out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        owners = {line.split(":", 1)[0] for line in out.stdout.splitlines()
                  if not line.startswith("diversion")}
        if owners:
            return owners
    return set()


def _installed() -> dict[str, tuple[str, set[str], set[str]]]:
    """package -> (essential+priority, dependency names, provided names), installed only."""
    out = subprocess.run(["dpkg-query", "-W", "-f",
                          "${db:Status-Status}\t${Package}\t${Essential} ${Priority}\t"
                          "${Pre-Depends}, ${Depends}\t${Provides}\n"],
                         capture_output=True, text=True, check=True).stdout
    installed = {}
    for line in out.splitlines():
        status, name, kind, depends, provides = line.split("\t")
        if status == "installed":
            names = set(re.findall(r"(?:^|[,|]\s*)([a-z0-9][a-z0-9+.-]+)", depends))
            installed[name] = (kind, names, set(re.findall(r"[a-z0-9][a-z0-9+.-]+(?=\s|,|$)",
                                                           re.sub(r"\(.*?\)", "", provides))))
    return installed


def _set_up_packages() -> set[str]:
    """What the set-up installs: the Makefile's list, .ci/setup's and setup-node's."""
    ci_setup = re.search(r"for p in ([\w .+-]+); do", (REPO / ".ci" / "setup").read_text())
    node = re.search(r"--no-install-recommends ([\w .+-]+?) >", (
        REPO / "scripts" / "setup-node").read_text().replace("\\\n", " "))
    assert ci_setup and node, "the package lists of .ci/setup and scripts/setup-node"
    return makefile_packages() | set(ci_setup[1].split()) | set(node[1].split())


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="not a Debian machine")
def test_every_program_the_set_up_scripts_run_comes_from_an_installed_package() -> None:
    installed = _installed()
    providers: dict[str, set[str]] = {}
    for name, (_, _, provides) in installed.items():
        for virtual in provides | {name}:
            providers.setdefault(virtual, set()).add(name)
    allowed = {n for n, (kind, _, _) in installed.items()
               if kind.startswith("yes") or kind.endswith(" required") or n == "apt"}
    todo = [p for name in _set_up_packages() for p in providers.get(name, ())]
    while todo:  # the set-up's packages and everything they depend on
        name = todo.pop()
        if name not in allowed:
            allowed.add(name)
            todo += [p for dep in installed[name][1] for p in providers.get(dep, ())]
    wrong = {}
    for rel in SCRIPTS:
        for program in _programs(rel):
            path = program if program.startswith("/") else shutil.which(program,
                                                                        path=SYSTEM_PATH)
            if path is None or not os.path.exists(path):
                continue  # not a program here (a word of a message, a venv's tool)
            owners = _owner(path)
            if not owners & allowed:
                wrong[f"{rel}: {program}"] = sorted(owners) or "no package"
    assert not wrong, f"install these in the Makefile's APT_PACKAGES (or .ci/setup): {wrong}"


def test_the_script_parser_finds_commands_not_words() -> None:
    assert {"apt-get", "dpkg", "id", "git", "sed", "grep", "head", "/usr/bin/python3",
            "sha256sum", "cut", "awk", "mktemp", "bash", "make", "npm", "node"} \
        <= set().union(*map(_programs, SCRIPTS))
    assert "sudo" not in _programs("scripts/demo.sh")  # in a message, not run
