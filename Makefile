# One entry point per task. `make demo` and `make test` are the README's two set-up commands.
#
# Everything installs into a virtual environment, never into the system Python (Debian and
# Ubuntu refuse that anyway: PEP 668). An active one ($VIRTUAL_ENV) is used as it is; otherwise
# the project's own .venv is made with $(PYTHON) (the distribution's python3 by default).
# System packages the commands need (python3-venv, Mosquitto, the test servers) come from
# deploy/install-deps.sh: installed when run as root, named with the exact command otherwise.
PYTHON ?= python3
ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := $(CURDIR)/.venv
endif
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check -c constraints.txt

.PHONY: venv install install-dev demo test lint bench chaos constraints clean-venv

venv: $(PY)

$(PY):
	@bash deploy/install-deps.sh venv "$(PYTHON)"
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when the project's requirements change.
$(VENV)/.cityhub-installed: pyproject.toml constraints.txt | $(PY)
	$(PIP) -e .
	@touch $@

$(VENV)/.cityhub-dev-installed: pyproject.toml constraints.txt | $(PY)
	$(PIP) -e ".[dev]"
	@touch $@ $(VENV)/.cityhub-installed

install: $(VENV)/.cityhub-installed

install-dev: $(VENV)/.cityhub-dev-installed

# `python -m hub.cli` is the `cityhub` command. The port: CITYHUB_API__PORT, else 8080.
demo: install
	@bash deploy/install-deps.sh demo
	$(PY) -m hub.cli demo

test: install-dev
	@bash deploy/install-deps.sh test
	$(PY) -m pytest

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: install-dev
	$(PY) -m bench

# The reliability experiments (about 15 minutes; root for the disk ones): figures in
# chaos/results/latest.md. CI runs the short variant through tests/test_chaos.py.
chaos: install-dev
	$(PY) -m chaos

# Re-resolve pyproject.toml's ranges in a throw-away environment and pin the result.
constraints:
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
	{ sed -n '1,/^# Refresh/p' constraints.txt; \
	  .venv-constraints/bin/python -m pip freeze --exclude-editable | grep -v '^cityhub'; \
	} > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .venv-constraints

clean-venv:
	rm -rf .venv
