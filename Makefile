# Two targets a newcomer needs: `make serve` and `make test`. Each creates .venv on first use;
# `make serve` installs only what serving needs, `make test` adds the test, bench, postgresql, servers, redis and parity extras.
# PYTHON and VENV can be overridden, e.g. `make test PYTHON=python3.13 VENV=.venv-3.13`
# (which is how .ci/run proves the port on Quart 0.23, the release Python >= 3.13 gets).

PYTHON ?= python3
VENV ?= .venv
# One stamp per install: the test install includes the serving one, so it stamps both.
SERVE_STAMP := $(VENV)/.installed-serve
TEST_STAMP := $(VENV)/.installed-test
VERSIONS := import sys; from importlib.metadata import version as v; print(f'installed into $(VENV): Python {sys.version.split()[0]}, flask {v(\"flask\")}, quart {v(\"quart\")}, werkzeug {v(\"werkzeug\")}, granian {v(\"granian\")}, hypercorn {v(\"hypercorn\")}, gunicorn {v(\"gunicorn\")}')

.PHONY: serve test typecheck clean

serve: $(SERVE_STAMP)
	$(VENV)/bin/twinport serve

test: $(TEST_STAMP)
	$(VENV)/bin/python -m ruff check
	$(VENV)/bin/python -m ruff format --check
	$(VENV)/bin/python -m mypy
	$(VENV)/bin/python -m pytest

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip

$(SERVE_STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet -e .
	@$(VENV)/bin/python -c "$(VERSIONS)"
	touch $@

$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet -e '.[test,bench,postgresql,servers,redis,parity]'
	@$(VENV)/bin/python -c "$(VERSIONS)"
	touch $@ $(SERVE_STAMP)

clean:
	rm -rf .venv .venv-* .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
