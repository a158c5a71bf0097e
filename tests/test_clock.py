"""The `netpipe` command's "took N s" counts from the process start, not from its imports."""

from __future__ import annotations

import subprocess
import sys


def test_the_clock_starts_with_the_process() -> None:
    # whatever ran before netpipe was imported (here a pause) is part of the command's time;
    # a lower bound only, so load on the machine cannot make it fail
    code = ("import time; time.sleep(1.0); import pipeline; "
            "print(time.monotonic() - pipeline.STARTED)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) >= 1.0
