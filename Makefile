# crampbot: `make run` starts it, `make test` tests it. Both install what they need first.
# Any Python from 3.11 to 3.13: `make test PYTHON=python3.13`. The venv remembers which Python
# made it and is made anew when another one is asked for.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
PY_TAG := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)

.PHONY: run test test-fast lint check lock bench clean

run: $(VENV)/.runtime
	$(BIN)/crampbot run

# The whole suite, on every core (pytest-xdist). `make test-fast` leaves out the tests marked
# slow (processes killed and restarted, fan-outs paced at Discord's rate) for a quick inner loop;
# CI runs everything.
test: $(VENV)/.dev
	$(BIN)/pytest -n auto $(PYTEST_ARGS)

test-fast: $(VENV)/.dev
	$(BIN)/pytest -n auto -m "not slow" $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check bot knowledge tests bench
	$(BIN)/ruff format --check bot knowledge tests bench
	$(BIN)/mypy bot knowledge tests bench

check: lint test

bench: $(VENV)/.dev
	$(BIN)/python -m bench.search
	$(BIN)/python -m bench.build
	$(BIN)/python -m bench.interactions
	$(BIN)/python -m bench.daily_due
	$(BIN)/python -m bench.daily_fanout

# Re-pin every dependency with hashes, in one universal lock for every supported Python and
# platform (markers such as `python_full_version >= '3.13'` pick what each needs). uv is itself
# a locked dev dependency. Existing pins are kept unless pyproject.toml needs others; delete a
# lock first to move everything to the newest versions.
UV_COMPILE := $(BIN)/uv pip compile pyproject.toml build-requirements.in --universal \
	--python-version 3.11 --generate-hashes --no-emit-index-url --no-emit-find-links -q
lock: $(VENV)/.dev
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --extra dev -o requirements-dev.lock

$(VENV)/.python-$(PY_TAG):
	@test -n "$(PY_TAG)" || { echo "make: '$(PYTHON)' is not a Python I can run; try PYTHON=python3.11" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' \
		|| { echo "make: crampbot supports Python 3.11 to 3.13; $(PYTHON) is $(PY_TAG)" >&2; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	touch $@

$(VENV)/.runtime: requirements.lock pyproject.toml $(VENV)/.python-$(PY_TAG)
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.dev: requirements-dev.lock pyproject.toml $(VENV)/.python-$(PY_TAG)
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@ $(VENV)/.runtime

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
