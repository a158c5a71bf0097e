"""The network as of a git revision, read straight from git's object store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.change.revision import RevisionError, extract, tree_at
from tests.change.test_blast import commit_all, git, repo


def test_extract_writes_the_network_as_committed(tmp_path: Path) -> None:
    root = repo(tmp_path / "net")
    before = (root / "intent/network.yaml").read_bytes()
    (root / "intent/network.yaml").write_text("changed: after the commit\n")
    dest = tmp_path / "out"
    sha = extract(root, "HEAD", dest)
    assert len(sha) == 40
    assert (dest / "intent/network.yaml").read_bytes() == before
    assert (dest / "templates/frr/frr.conf.j2").is_file()
    assert not (dest / ".git").exists()


def test_a_symlink_in_the_tree_is_refused(tmp_path: Path) -> None:
    root = repo(tmp_path / "net")
    os.symlink("/etc/passwd", root / "intent/sites/leak.yaml")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "a link")
    with pytest.raises(RevisionError, match="symbolic link"):
        extract(root, "HEAD", tmp_path / "out")
    assert not (tmp_path / "out/intent/sites/leak.yaml").exists()


def test_network_in_a_subfolder(tmp_path: Path) -> None:
    top = tmp_path / "top"
    (top / "net").mkdir(parents=True)
    (top / "net/intent").mkdir()
    (top / "net/intent/network.yaml").write_text("name: x\n")
    (top / "README").write_text("not the network\n")
    commit_all(top)
    with tree_at(top / "net", "HEAD") as tmp:
        assert (Path(tmp) / "intent/network.yaml").read_text() == "name: x\n"
        assert not (Path(tmp) / "README").exists()


def test_unknown_revision_and_option_lookalikes(tmp_path: Path) -> None:
    root = repo(tmp_path / "net")
    for rev in ("no-such-rev", "--output=/tmp/x", ""):
        with pytest.raises(RevisionError):
            extract(root, rev, tmp_path / "out")
