"""Incremental builds: only what a change reaches is rendered and linted again, and the
cache in build/ can never put into a config what the templates did not."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from benchmarks.estate import add_vlan, generate
from pipeline.build import build
from pipeline.cli import main
from pipeline.render import cache
from pipeline.render.cache import FOLDER
from pipeline.render.render import SHIPPED_TEMPLATES

MACHINE_KEY = cache.machine_key  # conftest turns the cache off for every other test


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "private"))
    monkeypatch.setattr(cache, "machine_key", MACHINE_KEY)
    return generate(tmp_path / "net", 22).root


def _files(result: object) -> dict[str, dict[str, str]]:
    rendered = getattr(result, "rendered")  # noqa: B009 (Build, typed loosely here)
    return {h: r.files for h, r in rendered.items()}


def test_an_unchanged_estate_is_not_built_again(estate: Path) -> None:
    first = build(estate, incremental=True)
    assert first.ok and first.reused == 0
    second = build(estate, incremental=True)
    assert second.ok and second.reused == 22
    assert _files(second) == _files(first)


def test_one_vlan_rebuilds_the_devices_it_reaches(estate: Path) -> None:
    build(estate, incremental=True)
    add_vlan(estate, site=1)
    again = build(estate, incremental=True)
    assert again.ok and again.reused == 20  # s0002-core1 and s0002-sw1 built again
    assert _files(again) == _files(build(estate))  # the same as a build from scratch


def test_a_template_change_rebuilds_its_platform(estate: Path) -> None:
    build(estate, incremental=True)
    shutil.copytree(SHIPPED_TEMPLATES, estate / "templates")
    ios = estate / "templates" / "ios" / "running.conf.j2"
    ios.write_text(ios.read_text().replace("no ip http server", "no ip http server\n!"))
    again = build(estate, incremental=True)
    assert again.ok and again.reused == 4  # the routers: their templates are unchanged
    assert "no ip http server\n!\n" in again.rendered["s0001-sw1"].files["running.conf"]


def test_a_planted_cache_entry_is_never_used(estate: Path) -> None:
    """build/ is in the repository: a merge request could commit a cache entry with the
    right key and its own config. Entries carry an HMAC under this machine's key."""
    build(estate, incremental=True)
    entry_path = estate / FOLDER / "s0001-sw1.json"
    entry = json.loads(entry_path.read_text())
    entry["files"]["running.conf"] += "username evil privilege 15 secret 0 x\n"
    entry_path.write_text(json.dumps(entry))
    os.symlink(entry_path, estate / FOLDER / "link.json")
    (estate / FOLDER / "s0001-sw2.json").unlink()
    os.symlink(entry_path, estate / FOLDER / "s0001-sw2.json")
    again = build(estate, incremental=True)
    assert again.ok and again.reused == 20
    assert "evil" not in again.rendered["s0001-sw1"].files["running.conf"]


def test_a_verdict_reads_the_index_not_the_configs(estate: Path) -> None:
    """validate needs only to know a device is unchanged since a clean build: the signed
    index says so without reading its config back; render still needs (and checks) the
    texts."""
    build(estate, incremental=True)
    for entry in (estate / FOLDER).glob("*.json"):
        entry.write_text("{}")  # the texts are gone; the index still vouches
    verdict = build(estate, incremental=True, texts=False)
    assert verdict.ok and verdict.reused == 22 and verdict.rendered == {}
    full = build(estate, incremental=True)
    assert full.ok and full.reused == 0 and len(full.rendered) == 22


