"""Benchmarks: how long the pipeline's steps take on the example network.

    sudo .venv/bin/python -m benchmarks.bench_pipeline [--runs N] [--write docs/benchmarks.md]

Offline steps run anywhere; the lab steps (lab up, first deploy, verify, emergency
rollback) need root. Each figure is the median of N runs with min and max, measured
on this machine; nothing here is asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.build import build
from pipeline.change.candidate import needed_secrets
from pipeline.lab import lab
from pipeline.lab.plan import plan

REPO = Path(__file__).resolve().parent.parent
PREFIX = "npb-"


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def netpipe(root: Path, *args: str) -> None:
    env = {**os.environ, "NETPIPE_LAB_PREFIX": PREFIX}
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", *args, "--root", str(root)],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"netpipe {' '.join(args)}: exit {proc.returncode}\n{proc.stdout}"
                           f"{proc.stderr}")


def row(name: str, values: list[float], note: str = "") -> str:
    return (f"| {name} | {statistics.median(values):.2f} s | {min(values):.2f} s | "
            f"{max(values):.2f} s | {len(values)} | {note} |")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", help="write the Markdown table to this file")
    args = parser.parse_args()
    rows = [row("validate (load, rules, render, lint 10 devices)",
                timed(lambda: build(REPO), args.runs), "vtysh and nft checks included"),
            row("render without lint", timed(lambda: build(REPO, run_lint=False), args.runs))]
    if os.geteuid() == 0 and shutil.which("vtysh"):
        result = build(REPO, run_lint=False)
        assert result.intent is not None
        labplan = plan(result.intent, result.devices, PREFIX)
        secrets = lab.lab_secrets(needed_secrets(result.rendered))

        def cold_up() -> None:
            lab.down(PREFIX)
            lab.up(labplan, secrets)

        rows.append(row(f"lab up, cold ({len(labplan.namespaces)} namespaces)",
                        timed(cold_up, args.runs), "target: under 10 s"))
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "net"
            for part in ("intent", "inventory", "templates"):
                shutil.copytree(REPO / part, root / part)
            firewall = root / "intent" / "firewall.yaml"
            original = firewall.read_text()
            rule = "  - name: scanners-to-wms\n    from: scanners\n    to: wms\n" \
                   "    services: https\n"
            deploys, changes, rollbacks, verifies = [], [], [], []
            deploy = ("deploy", "--lab", "--yes", "--batch-size", "4")
            for _ in range(args.runs):
                cold_up()
                shutil.rmtree(root / ".netpipe", ignore_errors=True)
                firewall.write_text(original)
                deploys += timed(lambda: netpipe(root, *deploy), 1)
                verifies += timed(lambda: netpipe(root, "verify", "--lab"), 1)
                firewall.write_text(original.replace(rule, ""))
                changes += timed(lambda: netpipe(root, *deploy), 1)
                rollbacks += timed(lambda: netpipe(root, "rollback", "--lab"), 1)
            rows.append(row("first deploy, 4 unconfigured routers in one batch", deploys,
                            "diff, backups, commit-confirm, health checks with 180+ probes"))
            rows.append(row("verify --lab", verifies, "OSPF, BGP, routes, probe matrix"))
            rows.append(row("deploy a one-rule firewall change, 4 routers", changes,
                            "same safety steps"))
            rows.append(row("emergency rollback of that change, 4 routers", rollbacks,
                            "restore + verify incl. probes; target: a few seconds"))
        lab.down(PREFIX)
    table = "\n".join([
        "| step | median | min | max | runs | note |",
        "| --- | ---: | ---: | ---: | ---: | --- |", *rows])
    text = (f"# Benchmarks\n\nMeasured with `sudo .venv/bin/python -m benchmarks.bench_pipeline"
            f"` on {platform.node() and 'this machine'}: {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {platform.system()} {platform.release()}.\n\n"
            f"{table}\n")
    print(text)
    if args.write:
        Path(args.write).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
