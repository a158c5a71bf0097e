"""netpipe: YAML intent -> validated device configs -> safe, reversible deploys."""

__version__ = "0.1.0"
