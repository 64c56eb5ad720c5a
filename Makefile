# npo-access. The README's two commands are `make run` and `make test`; both run `make setup` first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
# Debian packages the project runs: OpenLDAP's server and client tools, Chromium for the browser journeys, and nginx
# and openssl for the cluster profile's TLS proxy and OCSP responder (issue 16).
DEB_PACKAGES := slapd ldap-utils chromium nginx openssl
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help setup system-packages python-env run run-cluster test bench mutation lint clean

help:
	@echo "make run    - set up and start the whole system with demo data (Ctrl-C stops it)"
	@echo "make test   - set up, run ruff and mypy (make lint), then every test"
	@echo "make lint   - set up and run ruff and mypy only"
	@echo "make bench  - run the benchmarks"
	@echo "make mutation - mutation testing of the core rule modules (long; not part of make test)"
	@echo "make setup  - only install what is needed (idempotent)"

setup: system-packages python-env

system-packages:
	@missing=""; \
	command -v slapd >/dev/null || [ -x /usr/sbin/slapd ] || missing="$$missing slapd"; \
	command -v ldapadd >/dev/null || missing="$$missing ldap-utils"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing \
	    || { echo "apt-get install failed; install$$missing yourself and run make again"; exit 1; }; \
	fi

python-env:
	@if [ ! -x $(UV) ] || [ "$$($(UV) --version | cut -d' ' -f2)" != "$(UV_VERSION)" ]; then \
	  python3 -m venv $(TOOLS) && $(TOOLS)/bin/pip install -q "uv==$(UV_VERSION)"; fi
	@$(UV) sync --locked --python python3 -q

run: setup
	$(VENV)/bin/npo run

run-cluster: setup  ## the cluster profile (issue 16): two replicating slapds, PostgreSQL, nginx with SITHS mTLS and OCSP
	$(VENV)/bin/npo run --cluster

test: lint  ## make lint first; then two workers (2 cores): each file on one worker, every Prefect test on the same one (tests/conftest.py)
	$(VENV)/bin/pytest -n 2 --dist loadgroup --durations=30

bench: setup  ## long: the HR sync at 50,000 persons, the gate (decide + HTTP), 500 orders through Prefect
	$(PY) bench/sync.py --persons 50000 --json
	$(PY) bench/gate.py --json
	$(PY) bench/orders.py --orders 500 --json
	$(PY) bench/cluster.py --json

mutation: setup  ## long: mutmut over each core rule module with its own tests (tests/mutation/targets.py)
	nice -n 10 $(PY) -m tests.mutation.run $(MODULES)

lint: setup  ## ruff, and mypy over the packages with the configuration in pyproject.toml (D-51)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	-$(VENV)/bin/npo catalog stop
	rm -rf var
