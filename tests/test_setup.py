"""Set-up that holds on a bare machine: every system file the code runs comes from a
Debian package that the Makefile installs."""

from __future__ import annotations

import ast
import json
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
          "/etc/nftables.d/netpipe.nft", "/etc/systemd/system"}
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
