# Two targets a newcomer needs: `make serve` and `make test`. Each creates .venv on first use.
# PYTHON and VENV can be overridden, e.g. `make test PYTHON=python3.13 VENV=.venv-3.13`
# (which is how .ci/run proves the port on Quart 0.23, the release Python >= 3.13 gets).

PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed

.PHONY: serve test typecheck clean

serve: $(STAMP)
	$(VENV)/bin/twinport serve

test: $(STAMP)
	$(VENV)/bin/python -m ruff check
	$(VENV)/bin/python -m ruff format --check
	$(VENV)/bin/python -m mypy
	$(VENV)/bin/python -m pytest

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	@$(VENV)/bin/python -c "import sys, flask, quart, werkzeug; from importlib.metadata import version as v; print(f'installed into $(VENV): Python {sys.version.split()[0]}, flask {v(\"flask\")}, quart {v(\"quart\")}, werkzeug {v(\"werkzeug\")}, hypercorn {v(\"hypercorn\")}, gunicorn {v(\"gunicorn\")}')"
	touch $@

clean:
	rm -rf .venv .venv-* .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
