# crampbot: `make run` starts it, `make test` tests it. Both install what they need first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint check lock bench clean

run: $(VENV)/.runtime
	$(BIN)/crampbot run

test: $(VENV)/.dev
	$(BIN)/pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check bot knowledge tests bench
	$(BIN)/ruff format --check bot knowledge tests bench
	$(BIN)/mypy bot knowledge

check: lint test

bench: $(VENV)/.dev
	$(BIN)/python -m bench.search
	$(BIN)/python -m bench.build
	$(BIN)/python -m bench.interactions
	$(BIN)/python -m bench.daily_due
	$(BIN)/python -m bench.daily_fanout

# Re-pin every dependency with hashes (needs uv: `pip install uv`).
lock:
	uv pip compile pyproject.toml build-requirements.in --generate-hashes --python-version 3.11 -q -o requirements.lock
	uv pip compile pyproject.toml build-requirements.in --extra dev --generate-hashes --python-version 3.11 -q -o requirements-dev.lock

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.lock pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.dev: requirements-dev.lock pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@ $(VENV)/.runtime

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
