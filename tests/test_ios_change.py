"""IOS through the same change path: NAPALM's ``ios`` driver, driven by Nornir.

No IOS device or emulator is available, so what is proven here is everything up to
the device: the candidate text, the driver options from the inventory, and that an
unreachable IOS device is reported (exit 3) with nothing touched. The connection
attempts go to a closed port on 127.0.0.1 only.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from pipeline.build import build
from pipeline.change.candidate import candidate, needed_secrets
from pipeline.change.deploy import Deployment
from pipeline.change.diff import run_diff
from pipeline.change.seal import Sealer
from pipeline.change.store import open_store
from pipeline.change.targets import Target, TargetError, nornir_for, production_targets
from pipeline.cli import main
from pipeline.verify.run import Report
from tests.conftest import REPO

CREDS = {"NETPIPE_USERNAME": "netops", "NETPIPE_PASSWORD": "s3cret-pw"}
SECRETS = {"SNMP_RO_COMMUNITY": "c0mmunity", "TACACS_KEY": "tacacs-k3y",
           "BGP_ISP_PASSWORD": "bgp-pw-123",
           "IOS_ENABLE_HASH": "$9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM",
           "IOS_BREAKGLASS_HASH": "$9$2MJBozw/9R3UsU$2rXu8l0oaySBlKV8OsRkm6GXZcjqG5xY1FeqTb8dE0c"}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the socket goes


def test_ios_targets_carry_inventory_options() -> None:
    result = build(REPO, run_lint=False)
    assert result.intent is not None
    targets = production_targets(result.intent.hosts, CREDS, REPO)
    sw = targets["hq-sw1"]
    assert (sw.platform, sw.hostname, sw.username, sw.password) == (
        "ios", "10.2.99.11", "netops", "s3cret-pw")
    known = sw.optional_args["alt_key_file"]
    assert Path(known).read_text() == (REPO / "inventory" / "known_hosts").read_text()
    assert sw.optional_args == {"transport": "ssh", "ssh_strict": True, "system_host_keys": False,
                                "alt_host_keys": True, "alt_key_file": known}
    assert targets["hq-edge1"].optional_args == {"transport": "ssh", "sudo": True,
                                                 "known_hosts_file": known}


def test_a_known_hosts_file_the_inventory_names_must_exist(network: Path) -> None:
    (network / "inventory" / "known_hosts").unlink()
    result = build(network, run_lint=False)
    assert result.intent is not None
    with pytest.raises(TargetError, match=r"known_hosts file inventory/known_hosts .*not exist"):
        production_targets(result.intent.hosts, CREDS, network)
    (network / "inventory" / "known_hosts").symlink_to("/etc/passwd")
    with pytest.raises(TargetError, match="symbolic link"):
        production_targets(result.intent.hosts, CREDS, network)


def test_missing_credentials_are_named() -> None:
    result = build(REPO, run_lint=False)
    assert result.intent is not None
    with pytest.raises(TargetError, match="NETPIPE_PASSWORD"):
        production_targets(result.intent.hosts, {"NETPIPE_USERNAME": "x"})


def test_ios_candidate_has_secrets_only_in_memory() -> None:
    result = build(REPO, run_lint=False)
    rendered = result.rendered["hq-sw1"]
    assert needed_secrets({"hq-sw1": rendered}) == {
        "SNMP_RO_COMMUNITY", "TACACS_KEY", "IOS_ENABLE_HASH", "IOS_BREAKGLASS_HASH"}
    text = candidate(rendered, SECRETS)
    assert "snmp-server community c0mmunity RO MGMT-ACCESS" in text
    assert " key tacacs-k3y" in text
    assert "<secret:" not in text
    assert "c0mmunity" not in rendered.files["running.conf"]


def unreachable_ios(port: int) -> dict[str, Target]:
    return {"hq-sw1": Target("hq-sw1", "ios", "127.0.0.1", "netops", "pw", port,
                             {"transport": "ssh", "conn_timeout": 2})}


def test_unreachable_ios_device_is_reported() -> None:
    targets = unreachable_ios(closed_port())
    result = build(REPO, run_lint=False)
    config = candidate(result.rendered["hq-sw1"], SECRETS)
    report = run_diff(nornir_for(targets), {"hq-sw1": config}, {"hq-sw1": "ios"}, SECRETS)
    d = report["hq-sw1"]
    assert d.reachable is False and d.changed is False
    assert "127.0.0.1" in d.error or "connect" in d.error.lower()
    assert "c0mmunity" not in d.error and "tacacs-k3y" not in d.error


def test_deploy_with_an_unreachable_ios_device_touches_nothing(tmp_path: Path) -> None:
    targets = unreachable_ios(closed_port())
    result = build(REPO, run_lint=False)
    store = open_store(tmp_path)
    messages: list[str] = []
    outcome = Deployment(
        nornir_for(targets), store, {"hq-sw1": candidate(result.rendered["hq-sw1"], SECRETS)},
        {"hq-sw1": "ios"}, SECRETS, lambda **_: Report(), "", Sealer.for_lab(),
        say=messages.append).run()
    assert outcome.exit_code == 3
    assert outcome.outcomes["hq-sw1"].state == "unreachable"
    assert "nothing was changed" in outcome.message
    assert store.lock_info() is None, "the lock must be released"
    record = store.deployments()[-1]
    assert record["result"] == "failed" and record["backups"] == []


def test_cli_diff_refuses_without_credentials(capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (*CREDS, *SECRETS):
        monkeypatch.delenv(var, raising=False)
    assert main(["diff", "--root", str(REPO)]) == 2
    err = capsys.readouterr().err
    assert "credentials not set" in err and "NETPIPE_PASSWORD" in err


def test_cli_diff_refuses_without_secrets(capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for var, value in CREDS.items():
        monkeypatch.setenv(var, value)
    for var in SECRETS:
        monkeypatch.delenv(var, raising=False)
    assert main(["diff", "--root", str(REPO), "--limit", "hq-sw1"]) == 2
    assert "secrets not set" in capsys.readouterr().err


def test_ios_login_secrets_must_be_hashes(capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A password where the intent wants a type 9 hash is refused before any device."""
    for var, value in {**CREDS, **SECRETS, "IOS_ENABLE_HASH": "$9$letmein$x"}.items():
        monkeypatch.setenv(var, value)
    assert main(["diff", "--root", str(REPO), "--limit", "hq-sw1"]) == 2
    out, err = capsys.readouterr()
    assert "IOS_ENABLE_HASH is not an IOS type 9 hash" in out and "letmein" not in out + err
    assert "no device was touched" in err


@pytest.mark.parametrize(("value", "problem"), [
    (SECRETS["IOS_ENABLE_HASH"], None),
    (SECRETS["IOS_ENABLE_HASH"].replace("$9$", "$8$"), "is a type 8 hash"),
    ("$9$short$hash", "is not an IOS type 9 hash"),
    ("plain password", "is not an IOS type 9 hash"),
])
def test_ios_hash_shape(value: str, problem: str | None) -> None:
    from pipeline.secrets import ios_hash_problem

    found = ios_hash_problem(value, 9)
    assert (found is None) if problem is None else (found is not None and problem in found)
