# One entry point for people and CI. `make demo` and `make test` work on a
# fresh machine: the first target run creates .venv and installs the project.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= data/demo
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install demo serve test check format bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: install  ## generate demo data (first run only) and serve on 127.0.0.1:$(PORT)
	$(BIN)/snyk-export demo --data-dir $(DATA_DIR) --port $(PORT)

serve: install
	$(BIN)/snyk-export serve --data-dir $(DATA_DIR) --port $(PORT)

test: install  ## the test suite; PYTEST_ARGS='-k NAME' selects tests
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: install  ## formatting, lint and types
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: install  ## export throughput and memory against raw DuckDB COPY
	$(BIN)/python bench/export_bench.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
