"""``make demo`` for a user who is not root: validate and render, then one line saying
what needs root, exit 0 (README), and no lab touched. CI runs as root, where the demo's
lab part runs instead; this keeps the other path honest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, copy_example


def test_demo_as_another_user_stops_after_render_with_one_line(tmp_path: Path) -> None:
    # A copy of the repository's demo with this interpreter's venv, and an `id` that says
    # uid 1001: the script decides by `id -u`, so root runs the non-root path too.
    checkout = copy_example(tmp_path / "checkout")
    (checkout / "scripts").mkdir()
    shutil.copy2(REPO / "scripts" / "demo.sh", checkout / "scripts" / "demo.sh")
    (checkout / ".venv").symlink_to(Path(sys.prefix))
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "id").write_text('#!/bin/sh\n[ "$1" = -u ] && echo 1001 || echo "uid=1001(dev)"\n')
    (fake / "id").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "NO_COLOR": "1"}
    proc = subprocess.run(["bash", str(checkout / "scripts" / "demo.sh")], env=env,
                          capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "$ netpipe validate" in out and "rendered 10 device(s)" in out
    lines = proc.stdout.rstrip().splitlines()
    reason = lines[-1]
    assert lines[-2] == ""  # one line, after a blank one
    assert reason.startswith("demo: stopped after render") and "needs root" in reason, reason
    assert "sudo make demo" in reason
    assert "Traceback" not in out and "lab up" not in out and "\x1b" not in out
    assert not (checkout / "build" / "demo").exists()  # nothing of the lab part ran
