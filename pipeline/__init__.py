"""netpipe: YAML intent -> validated device configs -> safe, reversible deploys."""

import os
import time

__version__ = "0.1.0"


def _process_age() -> float:
    """Seconds since this process started (Linux's /proc); 0.0 where that is unknown."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # starttime, field 22 of proc(5), counted from the state
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME)
                   - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


# When this process started, on time.monotonic()'s clock: the `netpipe` command reports how
# long it took from here, so the figure is the whole command's wall clock, interpreter
# start-up and imports included (what `time netpipe …` says).
STARTED = time.monotonic() - _process_age()
