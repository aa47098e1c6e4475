# Two commands do everything on a fresh machine: `make run` (the job, locally) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)

.PHONY: help install run demo up down logs seed-providers replay test test-fast lint bench bench-scheduler bench-scale bench-publish services clients clean

help:
	@echo "make run             set up everything and run provider sync + model sync once (local mode)"
	@echo "make demo            the same, offline, against the replay server of recorded provider APIs"
	@echo "make up              a real local Airflow (UI on :8080 or PORT; DEMO=1 for the replay server); make down, make logs"
	@echo "make seed-providers  migrate the catalog schema and upsert the provider registry"
	@echo "make test            the whole test suite (needs PostgreSQL and Redis on loopback; starts them)"
	@echo "make lint            ruff"
	@echo "make bench           the sync benchmark at 25,000+ models, through dag.test"
	@echo "make bench-scheduler the same catalog through real deployments (LocalExecutor, CeleryExecutor) vs a no-op DAG"
	@echo "make bench-scale     one provider of 22,000 then 100,000 models through dag.test (peak RSS and their ratio, data path vs floor)"
	@echo "make bench-publish   the catalog publish at 25,000+ models to a folder (first, unchanged, alone in a fresh process)"

$(STAMP): requirements.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m include.gatewayz_sync.dev.local run $(if $(STRICT),--strict)

demo: $(STAMP)
	$(BIN)/python -m include.gatewayz_sync.dev.local demo $(if $(STRICT),--strict)

up: $(STAMP)
	$(BIN)/python -m include.gatewayz_sync.dev.up up $(if $(filter-out 0,$(DEMO)),--demo) $(if $(PORT),--port $(PORT))

down: $(STAMP)
	$(BIN)/python -m include.gatewayz_sync.dev.up down

logs: $(STAMP)
	$(BIN)/python -m include.gatewayz_sync.dev.up logs

seed-providers: $(STAMP)
	$(BIN)/python -m include.gatewayz_sync.dev.local seed-providers

replay: $(STAMP)
	$(BIN)/python -m include.gatewayz_sync.dev.replay --port $(or $(PORT),9000)

services:
	@scripts/ensure-services

# The real LiteLLM and OpenAI clients that read the published catalog in the tests: a venv of their own, hash-pinned.
clients:
	@scripts/ensure-client-venv

test: $(STAMP) services clients
	@scripts/ensure-test-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP) services
	$(BIN)/python -m benchmarks.sync_benchmark $(if $(PROFILE),--profile)

bench-scheduler: $(STAMP) services
	$(BIN)/python -m benchmarks.sync_benchmark --scheduler $(if $(PROFILE),--profile)

bench-scale: $(STAMP) services
	$(BIN)/python -m benchmarks.sync_benchmark --scale-point

bench-publish: $(STAMP) services
	$(BIN)/python -m benchmarks.sync_benchmark --publish

clean:
	rm -rf $(VENV) .local .pytest_cache .ruff_cache
