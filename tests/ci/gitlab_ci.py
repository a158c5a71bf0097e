"""Run ``.gitlab-ci.yml`` under GitLab's semantics with gitlab-ci-local: a reusable harness.

gitlab-ci-local (pinned in package.json; ``make node`` installs it) evaluates the file as
GitLab does: workflow and job rules, ``when: manual``, stages in order, ``rules:changes``
against ``origin/<default branch>``, artifacts and caches handed from job to job. With
``--force-shell-executor --shell-isolation`` every job runs on this machine in a fresh
copy of the project's tracked files (``.gitlab-ci-local/builds/<job>``), the way a runner
starts each job from a clean checkout; images are not pulled.

A :class:`Project` is a scratch GitLab project: this repository's files (the working tree,
uncommitted changes included) committed to ``main`` in a new repository, with a bare
``origin`` to push to and ``refs/remotes/origin/main``. A job's ``git push`` (the git
state store) reaches that origin. The project's namespace (``CI_PROJECT_PATH``) comes from
a ``gcl-origin`` remote that is never contacted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline import system
from tests import conftest
from tests.conftest import REPO

GCL = REPO / "node_modules" / ".bin" / "gitlab-ci-local"
NODE_MAJOR = 20
TIMEOUT = 1200
_SUMMARY = re.compile(r"^ (PASS|FAIL|WARN) +(\S+)\s*$")
# What a job may see of this process's environment: the runner host's own settings (where
# to find CA certificates and proxies, which a TLS-inspecting network needs), nothing that
# make, pytest, a venv or a credential would leak into it. Variables reach jobs as CI
# variables (--variable).
_ENV_KEPT = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "TMPDIR", "SSL_CERT_FILE",
             "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT",
             "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
             "http_proxy", "https_proxy", "no_proxy")
GIT_IDENTITY = {"GIT_AUTHOR_NAME": "Dev One", "GIT_AUTHOR_EMAIL": "dev1@example.invalid",
                "GIT_COMMITTER_NAME": "Dev One", "GIT_COMMITTER_EMAIL": "dev1@example.invalid"}


def unavailable() -> str | None:
    """Why gitlab-ci-local cannot run here (None: it can)."""
    node = shutil.which("node")
    if node is None:
        return "node not found (apt-get install nodejs npm; gitlab-ci-local needs Node.js >= 20)"
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0] or 0) < NODE_MAJOR:
        return f"{node} is {version}; gitlab-ci-local 4.65 needs Node.js >= {NODE_MAJOR}"
    if not GCL.exists():
        return f"{GCL.relative_to(REPO)} is missing (make node: npm ci)"
    if missing := system.describe_missing([system.RSYNC]):
        return missing
    return None


def require() -> None:
    """Skip with the reason outside CI; in CI a missing tool fails the test."""
    conftest.require(unavailable(), "run .gitlab-ci.yml")


@dataclass
class Run:
    """One gitlab-ci-local run: its exit code, output, and each job's verdict."""

    returncode: int
    output: str
    jobs: dict[str, str]  # job -> PASS | FAIL | WARN (allowed to fail)
    project: Path

    def log(self, job: str) -> str:
        """The job's own log, as GitLab would show it."""
        return (self.project / ".gitlab-ci-local" / "output" / f"{job}.log").read_text()

    def artifact(self, job: str, path: str) -> Path:
        return self.project / ".gitlab-ci-local" / "artifacts" / job / path

    def assert_passed(self, *jobs: str) -> None:
        """Exactly ``jobs`` ran, every one passed, and the pipeline says so."""
        tail = "\n".join(self.output.splitlines()[-60:])
        assert sorted(self.jobs) == sorted(jobs), f"jobs run: {self.jobs}\n{tail}"
        failed = {j: v for j, v in self.jobs.items() if v != "PASS"}
        assert not failed and self.returncode == 0, f"failed: {failed}\n{tail}"


