"""The change commands end to end against the lab: the merge-request story, a device
that rejects its config, a change that breaks reachability, drift, the emergency
rollback (to the backups and to a git revision), and two deploys at once.

One lab and one git repository for the whole module; the tests run in file order and
each leaves the network on a known config.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from pipeline.build import build
from pipeline.change.candidate import candidate, needed_secrets
from pipeline.change.deploy import Deployment
from pipeline.change.seal import Sealer
from pipeline.change.store import open_store
from pipeline.change.targets import lab_targets, nornir_for
from pipeline.lab import frr, lab
from tests.lab.conftest import sub_prefix
from tests.lab.netkit import ROUTERS, Net, edit, git, scratch_net

pytestmark = pytest.mark.lab
PREFIX = sub_prefix("c")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    with scratch_net(tmp_path_factory.mktemp("change"), PREFIX) as the_net:
        yield the_net


def deploy(net: Net, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    return net.json("deploy", "--lab", "--yes", "--health-wait", "40", *extra, capsys=capsys)


def test_first_deploy_configures_every_router(net: Net, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = deploy(net, capsys, "--canary", "hq-edge1", "--batch-size", "2")
    assert code == 0, out
    assert out["batches"][0] == ["hq-edge1"]
    assert {h: d["state"] for h, d in out["devices"].items()} == {h: "new" for h in ROUTERS}
    # nothing passed before this deploy, so nothing pre-existing may be blamed; the last
    # health check waits for routing to converge instead of reporting it half-way
    assert "present before the deploy" not in out["message"], out["message"]
    assert out["health"]["ok"], out["health"]
    assert "router ospf" in net.running("gent-core1")
    records = open_store(net.root).deployments()
    assert records[-1]["result"] == "ok" and sorted(records[-1]["backups"]) == ROUTERS


def test_second_deploy_commits_nothing(net: Net, capsys: pytest.CaptureFixture[str]) -> None:
    before = len(open_store(net.root).deployments())
    code, out = deploy(net, capsys)
    assert code == 0
    assert out["message"].startswith("nothing to deploy")
    assert all(d["state"] == "unchanged" for d in out["devices"].values())
    records = open_store(net.root).deployments()
    assert len(records) == before + 1 and records[-1]["backups"] == []


QA_VLAN = "  - {id: 330, name: QA-LAB, zone: quality, subnet: 10.3.30.0/24}\n"


def test_merge_request_story(net: Net, capsys: pytest.CaptureFixture[str]) -> None:
    edit(net.root, "intent/sites/warehouse.yaml", "  - {id: 399, name: MGMT",
         QA_VLAN + "  - {id: 399, name: MGMT")
    edit(net.root, "intent/topology.yaml", 'vlans: "310,320,399"', 'vlans: "310,320,330,399"')
    edit(net.root, "intent/firewall.yaml", "  scanners: {description: Warehouse handheld scanners}",
         "  scanners: {description: Warehouse handheld scanners}\n"
         "  quality: {description: Quality lab instruments}")
    edit(net.root, "intent/firewall.yaml", "  - name: nvr-pulls-cameras",
         "  - name: quality-reports\n    from: quality\n    to: servers\n    services: https\n"
         "  - name: nvr-pulls-cameras")
    code, out = net.json("diff", "--lab", "--base", "HEAD", capsys=capsys)
    assert code == 0, out
    hosts = out["hosts"]
    assert sorted(h for h, d in hosts.items() if d["changed"]) == ROUTERS
    wh = hosts["wh-core1"]["diff"]
    assert "+interface eth3.330" in wh  # FRR: OSPF on it
    assert "+iface eth3.330" in wh and "+    address 10.3.30.1/24" in wh  # the interface
    assert "+net.ipv4.conf.eth3/330.rp_filter = 1" in wh
    for router in ROUTERS:
        diff = hosts[router]["diff"]
        assert "+\t\tip saddr @z_quality ip daddr @z_servers tcp dport 443 accept" \
               ' comment "quality-reports"' in diff, router
        removed = [x for x in diff.splitlines() if x.startswith("-") and not x.startswith("---")]
        # only set elements re-wrap (the internal set gains 10.3.30.0/24); no rule goes
        assert not [x for x in removed if "accept" in x or "drop" in x], router
    assert out["skipped"]["wh-sw1"].startswith("not emulated")
    blast = out["blast_radius"]
    assert {c["file"] for c in blast["changes"]} == {
        "intent/sites/warehouse.yaml", "intent/topology.yaml", "intent/firewall.yaml"}
    summary = (net.root / "build/diff/summary.md").read_text()
    assert "| `wh-core1` | frr | changed |" in summary
    assert (net.root / "build/diff/wh-core1.diff").read_text() == wh

    net.lab_up()  # the lab gains the new VLAN's segment and test hosts (the switch side)
    assert "eth3.330" not in net.links("wh-core1"), "the lab never makes a router interface"
    code, out = deploy(net, capsys)
    assert code == 0, out
    assert "10.3.30.1" in str(net.links("wh-core1")["eth3.330"]["addr_info"])
    code, report = net.json("verify", "--lab", capsys=capsys)
    assert code == 0 and report["ok"], report
    qa = [p for p in report["probes"] if p["src_zone"] == "quality" and p["dst_zone"] == "servers"
          and p["service"] == "tcp/443"]
    assert qa and all(p["passed"] and p["ok"] for p in qa)
    code, out = net.json("diff", "--lab", capsys=capsys)
    assert code == 0 and not any(d["changed"] for d in out["hosts"].values())
    git(net.root, "commit", "-qam", "QA lab VLAN")


def test_device_rejecting_its_config_rolls_back_the_batch(net: Net) -> None:
    result = build(net.root)
    assert result.ok
    secrets = lab.lab_secrets(needed_secrets(result.rendered))
    configs = {h: candidate(result.rendered[h], secrets) for h in ROUTERS}
    configs["wh-core1"] = configs["wh-core1"].replace("router ospf\n", "router ospf\n frobnicate\n")
    before = {h: net.running(h) for h in ROUTERS}
    changed = dict(configs)
    changed["hq-core1"] = changed["hq-core1"].replace("ip ospf cost 10", "ip ospf cost 11", 1)
    targets = lab_targets(PREFIX, ROUTERS)
    messages: list[str] = []
    outcome = Deployment(nornir_for(targets), open_store(net.root), changed,
                         {h: "frr" for h in ROUTERS}, secrets, _no_health, "",
                         Sealer.for_lab(), say=messages.append, batch_size=4).run()
    assert outcome.exit_code == 4
    assert outcome.outcomes["wh-core1"].state == "old"
    assert "frobnicate" in outcome.outcomes["wh-core1"].detail
    assert all(o.state in ("old", "unchanged") for o in outcome.outcomes.values())
    assert "wh-core1" in outcome.message
    assert {h: net.running(h) for h in ROUTERS} == before


def _no_health(*, probes: bool, settled: object = None) -> object:
    from pipeline.verify.run import Report

    return Report()


def test_breaking_change_is_caught_and_reverted(net: Net,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    before = net.running("hq-core1")
    # A typo that passes validation: 10.3.10.0/24 (the scanners) for 10.30.10.0/24.
    edit(net.root, "intent/routing.yaml", "static_routes:\n",
         "static_routes:\n  - {device: hq-core1, prefix: 10.3.10.0/24, next_hop: blackhole}\n")
    try:
        code, out = deploy(net, capsys)
        assert code == 4, out
        assert out["devices"]["hq-core1"]["state"] == "old"
        assert "health check failed" in out["message"]
        assert "probe scanners->servers" in out["message"]
        # the blackhole route swallows the packets: nobody refuses them
        assert "probe scanners->servers tcp/443 got no answer, intended open" in out["message"]
        assert "refused" not in out["message"]
        assert net.running("hq-core1") == before
    finally:
        git(net.root, "checkout", "--", "intent/routing.yaml")


def test_drift_names_the_hand_changed_device(net: Net, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = net.json("drift", "--lab", capsys=capsys)
    assert code == 0, out
    frr.vtysh(lab.rundir(PREFIX, f"{PREFIX}wh-core1"), "configure terminal",
              "interface eth1", "ip ospf cost 55")
    code, out = net.json("drift", "--lab", capsys=capsys)
    assert code == 1
    assert [h for h, d in out["hosts"].items() if d["changed"]] == ["wh-core1"]
    assert "ip ospf cost 55" in out["hosts"]["wh-core1"]["diff"]
    code, _ = deploy(net, capsys)  # back to the intent
    assert code == 0
    assert net.json("drift", "--lab", capsys=capsys)[0] == 0


def test_rollback_restores_every_backup_byte_for_byte(net: Net,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    good = git(net.root, "rev-parse", "--short=12", "HEAD")
    edit(net.root, "intent/firewall.yaml",
         "  - name: scanners-to-wms\n    from: scanners\n    to: wms\n    services: https\n", "")
    git(net.root, "commit", "-qam", "drop the WMS rule (bad)")
    code, out = deploy(net, capsys)
    assert code == 0, out
    store = open_store(net.root)
    record = store.deployments()[-1]
    code, text = net.cli("rollback", "--lab", capsys=capsys)
    assert code == 0, text
    assert "verify passed" in text
    # it names the deployment it undoes, restores to the backups taken before it, and
    # verifies against the intent those backups came from (the good revision)
    assert f"to the backups taken before deployment {record['id']}" in text
    assert f"rolled back 4 device(s) to the config before {record['id']}: restored in " in text
    assert f"verify passed (intent of {good}) in " in text
    assert "network now: 4 restored" in text and "rollback took " in text
    secrets = lab.lab_secrets({"BGP_ISP_PASSWORD"})
    targets = lab_targets(PREFIX, ROUTERS)
    for host in record["backups"]:
        params = lab.napalm_params(PREFIX, host)
        import napalm

        drv = napalm.get_network_driver("frr")(params["hostname"], "", "",
                                               optional_args=params["optional_args"])
        drv.open()
        try:
            running = drv.get_config(retrieve="running")["running"]
        finally:
            drv.close()
        sealed = store.load_backup(record["id"], host)
        assert sealed.startswith("netpipe-sealed:v1:") and "\n" not in sealed.strip()
        assert secrets["BGP_ISP_PASSWORD"] not in sealed and "router " not in sealed
        assert running == Sealer.for_lab().open(sealed), host
    assert targets
    git(net.root, "revert", "--no-edit", "HEAD")
    assert git(net.root, "rev-parse", "--short=12", "HEAD~2") == good


def test_rollback_to_a_revision(net: Net, capsys: pytest.CaptureFixture[str]) -> None:
    first = git(net.root, "rev-list", "--max-parents=0", "HEAD")
    code, text = net.cli("rollback", "--lab", "--to", first, "--health-wait", "40",
                         capsys=capsys)
    assert code == 0, text
    assert "eth3.330" not in net.running("wh-core1")
    assert "eth3.330" not in net.links("wh-core1"), "the VLAN removed is gone from the box"
    code, out = net.json("diff", "--lab", capsys=capsys)  # HEAD still has the QA VLAN
    assert code == 0 and out["hosts"]["wh-core1"]["changed"]
    assert deploy(net, capsys)[0] == 0
    assert "eth3.330" in net.running("wh-core1")
    assert "eth3.330" in net.links("wh-core1")


def test_concurrent_deploys_one_is_refused(net: Net) -> None:
    edit(net.root, "intent/topology.yaml", "description: WAN gent-hq}",
         "description: WAN gent-hq primary}")
    env = {**os.environ, "NETPIPE_LAB_PREFIX": PREFIX}
    argv = [sys.executable, "-m", "pipeline.cli", "deploy", "--lab", "--yes",
            "--root", str(net.root), "--health-wait", "40"]
    store = open_store(net.root)
    before = len(store.deployments())
    first = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    deadline = time.monotonic() + 30
    while store.lock_info() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    holder = store.lock_info()
    assert holder is not None
    second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    out_first, _ = first.communicate(timeout=120)
    assert first.returncode == 0, out_first
    assert second.returncode == 2
    assert "refused" in second.stdout + second.stderr
    assert holder.holder in second.stdout + second.stderr
    records = store.deployments()[before:]
    assert [r["result"] for r in records] == ["ok"]
    git(net.root, "commit", "-qam", "description")


def test_stale_lock_needs_force(net: Net, capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store(net.root)
    stale = store.acquire_lock("crashed-runner pid 1", "deploy abc")
    code, text = net.cli("rollback", "--lab", capsys=capsys)
    assert code == 2 and "crashed-runner pid 1" in text
    code, text = net.cli("rollback", "--lab", "--force", capsys=capsys)
    assert code == 0, text
    assert "broke the lock held by crashed-runner pid 1" in text
    assert any("crashed-runner pid 1" in json.dumps(e) for e in store.events())
    assert store.lock_info() is None or store.lock_info() != stale
    assert deploy(net, capsys)[0] == 0
