"""Helpers for the change commands' lab tests: a scratch network repository (a git clone
of the example network) whose routers run in a lab of its own prefix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pipeline.build import build
from pipeline.change.candidate import needed_secrets
from pipeline.cli import main
from pipeline.lab import frr, lab
from pipeline.lab.plan import LabPlan, plan
from tests.conftest import copy_example
from tests.driver.labkit import poll
from tests.lab.conftest import require_lab

ROUTERS = ["gent-core1", "hq-core1", "hq-edge1", "wh-core1"]


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert text.count(old) == 1, f"{rel}: {old!r}"
    path.write_text(text.replace(old, new))


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120.0) -> Any:
    """Poll ``check`` (every 50 ms) until it returns something truthy."""
    return poll(check, timeout, interval=0.05)


class Net:
    def __init__(self, root: Path, prefix: str) -> None:
        self.root = root
        self.prefix = prefix
        self.state = root / ".netpipe" / "state"

    def run(self, *argv: str) -> int:
        """A CLI run whose output pytest keeps (for fixtures, which have no capsys)."""
        return main([argv[0], "--root", str(self.root), *argv[1:]])

    def cli(self, *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        code = main([argv[0], "--root", str(self.root), *argv[1:]])
        out = capsys.readouterr()
        return code, out.out + out.err

    def json(self, *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
        code = main([argv[0], "--root", str(self.root), *argv[1:], "--format", "json"])
        out = capsys.readouterr().out  # stderr may carry notes
        return code, json.loads(out[out.index("{"):])

    def deploy(self, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
        return self.json("deploy", "--lab", "--yes", "--health-wait", "40", *extra,
                         capsys=capsys)

    def spawn(self, *argv: str) -> subprocess.Popen[str]:
        """A CLI run in its own process (one a test can kill)."""
        env = {**os.environ, "NETPIPE_LAB_PREFIX": self.prefix}
        return subprocess.Popen([sys.executable, "-m", "pipeline.cli", argv[0], "--root",
                                 str(self.root), *argv[1:]], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def rundir(self, device: str) -> Path:
        return lab.rundir(self.prefix, f"{self.prefix}{device}")

    def running(self, device: str) -> str:
        """What runs on a router: FRR's running config, then each kernel interface (name,
        admin state, MTU, description, IPv4 addresses) and forwarding."""
        kernel = [f"{name} {'up' if 'UP' in link['flags'] else 'down'} mtu {link['mtu']} "
                  f"alias {link.get('ifalias', '')!r} "
                  + " ".join(sorted(f"{a['local']}/{a['prefixlen']}"
                                    for a in link["addr_info"] if a["family"] == "inet"))
                  for name, link in sorted(self.links(device).items())]
        forwarding = subprocess.run(["ip", "netns", "exec", f"{self.prefix}{device}", "sysctl",
                                     "-n", "net.ipv4.ip_forward"], check=True,
                                    capture_output=True, text=True).stdout.strip()
        return (frr.vtysh(self.rundir(device), "show running-config")
                + "".join(f"# kernel: {line}\n" for line in kernel)
                + f"# kernel: ip_forward {forwarding}\n")

    def links(self, device: str) -> dict[str, dict[str, Any]]:
        """The router's links as the kernel has them (``ip -j addr``), by name."""
        def ip(*what: str) -> list[dict[str, Any]]:
            out = subprocess.run(["ip", "-n", f"{self.prefix}{device}", "-j", *what, "show"],
                                 check=True, capture_output=True, text=True).stdout
            return list(json.loads(out))

        aliases = {link["ifname"]: link.get("ifalias", "") for link in ip("link")}
        return {link["ifname"]: {**link, "ifalias": aliases.get(link["ifname"], "")}
                for link in ip("addr")}

    def plan(self) -> LabPlan:
        result = build(self.root, run_lint=False)
        assert result.ok and result.intent is not None
        return plan(result.intent, result.devices, self.prefix)

    def lab_up(self) -> None:
        result = build(self.root, run_lint=False)
        lab.up(self.plan(), lab.lab_secrets(needed_secrets(result.rendered)))


@contextmanager
def scratch_net(tmp: Path, prefix: str) -> Iterator[Net]:
    """A git repository of the example network with its lab up (routers unconfigured)."""
    require_lab()
    root = copy_example(tmp / "net")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "example network")
    the_net = Net(root, prefix)
    old = os.environ.get("NETPIPE_LAB_PREFIX")
    os.environ["NETPIPE_LAB_PREFIX"] = prefix
    lab.down(prefix)
    the_net.lab_up()
    try:
        yield the_net
    finally:
        lab.down(prefix)
        if old is None:
            del os.environ["NETPIPE_LAB_PREFIX"]
        else:
            os.environ["NETPIPE_LAB_PREFIX"] = old
