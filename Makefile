# The few commands people use. Everything installs into .venv/ and .neo4j/ (git-ignored).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The dashboard's npm packages (web/node_modules, git-ignored); redone when the lock changes.
WEB_STAMP := web/node_modules/.installed
# Exact versions (with hashes) of every Python package: dev.lock for the venv (setup, CI),
# main.lock (the runtime subset, same versions) for the Docker image and a wheel install. `make lock` after
# editing pyproject.toml; `make upgrade [P=package]` to move to newer releases.
DEV_LOCK := requirements/dev.lock
MAIN_LOCK := requirements/main.lock
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet

.PHONY: setup demo test test-fast test-integration test-browser lint format bench neo4j-start neo4j-stop neo4j-status schema clean lock upgrade

setup: $(STAMP) $(WEB_STAMP)

# The web packages first (order only: a new web lock does not reinstall the venv): the
# project's install packs the dashboard's vendored files (pyproject.toml's force-include
# table), and a missing one stops it, editable or not.
$(STAMP): pyproject.toml $(DEV_LOCK) | $(WEB_STAMP)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r $(DEV_LOCK)
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

# Re-resolve both locks from pyproject.toml, keeping every pin that still satisfies it.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) -o $(DEV_LOCK) $(UPGRADE)
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) -c $(DEV_LOCK) -o $(MAIN_LOCK)
	$(MAKE) setup

# Newest releases pyproject.toml allows: all packages, or one with P=name.
upgrade:
	$(MAKE) lock UPGRADE="$(if $(P),--upgrade-package $(P),--upgrade)"

$(WEB_STAMP): web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund
	touch $(WEB_STAMP)

demo: setup
	$(BIN)/tracegraph demo

# Every lane (CI runs this): the slowest 25 tests are listed at the end of the output.
test: setup
	$(BIN)/tracegraph neo4j fetch
	$(BIN)/pytest -q --durations=25

# The unit lane: no Neo4j, no browser, seconds (tests/unit/conftest.py refuses a database).
test-fast: setup
	$(BIN)/pytest -q tests/unit

# The real-Neo4j suite: the service, its clients and the database (instance `test`).
test-integration: setup
	$(BIN)/tracegraph neo4j fetch
	$(BIN)/pytest -q --durations=25 tests/integration

# The dashboard in headless Chromium (/usr/bin/chromium) against a real service.
test-browser: setup
	$(BIN)/tracegraph neo4j fetch
	$(BIN)/pytest -q --durations=25 tests/browser

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	npm run --prefix web lint

format: setup
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench
	npm run --prefix web format

schema: setup
	$(BIN)/python -m tracegraph.events.schema_export

bench: setup
	$(BIN)/python bench/ingest.py

neo4j-start: setup
	$(BIN)/tracegraph neo4j start
neo4j-stop: setup
	$(BIN)/tracegraph neo4j stop
neo4j-status: setup
	$(BIN)/tracegraph neo4j status

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
