# Soro: the two commands are `make run` and `make test` (see README.md).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
STAMP := $(VENV)/.installed

.PHONY: run setup install test lint messages benchmarks-smoke clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Everything a fresh machine needs, then web + worker on http://127.0.0.1:8000
run: setup
	$(MANAGE) run_platform

setup: install
	$(MANAGE) migrate --no-input
	$(MANAGE) collectstatic --no-input --verbosity 0
	$(MANAGE) import_curriculum
	$(MANAGE) seed_demo
	$(MANAGE) import_base_model
	$(MANAGE) ingest_textbook --demo

## The test suite on the embedded defaults (no servers needed)
test: install
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(MANAGE) makemigrations --check --dry-run

messages:
	$(MANAGE) makemessages -l tg -l ru --no-obsolete --ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*' --ignore 'benchmarks/*' --ignore 'docs/*'
	$(MANAGE) compilemessages --ignore '.venv/*' --ignore 'var/*'

clean:
	rm -rf $(VENV) var
