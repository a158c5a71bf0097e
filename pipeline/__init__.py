"""netpipe: YAML intent -> validated device configs -> safe, reversible deploys."""

import time

__version__ = "0.1.0"
# When this process started running netpipe (imports included): commands that report
# how long they took measure from here, so the figure is the whole command's wall clock.
STARTED = time.monotonic()