def test_a_planted_index_entry_is_never_used(estate: Path) -> None:
    """The index is in build/ too: one HMAC covers it whole, so an entry changed, added or
    removed by anyone but this machine makes it vouch for nothing, and every host is built
    and linted again."""
    build(estate, incremental=True)
    index_path = estate / cache.INDEX
    kept = json.loads(index_path.read_text())
    assert set(kept["keys"]) == {h.stem for h in (estate / FOLDER).glob("*.json")}
    assert build(estate, incremental=True, texts=False).reused == 22
    for plant in ({**kept["keys"], "s0001-sw1": "0" * 64},
                  {h: k for h, k in kept["keys"].items() if h != "s0001-sw2"}):
        index_path.write_text(json.dumps({"keys": plant, "mac": kept["mac"]}))
        again = build(estate, incremental=True, texts=False)
        assert again.ok and again.reused == 0 and len(again.rendered) == 22
        index_path.write_text(json.dumps(kept))
    assert build(estate, incremental=True, texts=False).reused == 22
    index_path.unlink()
    os.symlink(estate / "intent" / "network.yaml", index_path)
    assert build(estate, incremental=True, texts=False).reused == 0


def test_without_a_private_key_everything_is_built(estate: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    build(estate, incremental=True)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the key's folder should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    again = build(estate, incremental=True)
    assert again.ok and again.reused == 0


def test_a_device_with_findings_is_not_kept(estate: Path) -> None:
    shutil.copytree(SHIPPED_TEMPLATES, estate / "templates")
    nft = estate / "templates" / "frr" / "nftables.conf.j2"
    original = nft.read_text()
    nft.write_text(original.replace("tcp dport 179", "tcp dport 99999"))  # hubs peer BGP
    assert not build(estate, incremental=True).ok
    assert not (estate / FOLDER / "hub1.json").exists()
    nft.write_text(original)
    assert build(estate, incremental=True).reused == 18  # frr templates changed back


def test_the_run_says_how_many_devices_it_built(estate: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--root", str(estate)]) == 0
    capsys.readouterr()
    add_vlan(estate, site=0)
    assert main(["validate", "--root", str(estate)]) == 0
    err = capsys.readouterr().err
    assert "rendered and linted 2 of 22 devices; 20 unchanged" in err
    assert main(["validate", "--root", str(estate), "--no-cache"]) == 0
    assert "unchanged" not in capsys.readouterr().err


def _loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The intent files this process reads and validates from here on."""
    from pipeline.intent import parse

    loaded: list[str] = []
    real = parse.read_file

    def counting(root: Path, rel: str) -> object:
        loaded.append(rel)
        return real(root, rel)

    monkeypatch.setattr(parse, "read_file", counting)
    return loaded


def test_unchanged_intent_files_are_recalled_not_read(estate: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    build(estate, incremental=True)
    loaded = _loads(monkeypatch)
    add_vlan(estate, site=1)
    again = build(estate, incremental=True)
    assert again.ok and again.reused == 20
    assert sorted(loaded) == ["intent/sites/s0002.yaml", "intent/topology.yaml"]
    assert _files(again) == _files(build(estate))


def test_a_changed_file_is_checked_as_it_now_is(estate: Path) -> None:
    """Kept by content: an error written into a file that was clean is found."""
    assert build(estate, incremental=True).ok
    site = estate / "intent" / "sites" / "s0001.yaml"
    site.write_text(site.read_text().replace("management: {vlan: 99,",
                                             "management: {vlan: 98,", 1))
    again = build(estate, incremental=True)
    assert not again.ok
    assert [(f.code, f.file) for f in again.findings if f.is_error] == [
        ("NP122", "intent/sites/s0001.yaml")]


def test_a_planted_intent_entry_is_never_unpickled(estate: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """build/ is in the repository: an entry a merge request commits, even one with the
    right file hash, is a miss, and its pickle never runs."""
    assert build(estate, incremental=True).ok
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (marker.write_text, ("pwned",))

    import pickle

    entries = sorted((estate / cache.INTENT_FOLDER).glob("*.bin"))
    assert len(entries) == 4 + 3 + 1  # network, topology, routing, firewall; 3 sites; inventory
    for entry in entries:
        raw = entry.read_bytes()
        entry.write_bytes(b"\0" * 32 + raw[32:64] + pickle.dumps(Payload()))
    loaded = _loads(monkeypatch)
    again = build(estate, incremental=True)
    assert again.ok and not marker.exists()
    assert len(loaded) == 4 + 3 + 3  # every file read again, the inventory's three too
