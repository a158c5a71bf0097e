"""The harness itself: a job that breaks is a failed run, whatever else passed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.ci import gitlab_ci
from tests.ci.gitlab_ci import Project

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
