# Kaiping government data platform — every entry point. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed

# Let Python cache bytecode in .venv: Airflow imports thousands of modules.
unexport PYTHONDONTWRITEBYTECODE

DEMO_ARGS ?=
PYTEST_ARGS ?=
BENCH_ROWS ?= 1000000

.PHONY: help
help: ## List every target
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --python $(BIN)/python --quiet -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps -e .
	touch $(STAMP)

.PHONY: venv
venv: $(STAMP) ## Create .venv from the pinned lock (requirements.lock)

.PHONY: demo
demo: $(STAMP) broker ## Run the platform on the embedded default: simulate Kaiping, ingest every resource (DEMO_ARGS="--fresh")
	$(BIN)/govlake demo $(DEMO_ARGS)

.PHONY: broker
broker: ## Install Debian's mosquitto (the embedded MQTT broker's binary) if it is missing
	./.ci/install-broker

.PHONY: test
test: lint browser ## Run the whole test suite (real PostgreSQL, S3 endpoint, MariaDB, Airflow, Chromium)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

.PHONY: browser
browser: ## Install Debian's chromium (the quality report's browser test) if it is missing
	./.ci/install-browser

.PHONY: lint
lint: $(STAMP) ## ruff, sqlfluff on the dbt models, dbt files in sync, and a scan for secrets
	$(BIN)/ruff check include dags tests
	$(BIN)/ruff format --check include dags tests
	$(BIN)/govlake dbt sync --check
	$(BIN)/govlake quality sync --check
	$(BIN)/govlake dbt lint
	git ls-files -z | grep -zvE '^(requirements\.lock|\.secrets\.baseline)$$' | \
	  xargs -0 $(BIN)/detect-secrets-hook --baseline .secrets.baseline

.PHONY: format
format: $(STAMP) ## Format the code with ruff
	$(BIN)/ruff check --fix include dags tests
	$(BIN)/ruff format include dags tests

.PHONY: lock
lock: $(STAMP) ## Re-resolve requirements.lock from requirements.txt
	$(BIN)/uv pip compile --quiet --python-version 3.11 --no-header requirements.txt -o requirements.lock

.PHONY: check-lock
check-lock: $(STAMP) ## Fail if requirements.lock does not match requirements.txt (pins kept as preferences)
	cp requirements.lock $(VENV)/lock.check
	$(BIN)/uv pip compile --quiet --python-version 3.11 --no-header requirements.txt -o $(VENV)/lock.check
	diff -u requirements.lock $(VENV)/lock.check

.PHONY: up
up: $(STAMP) ## Start the embedded runtime (PostgreSQL, local object store, simulated 12345 API)
	$(BIN)/govlake up

.PHONY: down
down: $(STAMP) ## Stop the embedded runtime (its data is kept)
	$(BIN)/govlake down

.PHONY: bench-ingest
bench-ingest: $(STAMP) ## Benchmark ingestion vs psql \copy and pandas to_sql (BENCH_ROWS=1000000)
	$(BIN)/govlake bench-ingest --rows $(BENCH_ROWS)

.PHONY: bench-quality
bench-quality: $(STAMP) ## Benchmark the population suite (GX in PostgreSQL) vs one hand-written SQL query (BENCH_ROWS=1000000)
	$(BIN)/govlake bench-quality --rows $(BENCH_ROWS)

BENCH_STREAM_ARGS ?=
.PHONY: bench-stream
bench-stream: $(STAMP) ## Benchmark the sensor stream: msg/s into the lake, publish→row latency, a consumer crash (BENCH_STREAM_ARGS="--messages 100000")
	$(BIN)/govlake bench-stream $(BENCH_STREAM_ARGS)

.PHONY: clean
clean: ## Stop the runtime and delete .govlake/ (keeps .venv)
	-test -x $(BIN)/govlake && $(BIN)/govlake down
	rm -rf .govlake
