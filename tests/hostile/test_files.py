"""Hostile files: symlinks out of the repository, special files, folders in the wrong place.

Git carries symlinks, so a merge request can add one; FIFOs, devices, sparse and hard-linked
files cannot come through git, but a poisoned runner workspace could hold them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.hostile.harness import Case, Net, cases_ids, run

NETWORK = "intent/network.yaml"
HQ = "intent/sites/hq.yaml"
ROUTING = "intent/routing.yaml"
HOSTS = "inventory/hosts.yaml"
GROUPS = "inventory/groups.yaml"
DEFAULTS = "inventory/defaults.yaml"


def link(rel: str, target: str) -> object:
    def mutate(net: Net) -> None:
        net.symlink(rel, target.format(canary=net.canary, outside=net.outside))
    return mutate


def _fifo(rel: str) -> object:
    return lambda net: net.fifo(rel)


def _device(net: Net) -> None:
    path = net.path(HQ)
    path.unlink()
    try:  # like /dev/zero: opened, it would read forever
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))
    except PermissionError:
        # Without CAP_MKNOD only a 0:0 character device (an overlayfs whiteout, which any
        # user may make since Linux 5.8) can be made: the same kind of file to refuse.
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))


def _sites_dir(net: Net) -> None:
    fake = net.outside / "sites"
    fake.mkdir()
    (fake / "evil.yaml").write_text("name: evil\ncore: hq-core1\n")
    net.symlink("intent/sites", fake)


def _intent_dir(net: Net) -> None:
    import shutil

    shutil.copytree(net.path("intent"), net.outside / "intent")
    net.symlink("intent", net.outside / "intent")


def _folder(rel: str) -> object:
    def mutate(net: Net) -> None:
        net.path(rel).unlink()
        net.path(rel).mkdir()
    return mutate


def _sparse(net: Net) -> None:
    with open(net.path(HQ), "r+b") as fh:
        fh.truncate(10 * 1024**3)  # 10 GiB of nothing: refused by its size, never read


def _hardlink(net: Net) -> None:
    net.path("intent/sites/zz.yaml").hardlink_to(net.canary)


CASES = [
    Case("network-symlink-outside", "intent/network.yaml a symlink to a file outside",
         link(NETWORK, "{canary}"), "NP014", NETWORK),
    Case("network-symlink-shadow", "intent/network.yaml a symlink to /etc/shadow",
         link(NETWORK, "/etc/shadow"), "NP014", NETWORK),
    Case("site-symlink-environ", "a site file that is /proc/self/environ",
         link(HQ, "/proc/self/environ"), "NP014", HQ),
    Case("site-symlink-zero", "a site file that is /dev/zero", link(HQ, "/dev/zero"), "NP014",
         HQ),
    Case("site-symlink-inside", "a site file that is a symlink to another inside the repo",
         link(HQ, "warehouse.yaml"), "NP014", HQ),
    Case("site-symlink-dangling", "a dangling symlink", link(HQ, "/nonexistent/x.yaml"), "NP014",
         HQ),
    Case("site-fifo", "a site file that is a FIFO (would hang a reader)", _fifo(HQ), "NP014",
         HQ),
    Case("site-device", "a site file that is a character device", _device, "NP014", HQ),
    Case("site-sparse-10g", "a 10 GiB sparse site file", _sparse, "NP003", HQ, 1),
    Case("site-hardlink", "a hard link to a file outside (indistinguishable; content not echoed)",
         _hardlink, "NP011", "intent/sites/zz.yaml", 1),
    Case("sites-dir-symlink", "intent/sites a symlink to a folder outside", _sites_dir,
         "NP014", "intent/sites"),
    Case("intent-dir-symlink", "intent/ a symlink to a copy outside", _intent_dir, "NP014",
         NETWORK),
    Case("routing-is-folder", "intent/routing.yaml a folder", _folder(ROUTING), "NP014",
         ROUTING),
    Case("hosts-symlink-inside", "inventory/hosts.yaml a symlink inside the repo",
         link(HOSTS, "../intent/network.yaml"), "NP014", HOSTS),
    Case("groups-fifo", "inventory/groups.yaml a FIFO", _fifo(GROUPS), "NP014", GROUPS),
    Case("defaults-symlink-environ", "inventory/defaults.yaml /proc/self/environ",
         link(DEFAULTS, "/proc/self/environ"), "NP014", DEFAULTS),
    Case("routing-symlink-git", "intent/routing.yaml a symlink into .git",
         link(ROUTING, "../.git/config"), "NP014", ROUTING),
]


def _escape_name(folder: str) -> object:
    def mutate(net: Net) -> None:
        path = os.fsencode(net.path(folder)) + b"/\xff\x1b[2J.yaml"
        with open(path, "w") as fh:
            fh.write("name: x\n")
    return mutate


def _escape_template(net: Net) -> None:
    with open(os.fsencode(net.path("templates/ios")) + b"/\x1b[2Jx.j2", "w") as fh:
        fh.write("x\n")


CASES += [
    Case("site-name-escapes", "a site file named with a terminal escape and a non-UTF-8 byte",
         _escape_name("intent/sites"), "NP014", "intent/sites/\\udcff\\x1b[2J.yaml"),
    Case("template-name-escapes", "a template named with a terminal escape", _escape_template,
         "NP014", "templates/ios/\\x1b[2Jx.j2"),
]


@pytest.mark.parametrize("case", CASES, ids=cases_ids(CASES))
def test_hostile_files(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    assert run(case, tmp_path, monkeypatch, capsys).exit in (1, 2)  # refused, never a bug (5)
