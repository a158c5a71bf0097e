# netpipe: two commands, `make demo` and `make test`; both set up everything first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
NETPIPE := $(VENV)/bin/netpipe
# Every package whose files the code runs (pipeline/system.py names each file; a test holds
# this list to it). frr-pythontools holds frr-reload.py: frr only recommends it.
APT_PACKAGES := frr frr-pythontools nftables iproute2 procps util-linux openssh-server git \
	python3-venv
# Debian's own Python (3.11.2 on Debian 12) unless told otherwise: what a fresh runner has.
PYTHON ?= $(if $(wildcard /usr/bin/python3),/usr/bin/python3,python3)

.PHONY: setup system venv demo test check lint typecheck golden clean

setup: system venv

# Debian packages for the lab and for linting rendered configs (vtysh, nft).
# Installed when run as root; otherwise say what is missing and go on.
system:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "note: not root, so not installing:$$missing (FRR/nftables lint and the lab need them)"; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# Validate and render the example network; as root, the whole change story in the lab.
demo: setup
	./scripts/demo.sh

check: lint typecheck

lint: venv
	$(VENV)/bin/ruff check pipeline napalm_frr tests benchmarks

typecheck: venv
	$(VENV)/bin/mypy

test: setup check
	$(PY) -m pytest

# Regenerate the golden configs after an intended template or intent change; review the diff.
golden: venv
	$(PY) -m pytest tests/test_golden.py --update-golden -q

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
