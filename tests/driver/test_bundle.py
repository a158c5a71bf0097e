"""Marker-delimited candidate bundles: split, join, directory form."""

from __future__ import annotations

from pathlib import Path

import pytest

from napalm_frr.bundle import BundleError, join_bundle, read_bundle_dir, split_bundle

FRR = "frr defaults traditional\nhostname r1\n!\nend\n"
NFT = "table inet netpipe\ndelete table inet netpipe\ntable inet netpipe {\n}\n"
BOTH = f"! netpipe:file frr.conf\n{FRR}# netpipe:file nftables.conf\n{NFT}"


def test_split_both_targets() -> None:
    assert split_bundle(BOTH) == {"frr.conf": FRR, "nftables.conf": NFT}


def test_split_one_target_only() -> None:
    assert split_bundle(f"# netpipe:file nftables.conf\n{NFT}") == {"nftables.conf": NFT}


def test_join_is_inverse_of_split() -> None:
    assert join_bundle(split_bundle(BOTH)) == BOTH
    assert split_bundle(join_bundle({"frr.conf": FRR})) == {"frr.conf": FRR}


def test_join_orders_targets_canonically() -> None:
    assert join_bundle({"nftables.conf": NFT, "frr.conf": FRR}) == BOTH


def test_leading_comments_allowed_and_trailing_blank_lines_dropped() -> None:
    text = f"! rendered by netpipe\n\n! netpipe:file frr.conf\n{FRR}\n\n"
    assert split_bundle(text) == {"frr.conf": FRR}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hostname r1\n", "no 'netpipe:file' marker"),
        ("hostname r1\n! netpipe:file frr.conf\n", "content before the first"),
        ("! netpipe:file running.conf\n", "unknown target"),
        ("! netpipe:file frr.conf\n! netpipe:file frr.conf\n", "appears twice"),
    ],
)
def test_split_rejects(text: str, message: str) -> None:
    with pytest.raises(BundleError, match=message):
        split_bundle(text)


def test_read_dir(tmp_path: Path) -> None:
    (tmp_path / "frr.conf").write_text(FRR)
    assert read_bundle_dir(tmp_path) == {"frr.conf": FRR}
    (tmp_path / "nftables.conf").write_text(NFT)
    assert read_bundle_dir(tmp_path) == {"frr.conf": FRR, "nftables.conf": NFT}


def test_read_dir_needs_a_target(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="holds none of"):
        read_bundle_dir(tmp_path)