class Project:
    """A scratch GitLab project on disk (see the module's docstring)."""

    def __init__(self, path: Path, origin: Path) -> None:
        self.path, self.origin = path, origin

    @classmethod
    def create(cls, where: Path, files: Iterable[str] | None = None) -> Project:
        """``where/project`` holding this repository's files (or ``files`` only) on main."""
        path, origin = where / "project", where / "origin.git"
        path.mkdir(parents=True)
        for rel in files if files is not None else _working_tree_files():
            _copy(REPO / rel, path / rel)
        project = cls(path, origin)
        project.git("init", "-q", "-b", "main")
        project.git("add", "-A")
        project.git("commit", "-qm", "the network repository")
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
        project.git("remote", "add", "origin", str(origin))
        project.git("remote", "add", "gcl-origin", "https://gitlab.example.invalid/netops/network.git")
        project.push("main")
        project.git("remote", "set-head", "origin", "main")
        return project

    def git(self, *args: str) -> str:
        env = {**os.environ, **GIT_IDENTITY}
        proc = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True,
                              text=True, env=env)
        assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
        return proc.stdout.strip()

    def push(self, branch: str) -> None:
        """Push ``branch`` to origin and update ``refs/remotes/origin/<branch>``."""
        self.git("push", "-q", "origin", f"{branch}:{branch}")
        self.git("fetch", "-q", "origin")

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def merge_request(self, source: str, iid: int, target: str = "main") -> dict[str, str]:
        """The predefined variables of a merge-request pipeline for ``source`` (checked out)."""
        self.git("checkout", "-q", source)
        return {
            "CI_PIPELINE_SOURCE": "merge_request_event",
            "CI_MERGE_REQUEST_IID": str(iid),
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": source,
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": target,
            "CI_MERGE_REQUEST_DIFF_BASE_SHA": self.git("merge-base", f"origin/{target}", "HEAD"),
            "CI_COMMIT_REF_NAME": source,
        }

    def _argv(self, variables: Mapping[str, str], unset: Iterable[str]) -> list[str]:
        argv = [str(GCL), "--force-shell-executor",
                "--shell-isolation", "--home", str(self.path.parent / "gcl-home"),
                "--max-job-name-padding", "0"]
        # gitlab-ci-local 4.65 sets CI_PROJECT_DIR to /builds/<group>/<project> for a job
        # with an image even under --force-shell-executor, where the job runs in its copy
        # .gitlab-ci-local/builds/<job>: a cache path built on it ($CI_PROJECT_DIR/.cache)
        # would be a folder of this machine, shared by every run and owned by whoever made
        # it first. Point it at the job's copy, as a runner does (job names here are plain).
        builds = f"{self.path}/.gitlab-ci-local/builds"
        variables = {"CI_BUILDS_DIR": builds, "CI_PROJECT_DIR": f"{builds}/$CI_JOB_NAME",
                     **variables}
        for name, value in variables.items():
            argv += ["--variable", f"{name}={value}"]
        # overriding CI_PIPELINE_SOURCE & co. is the point: no warning for it
        argv += ["--ignore-predefined-vars", ",".join(variables)]
        for name in unset:
            argv += ["--unset-variable", name]
        return argv

    def _env(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in _ENV_KEPT if k in os.environ}
        return {**env, "FORCE_COLOR": "0", "NO_COLOR": "1", **GIT_IDENTITY}

    def run(self, *jobs: str, manual: Iterable[str] = (), variables: Mapping[str, str] = {},
            unset: Iterable[str] = ()) -> Run:
        """The pipeline (or only ``jobs``), with the ``manual`` jobs started by hand."""
        argv = self._argv(variables, unset)
        for job in manual:
            argv += ["--manual", job]
        proc = subprocess.run([*argv, *jobs], capture_output=True, text=True, cwd=self.path,
                              env=self._env(), timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        output = proc.stdout + proc.stderr
        verdicts = {m[2]: m[1] for m in map(_SUMMARY.match, output.splitlines()) if m}
        return Run(proc.returncode, output, verdicts, self.path)

    def jobs(self, variables: Mapping[str, str] = {}, unset: Iterable[str] = ()
             ) -> dict[str, str]:
        """Every job of the pipeline and its ``when`` (never, manual, on_success …)."""
        proc = subprocess.run([*self._argv(variables, unset), "--list-json"],
                              capture_output=True, text=True, cwd=self.path, env=self._env(),
                              timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        start = re.search(r"^\[", proc.stdout, re.M)
        assert start, proc.stdout
        listing = json.loads(proc.stdout[start.start():])
        return {job["name"]: job["when"] for job in listing}


def _working_tree_files() -> list[str]:
    """Tracked and new files of this checkout (not ignored ones: no .venv, no build)."""
    out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others",
                          "--exclude-standard"], capture_output=True, check=True).stdout
    return sorted({p for p in out.decode().split("\0") if p and os.path.lexists(REPO / p)})


def _copy(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        os.symlink(os.readlink(source), dest)
    else:
        shutil.copy2(source, dest)
