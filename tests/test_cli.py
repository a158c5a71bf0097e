"""The CLI's machine contract: JSON shapes, exit codes, and nothing written on errors."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from pipeline.cli import main
from tests.conftest import REPO

BROKEN_VLAN = ("{id: 230, name: GUEST-WIFI, zone: guest",
               "{id: 230, name: GUEST-WIFI, zone: guests")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def break_network(root: Path) -> None:
    path = root / "intent/sites/hq.yaml"
    path.write_text(path.read_text().replace(*BROKEN_VLAN))


def test_validate_clean_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "validate", "--root", str(REPO), "--format", "json")
    assert code == 0
    assert json.loads(out) == {"findings": []}


def test_validate_error_json_and_exit_1(network: Path, capsys: pytest.CaptureFixture[str]) -> None:
    break_network(network)
    code, out = run(capsys, "validate", "--root", str(network), "--format", "json")
    assert code == 1
    findings = json.loads(out)["findings"]
    assert findings == [{
        "code": "NP116", "severity": "error",
        "message": "VLAN 230 is in unknown zone 'guests'",
        "file": "intent/sites/hq.yaml", "line": 10, "column": 39,
        "hint": "did you mean 'guest'?",
    }]


def test_validate_text_is_compiler_style(network: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    break_network(network)
    code, out = run(capsys, "validate", "--root", str(network))
    assert code == 1
    assert out.startswith("intent/sites/hq.yaml:10:39: NP116 error VLAN 230 is in unknown zone")
    assert "hint: did you mean 'guest'?" in out


def test_render_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "out"
    code, out = run(capsys, "render", "--root", str(REPO), "--out", str(out_dir),
                    "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["findings"] == []
    assert data["hosts"]["hq-edge1"]["platform"] == "frr"
    assert set(data["hosts"]["hq-edge1"]["files"]) == {
        "frr.conf", "nftables.conf", "interfaces", "sysctl.conf", "resolv.conf", "chrony.conf",
        "snmpd.conf", "rsyslog.conf", "dhcp-relay.conf"}
    assert data["hosts"]["hq-sw1"] == {
        "platform": "ios", "files": {"running.conf": str(out_dir / "hq-sw1" / "running.conf")}}
    for host in data["hosts"].values():
        for path in host["files"].values():
            assert Path(path).is_file()
    assert len(data["hosts"]) == 10


def test_render_writes_nothing_on_errors(network: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    break_network(network)
    out_dir = tmp_path / "out"
    code, out = run(capsys, "render", "--root", str(network), "--out", str(out_dir),
                    "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["hosts"] == {}
    assert [f["code"] for f in data["findings"]] == ["NP116"]
    assert not out_dir.exists()


def test_render_keeps_previous_output_on_errors(network: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "out"
    assert run(capsys, "render", "--root", str(network), "--out", str(out_dir))[0] == 0
    before = sorted(p.relative_to(out_dir) for p in out_dir.rglob("*"))
    break_network(network)
    assert run(capsys, "render", "--root", str(network), "--out", str(out_dir))[0] == 1
    after = sorted(p.relative_to(out_dir) for p in out_dir.rglob("*"))
    assert after == sorted([*before, Path("_STALE")])  # intact, and marked stale


def test_junit_and_codeclimate(network: Path, capsys: pytest.CaptureFixture[str]) -> None:
    break_network(network)
    code, out = run(capsys, "validate", "--root", str(network), "--format", "junit")
    assert code == 1
    suite = ET.fromstring(out.split("?>", 1)[1]).find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    code, out = run(capsys, "validate", "--root", str(network), "--format", "codeclimate")
    issues = json.loads(out)
    assert issues[0]["check_name"] == "NP116"
    assert issues[0]["location"] == {"path": "intent/sites/hq.yaml", "lines": {"begin": 10}}
    assert issues[0]["severity"] == "major"


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--root", str(tmp_path / "nope")]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["validate", "--format", "xml"]) == 2


def test_missing_network_file_is_a_finding(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "validate", "--root", str(tmp_path), "--format", "json")
    assert code == 1
    codes = {(f["code"], f["file"]) for f in json.loads(out)["findings"]}
    assert ("NP013", "intent/network.yaml") in codes
    assert ("NP013", "inventory/hosts.yaml") in codes


def test_shipped_templates_serve_when_repo_has_none(network: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    shutil.rmtree(network / "templates")
    code, out = run(capsys, "validate", "--root", str(network), "--format", "json")
    assert code == 0, out


def test_lock_show_and_break(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.change.store import open_store

    assert main(["lock", "--root", str(tmp_path)]) == 0
    assert "not locked" in capsys.readouterr().out
    open_store(tmp_path).acquire_lock("alice@laptop pid 42", "deploy abc")
    assert main(["lock", "--root", str(tmp_path)]) == 0
    assert "locked by alice@laptop pid 42" in capsys.readouterr().out
    assert main(["lock", "--root", str(tmp_path), "--break"]) == 0
    assert "broke the lock of alice@laptop pid 42" in capsys.readouterr().out
    store = open_store(tmp_path)
    assert store.lock_info() is None
    assert store.events()[-1]["lock"]["holder"] == "alice@laptop pid 42"


def test_lock_in_the_git_state_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess

    from pipeline.change.store import open_store

    env_args = ["-c", "user.email=t@x", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", *env_args, "-C", str(tmp_path), "commit", "-q", "--allow-empty",
                    "-m", "init"], check=True)
    open_store(tmp_path, "git").acquire_lock("bob (gitlab-ci job 7)", "deploy x")
    assert main(["lock", "--root", str(tmp_path), "--state", "git"]) == 0
    assert "locked by bob (gitlab-ci job 7)" in capsys.readouterr().out
    assert main(["lock", "--root", str(tmp_path), "--state", "git", "--break"]) == 0
    assert open_store(tmp_path, "git").lock_info() is None


def test_a_bug_is_exit_5_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline import cli

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("s3cret-value-in-a-message")

    monkeypatch.setattr(cli, "build", broken)
    assert main(["validate", "--root", str(REPO)]) == 5
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert "internal error (KeyError)" in err and "--debug" in err
    assert "s3cret" not in err and "Traceback" not in err
    assert main(["validate", "--root", str(REPO), "--debug"]) == 5
    err = capsys.readouterr().err
    assert "Traceback" in err and "internal error (KeyError)" in err


def test_render_replaces_its_own_output_and_marks_it_stale_on_errors(
        network: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "out"
    assert run(capsys, "render", "--root", str(network), "--out", str(out_dir))[0] == 0
    assert (out_dir / ".netpipe-render").is_file() and not (out_dir / "_STALE").exists()
    (out_dir / "hq-sw1" / "leftover").write_text("from before")
    assert run(capsys, "render", "--root", str(network), "--out", str(out_dir))[0] == 0
    assert not (out_dir / "hq-sw1" / "leftover").exists()      # replaced as a whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net", "out"]  # nothing beside
    config = (out_dir / "hq-sw1" / "running.conf").read_text()
    break_network(network)
    assert main(["render", "--root", str(network), "--out", str(out_dir)]) == 1
    assert "marked stale" in capsys.readouterr().err
    assert (out_dir / "_STALE").is_file()
    assert (out_dir / "hq-sw1" / "running.conf").read_text() == config


def test_render_no_lint_writes_the_same_configs_marked_unlinted(
        network: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    linted, quick = tmp_path / "linted", tmp_path / "quick"
    assert run(capsys, "render", "--root", str(network), "--out", str(linted))[0] == 0

    def no_lint(*args: object, **kwargs: object) -> None:
        raise AssertionError("--no-lint ran the lint")

    monkeypatch.setattr("pipeline.build.lint", no_lint)
    code = main(["render", "--root", str(network), "--out", str(quick), "--no-lint",
                 "--no-cache"])
    assert code == 0
    assert "not linted" in capsys.readouterr().err
    assert "not linted" in (quick / "_UNLINTED").read_text()
    for config in linted.rglob("*.conf"):
        assert (quick / config.relative_to(linted)).read_text() == config.read_text()
    break_network(network)  # the rules still run: nothing written, the output marked stale
    assert main(["render", "--root", str(network), "--out", str(quick), "--no-lint"]) == 1
    assert (quick / "_STALE").is_file()
    monkeypatch.undo()
    (network / "intent/sites/hq.yaml").write_text(
        (network / "intent/sites/hq.yaml").read_text().replace(*reversed(BROKEN_VLAN)))
    assert main(["render", "--root", str(network), "--out", str(quick)]) == 0
    assert not (quick / "_UNLINTED").exists() and not (quick / "_STALE").exists()


@pytest.mark.parametrize("name", ["STALE", "UNLINTED", "stale", "unlinted"])
def test_a_device_named_like_a_render_note(network: Path, tmp_path: Path, name: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    # A host name is a folder of the output: the notes render writes beside them
    # (stale, not linted) are names no host can take.
    for rel in ("inventory/hosts.yaml", "intent/sites/warehouse.yaml", "intent/topology.yaml"):
        (network / rel).write_text((network / rel).read_text().replace("wh-sw1", name))
    out_dir = tmp_path / "out"
    assert main(["render", "--root", str(network), "--out", str(out_dir), "--no-lint"]) == 0
    assert (out_dir / name / "running.conf").is_file()
    break_network(network)
    assert main(["render", "--root", str(network), "--out", str(out_dir)]) == 1
    assert "marked stale" in capsys.readouterr().err
    assert (out_dir / name / "running.conf").is_file()


@pytest.mark.parametrize("where", ["root", "parent", "file", "foreign", "symlink"])
def test_render_refuses_an_out_that_is_not_its_own(
        network: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    (tmp_path / "link").symlink_to(foreign)
    out = {"root": network, "parent": tmp_path, "file": foreign / "keep.txt",
           "foreign": foreign, "symlink": tmp_path / "link"}[where]
    code = main(["render", "--root", str(network), "--out", str(out)])
    assert code == 2
    assert "nothing written" in capsys.readouterr().err
    assert (foreign / "keep.txt").read_text() == "mine"
    assert (network / "intent" / "network.yaml").is_file()


def test_the_netpipe_process_collects_in_batches_and_skips_the_exit_collection(
        capsys: pytest.CaptureFixture[str]) -> None:
    """As the `netpipe` command (no argv given) the whole process runs at the build's
    thresholds; at the end what is alive is frozen (the exit does not traverse it) and a
    build's result is left to the system (os._exit after flushing, not freed object by
    object). In-process callers keep their collector, and their process."""
    import gc
    import subprocess
    import sys

    from pipeline import build as build_module
    from pipeline import cli

    probe = (
        "import gc, os, sys\n"
        "import pipeline.cli as c\n"
        "def end(code):\n"
        "    print('end', code, gc.get_threshold(), gc.get_freeze_count() > 0, len(c._LEFT))\n"
        "    sys.stdout.flush()\n"
        "    os.abort()  # never the real one here: the probe must show it was reached\n"
        "os._exit = end\n"
        f"sys.argv = ['netpipe', 'validate', '--root', {str(REPO)!r}]\n"
        "c.main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=False, cwd=REPO)
    assert proc.stdout.splitlines()[-2:] == [
        "no findings", f"end 0 {build_module.GC_THRESHOLD} True 1"], proc.stderr[-2000:]
    outer = gc.get_threshold()
    assert main(["validate", "--root", str(REPO)]) == 0  # in-process: nothing changed
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == outer
    assert "no findings" in capsys.readouterr().out
    assert cli._LEFT is None  # in-process results are not held
