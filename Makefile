# The two commands: `make up` runs the platform, `make test` runs every test tier.
VENV ?= .venv
PY := $(VENV)/bin/python
export UFOP_DATA_DIR ?= ./var

.PHONY: up test setup setup-test bench unit interface e2e clean

up: setup
	exec $(VENV)/bin/ufop up

test: setup-test
	UFOP_TEST_PG_URL=$$(cat $(UFOP_DATA_DIR)/test-pg-url) $(PY) -m pytest -ra $(PYTEST_ARGS)

bench: setup
	$(PY) tests/bench/bench_gateway.py
	$(PY) tests/bench/bench_upload.py
	$(PY) tests/bench/bench_instances.py
	$(PY) tests/bench/bench_logs.py
	$(PY) tests/bench/bench_dataplane.py

setup:
	bash scripts/setup.sh

setup-test:
	bash scripts/setup.sh --test

unit: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
