"""The real ``.gitlab-ci.yml`` under GitLab's semantics (gitlab-ci-local, shell executor):

* a merge-request pipeline: validate and the offline preview, whose note goes to a local
  stand-in of the GitLab API; no job gets a device credential;
* a default-branch pipeline whose manual ``deploy`` and ``rollback`` jobs run against the
  namespace lab (NETPIPE_TARGET=lab), with the state store on the project's origin.

Every job must pass: a job that breaks fails the test. One scratch project and one lab
for the module; the tests run in file order.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet

from pipeline.build import build
from pipeline.change.candidate import needed_secrets
from pipeline.change.seal import KEY_VAR, Sealer, SealError
from pipeline.change.seal import PREFIX as SEALED
from pipeline.change.store import open_store
from pipeline.ci.note import MARKER
from pipeline.cli import main
from pipeline.lab import frr, lab
from pipeline.lab.plan import plan
from tests.ci import gitlab_ci
from tests.ci.gitlab_api import gitlab_stand_in
from tests.ci.gitlab_ci import Project
from tests.conftest import REPO
from tests.lab.conftest import require_lab, sub_prefix

PREFIX = sub_prefix("g")  # the lab the CI jobs deploy to (NETPIPE_LAB_PREFIX in the jobs)
BRANCH = "describe-isp"
CHANGE = ("description: Internet transit", "description: Internet transit (AS64496)")
CREDENTIALS = ("NETPIPE_USERNAME", "NETPIPE_PASSWORD", "SNMP_RO_COMMUNITY", "TACACS_KEY",
               "BGP_ISP_PASSWORD", KEY_VAR)
# The main pipeline's protected state key: a fresh test key, never a real one. The jobs get
# it as a CI variable and seal the lab's backups with it, as production jobs do.
STATE_KEY = Fernet.generate_key().decode()


def protected_variables() -> set[str]:
    """The protected CI variables, as the header of .gitlab-ci.yml lists them."""
    text = (REPO / ".gitlab-ci.yml").read_text()
    found = re.search(r"^#\s+protected \+ masked[^:]*:(.*?)^#\s+masked, not protected", text,
                      re.M | re.S)
    assert found, ".gitlab-ci.yml lists its protected variables in its header"
    return set(re.findall(r"\b[A-Z][A-Z0-9_]{2,}\b", found[1]))


def test_the_preview_job_names_no_credential() -> None:
    """GitLab gives protected variables to protected branches only, never to a
    merge-request pipeline: the preview job, and what it inherits, names none of them."""
    protected = protected_variables()
    assert set(CREDENTIALS) | {"IOS_ENABLE_HASH", "IOS_BREAKGLASS_HASH"} <= protected
    config = yaml.safe_load((REPO / ".gitlab-ci.yml").read_text())
    seen = json.dumps([config["variables"], config["default"], config["preview"]])
    assert not {name for name in protected if name in seen}
    assert "NETPIPE_GITLAB_TOKEN" not in protected  # the note's token opens no device


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """This repository as a GitLab project on main, and a merge-request branch that
    describes the ISP uplink (one intent line; hq-edge1 changes)."""
    gitlab_ci.require()
    project = Project.create(tmp_path_factory.mktemp("gitlab"))
    project.git("checkout", "-q", "-b", BRANCH)
    edit(project.path / "intent" / "topology.yaml", *CHANGE)
    project.git("commit", "-qam", "Describe the ISP uplink with its AS number")
    project.push(BRANCH)
    project.git("checkout", "-q", "main")
    return project


def test_which_jobs_each_event_gets(project: Project) -> None:
    assert project.jobs() == {"validate": "on_success", "test": "never", "preview": "never",
                              "deploy": "manual", "rollback": "manual", "drift": "never"}
    mr = project.merge_request(BRANCH, iid=7)
    try:
        jobs = project.jobs(mr, unset=["CI_COMMIT_BRANCH"])
    finally:
        project.git("checkout", "-q", "main")
    # an intent-only merge request does not run the tool's own suite (rules:changes)
    assert jobs == {"validate": "on_success", "test": "never", "preview": "on_success",
                    "deploy": "never", "rollback": "never", "drift": "never"}


def test_merge_request_pipeline_posts_the_offline_preview(project: Project) -> None:
    leaked = {name: "leaked-" + name.lower() for name in CREDENTIALS}
    os.environ.update(leaked)  # the harness must not hand this process's environment on
    try:
        with gitlab_stand_in([{"id": 1, "body": "Looks fine to me"}]) as api:
            variables = {**project.merge_request(BRANCH, iid=7), "CI_API_V4_URL": api.url,
                         "NETPIPE_GITLAB_TOKEN": "glpat-stand-in"}
            run = project.run(variables=variables, unset=["CI_COMMIT_BRANCH"])
    finally:
        for name in leaked:
            del os.environ[name]
        project.git("checkout", "-q", "main")
    run.assert_passed("validate", "preview")
    base = project.git("rev-parse", "main")[:12]
    preview = run.log("preview")
    assert "netpipe diff --offline: intended configs" in preview
    assert "=== hq-edge1: +2 -2" in preview and "=== wh-core1: no change" in preview
    assert "merge-request note created" in preview
    assert not any(value in run.output for value in leaked.values())
    body = api.bodies()[1]
    assert api.bodies()[0] == "Looks fine to me" and body.startswith(MARKER)
    assert "+ neighbor 198.51.100.1 description Internet transit (AS64496)" in body
    assert f"#### Blast radius since `{base}`" in body and "intent/topology.yaml:18" in body
    assert "<secret:BGP_ISP_PASSWORD>" in body  # context line: a placeholder, no value
    assert {c[2] for c in api.calls} == {"glpat-stand-in"}
    assert any("/merge_requests/7/notes" in c[1] for c in api.calls)
    note = run.artifact("preview", "build/diff/summary.md").read_text()
    assert body == f"{MARKER}\n{note}"


def records_id(project: Project, index: int) -> str:
    return str(open_store(project.path, "git").deployments()[index]["id"])


@pytest.fixture(scope="module")
def ci_lab(project: Project) -> Iterator[str]:
    """The lab for the CI jobs, running main as deployed before the merge (the state
    store on origin holds that deployment and its backups)."""
    require_lab()
    root = project.path
    result = build(root, run_lint=False)
    assert result.ok and result.intent is not None
    labplan = plan(result.intent, result.devices, PREFIX)
    lab.down(PREFIX)
    lab.up(labplan, lab.lab_secrets(needed_secrets(result.rendered)))
    saved = {name: os.environ.get(name) for name in ("NETPIPE_LAB_PREFIX", KEY_VAR)}
    os.environ.update({"NETPIPE_LAB_PREFIX": PREFIX, KEY_VAR: STATE_KEY})
    try:
        assert main(["deploy", "--lab", "--yes", "--root", str(root), "--state", "git",
                     "--batch-size", "4", "--health-wait", "60"]) == 0
        yield PREFIX
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        lab.down(PREFIX)


def test_default_branch_pipeline_deploys_and_rolls_back_the_lab(project: Project,
                                                               ci_lab: str) -> None:
    before = project.head()
    project.git("merge", "-q", "--ff-only", BRANCH)
    project.push("main")
    run = project.run(manual=["deploy", "rollback"],
                      variables={"NETPIPE_TARGET": "lab", "NETPIPE_LAB_PREFIX": ci_lab,
                                 KEY_VAR: STATE_KEY})
    run.assert_passed("validate", "deploy", "rollback")

    deploy = run.log("deploy")
    live_diff = deploy.index("=== hq-edge1: +2 -2")
    assert live_diff < deploy.index("comparing 4 device(s)")  # the dry-run diff comes first
    assert "deployed to 1 device(s)" in deploy
    rollback = run.log("rollback")
    assert (f"to the backups taken before deployment {records_id(project, 1)} (revision "
            f"{project.head()[:12]}") in rollback
    assert f"rolled back 1 device(s) to the config before {records_id(project, 1)}" in rollback
    assert "verify passed" in rollback and "rollback took " in rollback
    assert "\x1b" not in deploy + rollback  # a job log is no terminal: no escape codes
    assert STATE_KEY not in run.output + deploy + rollback

    running = frr.vtysh(lab.rundir(ci_lab, f"{ci_lab}hq-edge1"), "show running-config")
    assert " neighbor 198.51.100.1 description Internet transit\n" in running
    # the jobs kept their records on origin's netpipe-state branch, as GitLab jobs must
    records = open_store(project.path, "git").deployments()
    assert [r["kind"] for r in records] == ["deploy", "deploy", "rollback"]
    assert records[1]["revision"] == project.head() != before
    assert records[2]["restored_from"] == records[1]["id"]
    # the deploy job sealed its backup with the pipeline's key, not the lab's default one
    store = open_store(project.path, "git")
    backup = store.load_backup(records[1]["id"], "hq-edge1")
    assert backup.startswith(SEALED) and "Internet transit" not in backup
    assert "Internet transit" in Sealer(STATE_KEY).open(backup)
    with pytest.raises(SealError):
        Sealer.for_lab({}).open(backup)
