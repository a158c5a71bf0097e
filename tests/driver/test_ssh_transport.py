"""The ssh transport against a real sshd inside the lab.

sshd runs in r2 listening only on 10.99.0.1 (r2's veth address); the controller runs in a
subprocess inside r1 (``ip netns exec``), so every packet stays on the lab's veth.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import system
from tests.conftest import require
from tests.driver.labkit import NFT, Lab, Router, bundle, frr_conf, poll

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
SSH_NFT = NFT.replace(
    "\t\tip saddr @mgmt tcp dport 22 accept\n",
    "\t\tip saddr @mgmt tcp dport 22 accept\n\t\tip saddr 10.99.0.0/31 tcp dport 22 accept\n",
)

CONTROLLER = """
import json, sys
from napalm.base.exceptions import ReplaceConfigException
from napalm_frr import FrrDriver
args = json.loads(sys.argv[1])
out = {}
device = FrrDriver("10.99.0.1", "root", "", timeout=30, optional_args=args["optional_args"])
device.open()
out["alive"] = device.is_alive()["is_alive"]
try:
    device.load_replace_candidate(config=args["bad"])
except ReplaceConfigException as exc:
    out["rejected"] = str(exc)
device.load_replace_candidate(config=args["candidate"])
out["diff"] = device.compare_config()
device.commit_config(message="over ssh")
device.load_replace_candidate(config=args["candidate"])
out["diff_after_commit"] = device.compare_config()
device.discard_config()
out["facts"] = device.get_facts()
out["running"] = device.get_config(retrieve="running")["running"]
device.rollback()
out["after_rollback"] = device.get_config(retrieve="running")["running"]
device.load_replace_candidate(config=args["candidate"])
device.commit_config(revert_in=2)
out["pending"] = device.has_pending_commit()
device.close()
print(json.dumps(out))
"""


def _keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "netpipe-test", "-f", str(path)],
        check=True,
    )
    return path.with_suffix(".pub").read_text().strip()


@pytest.fixture(scope="module")
def sshd(lab: Lab) -> Iterator[Path]:
    """sshd inside r2 on 10.99.0.1:22 with a throw-away host key and authorized key."""
    sshd_bin = Path(system.SSHD.path)
    require(system.describe_missing([system.SSHD]) or None, "test the ssh transport")
    workdir = lab.base / "ssh"
    workdir.mkdir(mode=0o700)
    host_pub = _keygen(workdir / "host_key")
    client_pub = _keygen(workdir / "client_key")
    (workdir / "authorized_keys").write_text(client_pub + "\n")
    (workdir / "known_hosts").write_text(f"10.99.0.1 {host_pub}\n")
    config = workdir / "sshd_config"
    config.write_text(
        "ListenAddress 10.99.0.1\nPort 22\n"
        f"HostKey {workdir / 'host_key'}\nPidFile {workdir / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {workdir / 'authorized_keys'}\n"
        "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nLogLevel VERBOSE\n"
    )
    # sshd insists on its privilege-separation directory, normally made by systemd-tmpfiles.
    privsep = Path("/run/sshd")
    made_privsep = not privsep.exists()
    privsep.mkdir(mode=0o755, exist_ok=True)
    log = (workdir / "sshd.log").open("w")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", lab.r2.ns, str(sshd_bin), "-D", "-e", "-f", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        poll(lambda: "Server listening on 10.99.0.1" in (workdir / "sshd.log").read_text(), 10)
        yield workdir
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        if made_privsep:
            privsep.rmdir()


def test_load_compare_commit_rollback_over_ssh(sshd: Path, lab: Lab, r2: Router) -> None:
    original = r2.snapshot()
    args = {
        "optional_args": {
            "transport": "ssh",
            "key_file": str(sshd / "client_key"),
            "known_hosts_file": str(sshd / "known_hosts"),
            "vty_socket": str(r2.rundir),
            "confdir": str(r2.rundir),
            "state_dir": str(r2.state_dir),
            # never this machine's /etc: the boot hook and the persisted table go here
            "nft_file": str(r2.rundir / "nftables.conf"),
            "systemd_dir": str(sshd / "systemd"),
        },
        "candidate": bundle(frr_conf(2), SSH_NFT),
        "bad": bundle(frr_conf(2), SSH_NFT.replace("@mgmt", "@nope")),
    }
    started = time.monotonic()
    proc = subprocess.run(
        ["ip", "netns", "exec", lab.r1.ns, sys.executable, "-c", CONTROLLER, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    print(f"ssh controller took {time.monotonic() - started:.1f}s")

    assert out["alive"]
    assert "@nope" in out["rejected"] and "nft -c" in out["rejected"]
    assert "+ ip address 10.99.255.2/32" in out["diff"].splitlines()
    assert "+\t\tip saddr 10.99.0.0/31 tcp dport 22 accept" in out["diff"].splitlines()
    assert out["diff_after_commit"] == ""
    assert out["facts"]["hostname"] == "r2" and out["facts"]["vendor"] == "FRRouting"
    assert "ip address 10.99.255.2/32" in out["running"]
    assert "ip address 10.99.255.2/32" not in out["after_rollback"]
    assert out["pending"] is True
    unit = sshd / "systemd" / "netpipe-boot.service"
    assert f"ExecStart=/bin/sh {r2.state_dir}/boot.sh" in unit.read_text()
    assert "After=local-fs.target nftables.service" in unit.read_text()
    assert (sshd / "systemd" / "sysinit.target.wants" / "netpipe-boot.service").resolve() == unit
    # The timer was started over an ssh session that has ended: it must still revert.
    poll(lambda: r2.snapshot() == original and not (r2.state_dir / "pending").exists(), 12)
    assert "revert timer fired" in (r2.state_dir / "revert.log").read_text()
    assert "Accepted publickey for root from 10.99.0.0" in (sshd / "sshd.log").read_text()


REFUSED = """
import json, sys
from napalm.base.exceptions import ConnectionException
from napalm_frr import FrrDriver
args = json.loads(sys.argv[1])
device = FrrDriver("10.99.0.1", "root", "", timeout=10, optional_args=args)
try:
    device.open()
    print("CONNECTED")
except ConnectionException as exc:
    print(f"REFUSED {exc}")
"""


@pytest.mark.parametrize("known", ["none named", "empty", "another key"])
def test_an_unknown_host_key_is_refused(sshd: Path, lab: Lab, known: str,
                                        tmp_path: Path) -> None:
    """Scenario 7: the ssh transport used to add unknown host keys; a man in the middle (or
    a swapped box) must be refused before any password or config is sent."""
    known_hosts = tmp_path / "known_hosts"
    other = _keygen(tmp_path / "other_key") if known == "another key" else ""
    known_hosts.write_text(f"10.99.0.1 {other}\n" if other else "")
    args = {"transport": "ssh", "key_file": str(sshd / "client_key")}
    if known != "none named":  # else the user's ~/.ssh/known_hosts (here: an empty HOME)
        args["known_hosts_file"] = str(known_hosts)
    proc = subprocess.run(
        ["ip", "netns", "exec", lab.r1.ns, sys.executable, "-c", REFUSED, json.dumps(args)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO), "HOME": str(tmp_path)},
    )
    assert proc.stdout.startswith("REFUSED"), proc.stdout + proc.stderr
    assert "10.99.0.1" in proc.stdout
    assert known_hosts.read_text() == (f"10.99.0.1 {other}\n" if other else ""), \
        "nothing was added"
