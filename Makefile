# Soro: the two commands are `make run` and `make test` (see README.md).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
STAMP := $(VENV)/.installed

.PHONY: run setup install cpu-engine test lint messages benchmarks-smoke clean corpus-sources corpus-demo

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
	@$(MAKE) --no-print-directory cpu-engine
	$(MANAGE) import_base_model --cpu-int4
	$(MANAGE) ingest_textbook --demo
	$(MANAGE) import_questions --demo

## The fast CPU engine (llama.cpp, int4): optional, it compiles from source. Without a C
## compiler the install fails, this says so, and the float32 engine serves (slower).
cpu-engine: install
	@$(BIN)/python -c 'import llama_cpp' 2>/dev/null || \
	$(BIN)/python -m pip install --quiet -e '.[cpu]' || \
	printf '\n*** llama-cpp-python did not install (it needs a C/C++ compiler and cmake).\n*** Soro runs on the float32 engine, several times slower. To retry: make cpu-engine\n\n'

## The test suite on the embedded defaults (no servers needed)
test: install
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(MANAGE) makemigrations --check --dry-run

## Every benchmark with --smoke: the same code on the tiny model and tiny data, seconds each,
## so that CI fails when a benchmark no longer runs (figures: docs/benchmarks.md).
BENCHMARK_SCRIPTS := $(sort $(filter-out benchmarks/_%.py benchmarks/machine.py,$(wildcard benchmarks/*.py)))
benchmarks-smoke: install
	@set -e; for script in $(BENCHMARK_SCRIPTS); do \
		printf '\n--- %s --smoke (%s)\n' "$$script" "$$(date -u +%H:%M:%S)"; \
		$(BIN)/python $$script --smoke; \
	done; printf '\n--- every benchmark ran (%s)\n' "$$(date -u +%H:%M:%S)"

messages:
	$(MANAGE) makemessages -l tg -l ru --no-obsolete --ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*' --ignore 'benchmarks/*' --ignore 'docs/*'
	$(MANAGE) compilemessages --ignore '.venv/*' --ignore 'var/*'

## Unpack Debian's Tajik language packs (Firefox ESR, LibreOffice) for the demo corpus,
## without installing them (each would pull the whole program): apt-get download + dpkg-deb -x.
CORPUS_SOURCES ?= $(or $(SORO_CORPUS_SOURCES_DIR),$(or $(SORO_VAR_DIR),var)/corpus-sources)
corpus-sources:
	rm -rf $(CORPUS_SOURCES)/debs && mkdir -p $(CORPUS_SOURCES)/debs
	cd $(CORPUS_SOURCES)/debs && apt-get download firefox-esr-l10n-tg libreoffice-l10n-tg
	for package in firefox-esr-l10n-tg libreoffice-l10n-tg; do \
		rm -rf $(CORPUS_SOURCES)/$$package && \
		dpkg-deb -x $(CORPUS_SOURCES)/debs/$${package}_*.deb $(CORPUS_SOURCES)/$$package || exit 1; \
	done

## The demo corpus: demo textbooks (ingested), curriculum and packaged Tajik text
corpus-demo: setup corpus-sources
	$(MANAGE) build_corpus demo --demo

clean:
	rm -rf $(VENV) var
