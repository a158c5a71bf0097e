"""The harness itself: a job that breaks is a failed run, whatever else passed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ci import gitlab_ci
from tests.ci.gitlab_ci import Project
from tests.conftest import REPO

PIPELINE = """\
stages: [build, check]
default:
  image: debian:12
builds:
  stage: build
  script: [echo built > out.txt]
  artifacts: {paths: [out.txt]}
breaks:
  stage: check
  script: [cat out.txt, exit 3]
by-hand:
  stage: check
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
      when: manual
  script: [echo "by hand"]
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    gitlab_ci.require()
    project = Project.create(tmp_path, files=[".gitignore"])
    (project.path / ".gitlab-ci.yml").write_text(PIPELINE)
    project.git("add", "-A")
    project.git("commit", "-qm", "a pipeline with a broken job")
    project.push("main")
    return project


def test_a_broken_job_fails_the_run(project: Project) -> None:
    run = project.run()
    assert run.returncode != 0
    assert run.jobs == {"builds": "PASS", "breaks": "FAIL"}  # the manual job waits
    assert "built" in run.log("breaks")  # the artifact reached the next stage
    with pytest.raises(AssertionError, match=re.escape("failed: {'breaks': 'FAIL'}")):
        run.assert_passed("builds", "breaks")


def test_manual_jobs_run_only_when_started(project: Project) -> None:
    assert project.jobs()["by-hand"] == "manual"
    run = project.run("by-hand", manual=["by-hand"])
    run.assert_passed("by-hand")
    assert "by hand" in run.log("by-hand")


def test_a_job_runs_in_its_own_project_dir(project: Project) -> None:
    """$CI_PROJECT_DIR is the job's own copy of the project, as on a runner, also for a
    job with an image: paths built on it (caches) stay inside the scratch project."""
    (project.path / ".gitlab-ci.yml").write_text(PIPELINE.replace(
        "script: [echo built > out.txt]", 'script: [echo "dir=$CI_PROJECT_DIR pwd=$PWD"]'))
    project.git("commit", "-qam", "print the project dir")
    run = project.run("builds")
    run.assert_passed("builds")
    found = re.search(r"dir=(/\S*) pwd=(/\S*)", run.log("builds"))
    assert found, run.log("builds")
    assert found[1] == found[2] == str(project.path / ".gitlab-ci-local" / "builds" / "builds")


# ------------------------------------------------- the real .gitlab-ci.yml, one job broken

def real_pipeline_with(broken: str) -> str:
    """The repository's ``.gitlab-ci.yml`` (its workflow, rules, stages, manual jobs) with
    every job's set-up and script cut to an echo, and ``broken``'s script failing: the
    pipeline tests' verdicts, in seconds instead of minutes."""
    config: dict[str, Any] = yaml.safe_load((REPO / ".gitlab-ci.yml").read_text())
    config["default"]["before_script"] = ["echo set up"]
    jobs = [name for name, job in config.items() if isinstance(job, dict) and "script" in job]
    assert broken in jobs, jobs
    for name in jobs:
        config[name]["script"] = ["exit 1"] if name == broken else [f"echo {name} ran"]
    return yaml.safe_dump(config, sort_keys=False)


def project_with(tmp_path: Path, broken: str) -> Project:
    """A project on main running the real pipeline with ``broken`` broken, and a
    merge-request branch ``change`` that edits one intent file."""
    project = Project.create(tmp_path, files=[".gitignore", "intent/topology.yaml"])
    (project.path / ".gitlab-ci.yml").write_text(real_pipeline_with(broken))
    project.git("add", "-A")
    project.git("commit", "-qm", f"the real pipeline, {broken} broken")
    project.push("main")
    project.git("checkout", "-q", "-b", "change")
    topology = project.path / "intent" / "topology.yaml"
    topology.write_text(topology.read_text() + "# a change\n")
    project.git("commit", "-qam", "a change")
    project.push("change")
    project.git("checkout", "-q", "main")
    return project


@pytest.mark.parametrize(("broken", "ran"), [
    ("validate", {"validate": "FAIL"}),  # the preview waits for validate, as on GitLab
    ("preview", {"validate": "PASS", "preview": "FAIL"}),
])
def test_a_broken_job_fails_the_merge_request_pipeline(tmp_path: Path, broken: str,
                                                       ran: dict[str, str]) -> None:
    gitlab_ci.require()
    project = project_with(tmp_path, broken)
    try:
        run = project.run(variables=project.merge_request("change", iid=1),
                          unset=["CI_COMMIT_BRANCH"])
    finally:
        project.git("checkout", "-q", "main")
    assert run.returncode != 0 and run.jobs == ran, run.output[-3000:]
    with pytest.raises(AssertionError, match=f"'{broken}': 'FAIL'"):
        run.assert_passed("validate", "preview")  # what the pipeline tests demand


@pytest.mark.parametrize(("broken", "ran"), [
    ("deploy", {"validate": "PASS", "deploy": "FAIL"}),  # no rollback after a failed stage
    ("rollback", {"validate": "PASS", "deploy": "PASS", "rollback": "FAIL"}),
])
def test_a_broken_job_fails_the_default_branch_pipeline(tmp_path: Path, broken: str,
                                                        ran: dict[str, str]) -> None:
    gitlab_ci.require()
    project = project_with(tmp_path, broken)
    run = project.run(manual=["deploy", "rollback"])
    assert run.returncode != 0 and run.jobs == ran, run.output[-3000:]
    with pytest.raises(AssertionError, match=f"'{broken}': 'FAIL'"):
        run.assert_passed("validate", "deploy", "rollback")
