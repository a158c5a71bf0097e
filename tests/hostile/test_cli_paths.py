"""Hostile output paths: ``render --out`` and ``diff --out`` aimed at what they must
never replace (a diff replaces its folder too: stale ``*.diff`` must not survive).

Each is a usage error (exit 2) that writes nothing: the repository, the folder above it,
the root of the filesystem, a source folder, a folder outside holding someone's files, a
file, a FIFO, a symlink, ``.git``, and a ``build/configs`` planted by a merge request.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.hostile.harness import Case, Net, cases_ids, run

REFUSED = "render --out refused, nothing written"
DIFF_REFUSED = "diff --out refused, nothing written"


def out(target: str, mutate: object = None, cid: str = "", what: str = "") -> Case:
    return Case(cid, what, mutate or (lambda net: None), None, REFUSED,
                argv=("render", "--out", target), exit=2)


def diff_out(target: str, mutate: object = None, cid: str = "", what: str = "",
             offline: bool = False) -> Case:
    argv = ("diff", "--offline", "--base", "HEAD") if offline else ("diff",)
    return Case(cid, what, mutate or (lambda net: None), None, DIFF_REFUSED,
                argv=(*argv, "--out", target), exit=2)


def _git(net: Net) -> None:
    (net.root / ".git").mkdir()
    (net.root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")


def _planted_build(net: Net) -> None:
    (net.root / "build" / "configs").mkdir(parents=True)
    (net.root / "build" / "configs" / "README").write_text("committed by a merge request\n")


def _diffs_outside(net: Net) -> None:
    (net.outside / "review.diff").write_text("someone's own patch\n")


def _fifo(net: Net) -> None:
    os.mkfifo(net.outside / "pipe")


def _symlink(net: Net) -> None:
    (net.root / "out-link").symlink_to(net.outside)


CASES = [
    out(".", cid="repository", what="--out . at the repository root (would wipe it)"),
    out("{root}", cid="repository-absolute", what="--out naming the repository"),
    out("..", cid="parent", what="--out .. (the folder holding the repository)"),
    out("/", cid="filesystem-root", what="--out /"),
    out("{root}/build/../..", cid="parent-dotdot", what="--out reaching above through .."),
    out("intent", cid="source-folder", what="--out intent (a source folder)"),
    out("{outside}", cid="foreign-folder", what="--out a folder outside with someone's files"),
    out("{outside}/secret.txt", cid="file", what="--out a file"),
    out("intent/network.yaml", cid="intent-file", what="--out the network file"),
    out("{outside}/pipe", _fifo, "fifo", "--out a FIFO"),
    out("out-link", _symlink, "symlink", "--out a symlink to a folder outside"),
    out(".git", _git, "git", "--out .git"),
    out("build/configs", _planted_build, "planted-build", "a build/configs planted without "
        "the netpipe marker"),
    diff_out("{outside}", _diffs_outside, "diff-foreign-folder",
             "diff --out a folder outside holding someone's *.diff files"),
    diff_out("{outside}", _diffs_outside, "diff-offline-foreign-folder",
             "diff --offline --out a folder outside holding someone's *.diff files", True),
    diff_out(".", cid="diff-repository", what="diff --out . at the repository root"),
    diff_out("intent", cid="diff-source-folder", what="diff --out intent (a source folder)"),
    diff_out("{outside}/secret.txt", cid="diff-file", what="diff --out a file"),
    diff_out("build/configs", _planted_build, "diff-planted",
             "diff --out a folder planted without the netpipe marker", True),
]


@pytest.mark.parametrize("case", CASES, ids=cases_ids(CASES))
def test_hostile_cli_paths(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert run(case, tmp_path, monkeypatch, capsys).exit in (1, 2)  # refused, never a bug (5)
