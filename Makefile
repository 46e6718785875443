# One entry point per task. `make demo` and `make test` are the README's two set-up commands.
PYTHON ?= python3
PIP = $(PYTHON) -m pip install -q --disable-pip-version-check

.PHONY: install install-dev demo test lint bench

install:
	$(PIP) -e .

install-dev:
	$(PIP) -e ".[dev]"

# `python -m hub.cli` is the `cityhub` command; it works before the shell has seen the new script
# (pyenv, for one, only makes its shim on its next rehash).
demo: install
	$(PYTHON) -m hub.cli demo

test:
	bash deploy/install-deps.sh
	$(PIP) -e ".[dev]"
	$(PYTHON) -m pytest

lint:
	ruff check .
	ruff format --check .
	mypy

bench: install-dev
	$(PYTHON) -m bench
