# cxloop: `make demo` runs the whole loop on demo data; `make test` runs the tests.
SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SCALE  ?= 1

# usage statistics: off by importing cxloop (cxloop.OFFLINE_ENV, docs/security.md)

.PHONY: install demo serve test lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/cxloop demo --fresh --scale $(SCALE)

# A Prefect server, a process worker (prefect.yaml deployed) and the webhook receivers, on
# 127.0.0.1; Ctrl-C stops them. SOURCES is the folder of exports with its cxloop.yaml.
SOURCES ?= var/demo/sources
serve: $(STAMP)
	CXLOOP_PROJECT_DIR=$(CURDIR) $(BIN)/cxloop serve --sources $(SOURCES)

# The suite runs in TEST_WORKERS processes (pytest-xdist), a test file to one process, so a
# module's fixtures (a built warehouse, a pipeline run) are built once; each process starts
# its own Prefect test server. TEST_WORKERS=0 runs it in this process.
# DuckDB's bindings print nanobind "leaked ..." notes at interpreter exit, after pytest's
# summary; they are noise (objects alive at shutdown), so they are dropped here.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/ruff check .
	set -o pipefail; $(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile 2>&1 | awk '!/^nanobind: |^ - leaked |^ - \.\.\. skipped remainder|^See https:\/\/nanobind/'

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

# Benchmarks (not tests): each prints its measurement; record them in docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run --scale $(SCALE)
	$(BIN)/python -m benchmarks.run --scale 10 --first-only
	$(BIN)/python -m benchmarks.demo --scale $(SCALE) --repeat 3
	$(BIN)/python -m benchmarks.ingest --scale $(SCALE)
	$(BIN)/python -m benchmarks.churn --score --train
	$(BIN)/python -m benchmarks.playbooks --rows 100000
	$(BIN)/python -m benchmarks.moment --responses 100
	$(BIN)/python -m benchmarks.identity --scale 10 --home var/bench/identity-scale10
	$(BIN)/python -m benchmarks.pull_zendesk --tickets 100000

clean:
	rm -rf var dbt_project/target dbt_project/logs .pytest_cache
