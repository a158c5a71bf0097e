# netpipe: two commands, `make demo` and `make test`; both set up everything first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Every package whose files the code runs (pipeline/system.py names each file; a test holds
# this list to it). frr-pythontools holds frr-reload.py: frr only recommends it.
APT_PACKAGES := frr frr-pythontools nftables iproute2 procps util-linux openssh-server git \
	python3-venv rsync ifupdown2 mount chrony snmpd snmp rsyslog dnsmasq-base busybox
# Debian's own Python (3.11.2 on Debian 12) unless told otherwise: what a fresh runner has.
PYTHON ?= $(if $(wildcard /usr/bin/python3),/usr/bin/python3,python3)
# The resolver that writes requirements.lock (`make lock`); the lock pins the uv that installs it.
UV_VERSION := 0.13.9

.PHONY: setup system venv node demo test test-newest check lint typecheck golden lock clean \
	bench

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
	  echo "note: not root, so not installing:$$missing (apt-get install$$missing; FRR/nftables lint and the lab need them)"; \
	fi

# .venv from requirements.lock (hashes checked); rebuilt when the interpreter changes.
venv:
	@./scripts/setup-venv "$(PYTHON)" "$(VENV)"

# gitlab-ci-local (package.json, package-lock.json) for the tests that run .gitlab-ci.yml.
node:
	@./scripts/setup-node

# Validate and render the example network; as root, the whole change story in the lab.
demo: setup
	./scripts/demo.sh

check: lint typecheck

lint: venv
	$(VENV)/bin/ruff check pipeline napalm_frr tests benchmarks

typecheck: venv
	$(VENV)/bin/mypy

test: setup node check
	$(PY) -m pytest

# The same suite on a second interpreter: the newest CPython installed here (tox-style).
test-newest:
	@newest=$$($(PYTHON) scripts/newest-python $(PYTHON)) || { echo "test-newest: no second interpreter, nothing run"; exit 1; }; \
	echo "test-newest: the suite on $$newest, in .venv-newest"; \
	$(MAKE) --no-print-directory test PYTHON=$$newest VENV=.venv-newest

# Benchmarks on generated estates (minutes; never part of `make test`): docs/benchmarks.md
# and docs/benchmarks-estate.png. Ansible and matplotlib live in .venv-bench only.
BENCH_SIZES ?= 1000,2000,5000
BENCH_RUNS ?= 3
bench: setup
	@test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install -q -r benchmarks/requirements.txt
	$(PY) -m benchmarks.bench_estate --sizes $(BENCH_SIZES) --runs $(BENCH_RUNS) \
	  --ansible .venv-bench/bin/ansible-playbook --plot-python .venv-bench/bin/python \
	  --write docs/benchmarks.md

# Regenerate the golden configs after an intended template or intent change; review the diff.
golden: venv
	$(PY) -m pytest tests/test_golden.py --update-golden -q

# Re-resolve requirements.lock from pyproject.toml (every Python from 3.11 on, with hashes).
lock:
	@test -x .venv-lock/bin/uv || { $(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install -q uv==$(UV_VERSION); }
	.venv-lock/bin/uv pip compile pyproject.toml --extra dev --group build --group tools --universal \
	  --python-version 3.11 --generate-hashes --no-config --custom-compile-command "make lock" \
	  -o requirements.lock

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
