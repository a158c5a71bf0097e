"""Set-up that holds on a bare machine: every system file the code runs comes from a
Debian package that the Makefile installs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline import system
from tests.conftest import REPO

# Absolute paths in the code that are places, not programs a package ships.
PLACES = {"/etc/frr", "/etc/machine-id", "/run/frr", "/run/netns", "/run/netpipe",
          "/run/netpipe/", "/run/sshd", "/usr/bin", "/usr/lib/frr", "/usr/sbin",
          "/var/lib/netpipe", "/var/run/frr"}
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
