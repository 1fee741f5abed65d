# make run        - set up and run the product on its embedded default
# make test       - install what the suite needs (system packages too), lint, run every test (what .ci/run runs)
# make test-fast  - the edit loop: unit, service and AppTest page tests; no processes, no browser
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test test-fast test-deps lint bench bench-mlflow worker clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# pyproject.toml declares what the package needs; requirements.txt pins the versions, as constraints.
$(VENV)/.runtime: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -c requirements.txt -e .
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements-ibm.txt $(VENV)/.runtime
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(BIN)/python -m pipeline_core up

worker: $(VENV)/.runtime
	$(BIN)/python -m pipeline_core worker --verbose

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Two workers, one per core; worksteal balances the long tests (the browser flow, the CLI) across both.
PYTEST_WORKERS ?= 2

test-deps:
	scripts/test-deps

test: test-deps lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal

test-fast: $(VENV)/.dev
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal -m "not slow"

bench: $(VENV)/.dev
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/scoring.py
	$(BIN)/python bench/monitors.py
	$(BIN)/python bench/dashboard_pages.py
	$(BIN)/python bench/model_tests.py
	$(BIN)/python bench/reports.py

# MLflow's model server for bench/scoring.py to compare against, in a venv of its own.
bench-mlflow: $(VENV)/.dev
	test -x .venv-mlflow/bin/mlflow || ($(PYTHON) -m venv .venv-mlflow && .venv-mlflow/bin/pip install -q -r requirements-mlflow.txt)
	$(BIN)/python bench/scoring.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
