"""Change safety under faults (issue 11), each scenario against the lab's real routers:
a fault the network had before the deploy, a deploy job killed between batches and
between commit and confirm, a restore that fails, and the state store failing once
devices were changed.

One lab and one network repository for the module; every test leaves the routers on the
intent of ``main`` (the repository's HEAD).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from pipeline.build import build
from pipeline.change.candidate import candidate, needed_secrets
from pipeline.change.deploy import Deployment
from pipeline.change.journal import DeployResult
from pipeline.change.rollback import Rollback
from pipeline.change.seal import Sealer
from pipeline.change.store import GitStore, open_store
from pipeline.change.targets import lab_targets, nornir_for
from pipeline.lab import frr, lab
from pipeline.verify.run import Report
from tests.ios_standin import REJECT, Device, standin, target
from tests.lab.conftest import sub_prefix
from tests.lab.netkit import ROUTERS, Net, edit, git, scratch_net, wait_for

pytestmark = pytest.mark.lab
PREFIX = sub_prefix("f")
WAN = ("intent/topology.yaml", "description: WAN gent-hq}")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    with scratch_net(tmp_path_factory.mktemp("faults"), PREFIX) as the_net:
        assert the_net.run("deploy", "--lab", "--yes", "--batch-size", "4") == 0
        yield the_net


def record(net: Net, dep_id: str | None = None) -> dict[str, Any]:
    records = open_store(net.root).deployments()
    return next(r for r in records if r["id"] == dep_id) if dep_id else records[-1]


def running_record(net: Net, job: subprocess.Popen[str], pred: Any) -> dict[str, Any] | None:
    """The record of ``job``'s deploy (still running) once its devices satisfy ``pred``
    (a killed job's record stays ``running``: never mistake an earlier one for it)."""
    folder = net.state / "deployments"
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        if data.get("result") == "running" and str(data.get("who", "")).endswith(
                f" pid {job.pid}") and pred(data.get("devices", {})):
            return dict(data)
    return None


def change_wan_description(net: Net, text: str) -> None:
    edit(net.root, *WAN, WAN[1].replace("gent-hq}", f"gent-hq {text}}}"))
    git(net.root, "commit", "-qam", f"WAN description: {text}")


@pytest.fixture(autouse=True)
def _base(net: Net, capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    git(net.root, "tag", "-f", "base", "HEAD")
    yield
    git(net.root, "reset", "-q", "--hard", "base")
    open_store(net.root).break_lock("test cleanup")  # a killed job's
    code, out = net.deploy(capsys, "--batch-size", "4")
    assert code == 0, out


# ------------------------------------------------------------------ 9. faults from before


def test_a_fault_present_before_the_deploy_does_not_fail_it(
        net: Net, capsys: pytest.CaptureFixture[str]) -> None:
    """The ISP session is down before the deploy: the last batch must not be blamed for it
    (and reverted while the canary stays), and the rollback's verify, which sees the
    fault, must not exit 0."""
    isp = next(p for p in net.plan().peers if p.name == "isp")
    peer = lab.rundir(PREFIX, isp.ns)
    frr.vtysh(peer, "configure terminal", f"router bgp {isp.asn}",
              f"neighbor {isp.neighbor} shutdown")
    try:
        change_wan_description(net, "primary")
        code, out = net.deploy(capsys, "--canary", "gent-core1", "--batch-size", "1")
        assert code == 0, out["message"]
        assert out["batches"] == [["gent-core1"], ["hq-core1"]]
        assert {h: d["state"] for h, d in out["devices"].items()
                if d["state"] != "unchanged"} == {"gent-core1": "new", "hq-core1": "new"}
        assert "present before the deploy remain" in out["message"]
        assert "bgp 198.51.100.1" in out["message"]
        code, text = net.cli("rollback", "--lab", capsys=capsys)
        assert "verify FAILED" in text
        assert code == 1, text  # 8. a rollback whose verify failed does not exit 0
    finally:
        frr.vtysh(peer, "configure terminal", f"router bgp {isp.asn}",
                  f"no neighbor {isp.neighbor} shutdown")


# ------------------------------------------------------------------ 2. a reboot


def test_a_reboot_in_the_confirm_window_boots_the_old_config(
        net: Net, capsys: pytest.CaptureFixture[str]) -> None:
    """Power cut on hq-core1 while its commit waits for the confirm: it must come back on
    the confirmed routing config with its zone firewall, nothing pending, and take the next
    change."""
    ns = f"{PREFIX}hq-core1"
    nft = ["ip", "netns", "exec", ns, "nft", "-s", "list", "table", "inet", "netpipe"]
    before = net.running("hq-core1"), subprocess.run(nft, capture_output=True, text=True).stdout
    assert "chain forward" in before[1]
    change_wan_description(net, "rebooted")
    job = net.spawn("deploy", "--lab", "--yes", "--batch-size", "4", "--confirm-timeout", "300",
                    "--health-wait", "40")
    try:
        dep = wait_for("a commit awaiting its confirm", lambda: running_record(
            net, job, lambda d: d.get("hq-core1", {}).get("state") == "pending"))
    finally:
        job.kill()  # the runner goes too: nobody will confirm
        job.communicate()
    assert "rebooted" in net.running("hq-core1")
    assert net.run("lab", "reboot", "--device", "hq-core1") == 0
    after = net.running("hq-core1"), subprocess.run(nft, capture_output=True, text=True).stdout
    assert after == before, "booted on the confirmed config, zone firewall loaded"
    assert not list((net.rundir("hq-core1") / "netpipe").glob("pending*"))
    # The other device of the batch still waits for its timer: the rollback takes it back
    # now, and finds hq-core1 already where it should be.
    code, text = net.cli("rollback", "--lab", "--force", capsys=capsys)
    assert code == 0, text
    assert f"before deployment {dep['id']}" in text
    states = {h: d["state"] for h, d in record(net)["devices"].items()}
    assert states == {"gent-core1": "old", "hq-core1": "unchanged"}


# ------------------------------------------------------------------ 5. killed jobs


def test_a_job_killed_between_batches_is_what_rollback_undoes(
        net: Net, capsys: pytest.CaptureFixture[str]) -> None:
    before = {h: net.running(h) for h in ("gent-core1", "hq-core1")}
    change_wan_description(net, "killed")
    job = net.spawn("deploy", "--lab", "--yes", "--canary", "gent-core1", "--batch-size", "1",
                    "--confirm-timeout", "30", "--health-wait", "40")
    try:
        dep = wait_for("the canary to be confirmed", lambda: running_record(
            net, job, lambda d: d.get("gent-core1", {}).get("state") == "new"))
    finally:
        job.kill()
        job.communicate()
    assert sorted(dep["backups"]) == ["gent-core1", "hq-core1"]
    assert len(dep["revision"]) == 40, "the record names the intent's commit id"
    code, text = net.cli("rollback", "--lab", capsys=capsys)
    assert code == 2 and "locked by" in text, "the dead job's lock holds until broken"
    code, text = net.cli("rollback", "--lab", "--force", capsys=capsys)
    assert code == 0, text
    assert f"before deployment {dep['id']}" in text
    assert {h: net.running(h) for h in before} == before
    assert record(net)["kind"] == "rollback" and record(net)["restored_from"] == dep["id"]


def test_a_job_killed_between_commit_and_confirm(
        net: Net, capsys: pytest.CaptureFixture[str]) -> None:
    before = {h: net.running(h) for h in ("gent-core1", "hq-core1")}
    change_wan_description(net, "unconfirmed")
    job = net.spawn("deploy", "--lab", "--yes", "--batch-size", "4", "--confirm-timeout", "3",
                    "--health-wait", "40")
    try:
        dep = wait_for("a commit awaiting its confirm", lambda: running_record(
            net, job, lambda d: any(x.get("state") == "pending" for x in d.values())))
    finally:
        job.kill()
        job.communicate()
    pending = sorted(h for h, d in dep["devices"].items() if d["state"] == "pending")
    assert pending == ["gent-core1", "hq-core1"]
    # Nobody confirms: each device reverts itself when its timer runs out.
    wait_for("the revert timers", lambda: not any(
        list((net.rundir(h) / "netpipe").glob("pending*")) for h in before), timeout=60)
    assert {h: net.running(h) for h in before} == before
    # The next run reads the devices: already on the backups, nothing to do.
    code, text = net.cli("rollback", "--lab", "--force", capsys=capsys)
    assert code == 0, text
    assert f"before deployment {dep['id']}" in text
    undo = record(net)
    assert {h: d["state"] for h, d in undo["devices"].items()} == {
        "gent-core1": "unchanged", "hq-core1": "unchanged"}


# ------------------------------------------------------------------ 3. two pipelines


def test_two_deploys_and_a_rollback_racing(net: Net, capsys: pytest.CaptureFixture[str]) -> None:
    """Deploy A holds the lock; deploy B and a plain rollback are refused; ``rollback --force``
    breaks A's lock and restores. A must not touch another device after that: the network
    ends as the rollback left it, not half of A's change."""
    before = {h: net.running(h) for h in ROUTERS}
    edit(net.root, "intent/firewall.yaml", "default: {action: deny, log: true}",
         "default: {action: deny, log: false}")
    git(net.root, "commit", "-qam", "drop-logging off")
    a = net.spawn("deploy", "--lab", "--yes", "--canary", "gent-core1", "--batch-size", "1",
                  "--confirm-timeout", "10", "--health-wait", "40")
    try:
        store = open_store(net.root)
        wait_for("A to hold the lock", lambda: (held := store.lock_info()) is not None
                 and held.holder.endswith(f" pid {a.pid}"))
        b = net.spawn("deploy", "--lab", "--yes", "--health-wait", "40")
        out_b, _ = b.communicate(timeout=120)
        assert b.returncode == 2 and "refused: the network is locked by" in out_b, out_b
        code, text = net.cli("rollback", "--lab", capsys=capsys)
        assert code == 2 and "locked by" in text
        dep = wait_for("A's canary confirmed", lambda: running_record(
            net, a, lambda d: d.get("gent-core1", {}).get("state") == "new"))
        code, text = net.cli("rollback", "--lab", "--force", capsys=capsys)
        assert code == 0, text
        assert "broke the lock held by" in text and f"before deployment {dep['id']}" in text
        out_a, _ = a.communicate(timeout=300)
    finally:
        if a.poll() is None:
            a.kill()
            a.communicate()
    assert a.returncode == 4, out_a
    assert "lock" in out_a and "broken" in out_a
    mine = record(net, dep["id"])
    assert mine["result"] == "failed"
    untouched = [h for h, d in mine["devices"].items() if "not attempted" in d["detail"]
                 or "not committed" in d["detail"]]
    assert untouched, mine["devices"]
    # A commit A made after the break (if any) reverts by its own timer.
    wait_for("no commit pending", lambda: not any(
        list((net.rundir(h) / "netpipe").glob("pending*")) for h in ROUTERS), timeout=60)
    assert {h: net.running(h) for h in ROUTERS} == before
    events = open_store(net.root).events()
    assert events[-1]["event"] == "lock broken" and events[-1]["lock"]["reason"].startswith(
        "deploy")


# ------------------------------------------------------------------ 6. origin is down


def test_rollback_with_origin_unreachable(net: Net, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    git(net.root, "remote", "add", "origin", str(origin))
    gone = tmp_path / "origin-down.git"
    try:
        before = net.running("hq-core1")
        change_wan_description(net, "origin-down")
        code, out = net.deploy(capsys, "--batch-size", "4")  # the git store, on origin
        assert code == 0, out
        dep = out["id"]
        origin.rename(gone)
        code, text = net.cli("rollback", "--lab", capsys=capsys)
        assert code == 2 and "rollback --offline" in text, text
        code, text = net.cli("rollback", "--lab", "--offline", capsys=capsys)
        assert code == 0, text
        assert f"before deployment {dep}" in text and "merges it there" in text
        assert net.running("hq-core1") == before
        gone.rename(origin)
        assert net.run("lock") == 0  # any run that reaches origin reconciles
        other = tmp_path / "other"
        subprocess.run(["git", "clone", "-q", str(origin), str(other)], check=True)
        kinds = {r["id"]: r["kind"] for r in GitStore(other, push=True).deployments()}
        assert kinds[dep] == "deploy" and "rollback" in kinds.values()
        rollback = [r for r in GitStore(other, push=True).deployments()
                    if r["kind"] == "rollback"][-1]
        assert rollback["restored_from"] == dep and rollback["note"].startswith("offline")
    finally:
        if gone.exists():
            gone.rename(origin)
        git(net.root, "remote", "remove", "origin")


# ------------------------------------------------------------------ 7. a rotated secret


def test_a_rotated_secret_shows_neither_value(net: Net, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """BGP_ISP_PASSWORD is rotated: hq-edge1 still runs the old value, the environment holds
    the new one. Diff, merge-request note and drift must show neither."""
    old = lab.lab_secrets({"BGP_ISP_PASSWORD"})["BGP_ISP_PASSWORD"]
    assert old in net.running("hq-edge1")
    new = "R0tated-n3w-Pw"
    monkeypatch.setenv("BGP_ISP_PASSWORD", new)
    code, out = net.json("diff", "--lab", capsys=capsys)
    assert code == 0
    diff = out["hosts"]["hq-edge1"]["diff"]
    assert "-  neighbor 198.51.100.1 password <secret:masked>" in diff.splitlines() or \
        " neighbor 198.51.100.1 password <secret:masked>" in diff, diff
    written = [json.dumps(out), *(p.read_text() for p in (net.root / "build/diff").iterdir())]
    code, drift = net.cli("drift", "--lab", "--format", "markdown", capsys=capsys)
    assert code == 1 and "hq-edge1" in drift
    for text in (*written, drift):
        assert old not in text and new not in text


# ------------------------------------------------------------------ 1. routers and IOS switches


SWITCHES = ("hq-sw1", "hq-sw2")
UPLOAD = "scp flash:/candidate_config.txt"
"""What the stand-in records for NAPALM's SCP upload of the candidate."""
CHANGES = ("scp ", "copy ", "configure replace", "configure confirm", "configure revert",
           "write mem")


def changes(device: Device) -> list[str]:
    """The commands that change the switch (its flash, running or startup config), in
    order; the reads between them (show, dir, verify) are left out."""
    return [c for c in device.commands if c.startswith(CHANGES)]


# A dry run before the deploy: upload, compare, then NAPALM's discard (the candidate file
# becomes a copy of the running config again).
PREFLIGHT = [UPLOAD, "copy running-config flash:/candidate_config.txt",
             "copy null: flash:/merge_config.txt"]
COMMIT = [UPLOAD, "copy running-config flash:/rollback_config.txt",
          "configure replace flash:/candidate_config.txt force revert trigger error timer 2"]
CONFIRM = ["configure confirm", "write mem"]
RESTORE = [UPLOAD, "copy running-config flash:/rollback_config.txt",
           "configure replace flash:/candidate_config.txt force revert trigger error",
           "write mem"]
"""The emergency rollback's way back: the backup as a replace with no timer, saved."""


@contextmanager
def router_and_switches(net: Net, tmp_path: Path, reject: tuple[str, ...] = ()
                        ) -> Iterator[tuple[Deployment, dict[str, Device], dict[str, str]]]:
    """hq-core1 in the lab (the canary, a batch of its own) and hq-sw1 and hq-sw2, each on an
    IOS SSH STAND-IN of its own (tests/ios_standin), in the next batch; all reached through
    Nornir and NAPALM's real drivers. Yields the deployment of a change to all three, the
    stand-ins' devices and each switch's config before the change; a switch in ``reject``
    refuses its candidate at the replace."""
    result = build(net.root, run_lint=False)
    secrets = lab.lab_secrets(needed_secrets(result.rendered))
    configs = {"hq-core1": candidate(result.rendered["hq-core1"], secrets).replace(
        "ip ospf cost 10", "ip ospf cost 11", 1)}
    devices: dict[str, Device] = {}
    before: dict[str, str] = {}
    with ExitStack() as stack:
        targets = lab_targets(PREFIX, ["hq-core1"])
        for name in SWITCHES:
            before[name] = candidate(result.rendered[name], secrets)
            after = before[name].replace("snmp-server location", "snmp-server location (rack 2)")
            configs[name] = after + (f"{REJECT}\n" if name in reject else "")
            devices[name] = Device(name, before[name], username="netops", password="sw-pw")
            targets[name] = target(stack.enter_context(standin(devices[name])), tmp_path)
        deployment = Deployment(
            nornir_for(targets), open_store(net.root), configs,
            {h: "frr" if h == "hq-core1" else "ios" for h in configs}, secrets,
            lambda **_: Report(), "", Sealer.for_lab(), say=lambda _: None,
            canary=["hq-core1"], batch_size=2)
        yield deployment, devices, before


def _undo(deployment: Deployment) -> DeployResult:
    return Rollback(deployment.nr, deployment.store, deployment.seal, lab.lab_secrets).run()


def test_a_change_to_a_router_and_two_ios_switches_lands_whole(net: Net, tmp_path: Path
                                                               ) -> None:
    """Scenario 1: NAPALM's ios driver refuses any commit message, so the switch batch used to
    fail after the router canary was confirmed: half the change stayed. Now the router and
    both switches land, each switch by exactly: upload, replace with a revert timer, confirm,
    save; the emergency rollback restores all three, each switch by a replace with its
    backup."""
    with router_and_switches(net, tmp_path) as (deployment, switches, before):
        result = deployment.run()
        assert result.exit_code == 0, result.lines()
        assert {h: o.state for h, o in result.outcomes.items()} == {
            "hq-core1": "new", "hq-sw1": "new", "hq-sw2": "new"}
        assert result.batches == [["hq-core1"], ["hq-sw1", "hq-sw2"]]
        for name, switch in switches.items():
            assert changes(switch) == PREFLIGHT + COMMIT + CONFIRM, name
            assert switch.running == deployment.configs[name]
            assert "(rack 2)" in switch.startup and switch.pending is None
            switch.commands.clear()
        undo = _undo(deployment)
        assert undo.exit_code == 0, undo.lines()
        assert {h: o.state for h, o in undo.outcomes.items()} == {
            "hq-core1": "old", "hq-sw1": "old", "hq-sw2": "old"}
        for name, switch in switches.items():
            assert changes(switch) == RESTORE, name
            assert switch.running.strip() == before[name].strip()  # NAPALM strips what it reads
            assert switch.startup == switch.running
        assert "ip ospf cost 11" not in net.running("hq-core1")


def test_a_switch_that_fails_reverts_its_batch_only(net: Net, tmp_path: Path) -> None:
    """hq-sw2 refuses its candidate at the replace: hq-sw1, committed in the same batch, is
    reverted by the device itself (configure revert now) and read back on its old config;
    the router, confirmed in the batch before, stays on the new one and the report says so
    per device. The rollback then undoes the router, so no half change is left."""
    with router_and_switches(net, tmp_path, reject=("hq-sw2",)) as (deployment, switches,
                                                                    before):
        result = deployment.run()
        assert result.exit_code == 4, result.lines()
        assert {h: o.state for h, o in result.outcomes.items()} == {
            "hq-core1": "new", "hq-sw1": "old", "hq-sw2": "old"}, result.lines()
        assert "commit failed on hq-sw2" in result.message
        assert "ip ospf cost 11" in net.running("hq-core1")
        # the check that the switch is back on its backup: upload it, compare, discard
        check = PREFLIGHT
        assert changes(switches["hq-sw1"]) == PREFLIGHT + COMMIT + [
            "configure revert now", "write mem", *check]  # NAPALM saves what it reverted to
        assert changes(switches["hq-sw2"]) == PREFLIGHT + COMMIT + check
        for name, switch in switches.items():
            assert switch.running == before[name] and switch.pending is None, name
            assert "configure confirm" not in switch.commands
            switch.commands.clear()
        undo = _undo(deployment)
        assert undo.exit_code == 0, undo.lines()
        assert undo.outcomes["hq-core1"].state == "old"
        assert {undo.outcomes[h].state for h in SWITCHES} == {"unchanged"}
        assert "ip ospf cost 11" not in net.running("hq-core1")
        for switch in switches.values():
            assert not [c for c in changes(switch) if c.startswith("configure ")]


# ------------------------------------------------------------------ 4. a restore that fails


def _deployment(net: Net, health: Any, store: Any = None) -> Deployment:
    result = build(net.root, run_lint=False)
    secrets = lab.lab_secrets(needed_secrets(result.rendered))
    configs = {h: candidate(result.rendered[h], secrets) for h in ROUTERS}
    return Deployment(nornir_for(lab_targets(PREFIX, ROUTERS)), store or open_store(net.root),
                      configs, {h: "frr" for h in ROUTERS}, secrets, health, "",
                      Sealer.for_lab(), say=lambda _: None, batch_size=4)


def test_a_restore_that_fails_is_reported_as_seen(net: Net) -> None:
    """The health check fails; reverting gent-core1 fails too because its routing daemons
    died. The report must say what is known: not ``old``, and no timer promised (the
    revert cancelled it before it failed)."""
    edit(net.root, *WAN, WAN[1].replace("gent-hq}", "gent-hq restore-fails}"))
    rundir = net.rundir("gent-core1")
    calls: list[bool] = []

    def health(*, probes: bool, settled: Any = None) -> Report:
        calls.append(probes)
        if len(calls) == 1:
            return Report()  # the baseline
        frr.stop_frr(rundir)
        return Report(errors={"gent-core1": "routing daemons died (test)"})

    try:
        result = _deployment(net, health).run()
        out = result.outcomes["gent-core1"]
        assert result.exit_code == 4
        assert out.state == "unknown", out
        assert "ROLLBACK FAILED" in out.detail and "timer will fire" not in out.detail
        assert not (rundir / "netpipe" / "pending").exists(), "the timer really is cancelled"
        assert result.outcomes["hq-core1"].state == "old"
    finally:
        frr.start_frr(f"{PREFIX}gent-core1", rundir)


# ------------------------------------------------------------------ 8. the store fails


def test_a_store_failure_after_devices_changed_keeps_the_table(
        net: Net, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    git(net.root, "remote", "add", "origin", str(origin))
    edit(net.root, *WAN, WAN[1].replace("gent-hq}", "gent-hq store-fails}"))
    gone = tmp_path / "origin-unplugged.git"
    calls: list[bool] = []

    def health(*, probes: bool, settled: Any = None) -> Report:
        calls.append(probes)
        if len(calls) == 2:  # after the commit: origin goes away
            origin.rename(gone)
        return Report()

    try:
        result = _deployment(net, health, GitStore(net.root, push=True)).run()
        assert result.exit_code == 6, result.lines()
        assert result.store_error
        assert {h: o.state for h, o in result.outcomes.items()
                if o.state != "unchanged"} == {"gent-core1": "old", "hq-core1": "old"}
        assert any(line.startswith("STATE STORE FAILED") for line in result.lines())
    finally:
        if gone.exists():
            gone.rename(origin)
        GitStore(net.root, push=True).break_lock("test cleanup")
        git(net.root, "remote", "remove", "origin")
