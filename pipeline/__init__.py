"""netpipe: YAML intent -> validated device configs -> safe, reversible deploys."""

import time

__version__ = "0.1.0"
# When this process started importing netpipe: the `netpipe` command reports how long it
# took from here, so the figure is the whole command's wall clock, imports included.
STARTED = time.monotonic()
