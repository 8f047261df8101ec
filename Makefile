# The two commands of the README:
#   make book   build the book into _build/html (sets everything up first)
#   make test   run the whole test suite (builds the book first: the tests read it)
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := book

VENV := .venv
BIN := $(VENV)/bin
SETUP_STAMP := $(VENV)/.installed
# The notebook cache keys on notebook text only, so it is dropped whenever the data
# or the course package change: a changed data file always re-executes the book.
CACHE_STAMP := _build/.cache-inputs

.PHONY: book test setup exercises lint lock clean bench hub

setup: $(SETUP_STAMP)

$(SETUP_STAMP): requirements.lock pyproject.toml scripts/setup.sh package-lock.json
	bash scripts/setup.sh

$(CACHE_STAMP): $(wildcard data/*) $(wildcard dustcourse/*.py) | $(SETUP_STAMP)
	rm -rf _build/.jupyter_cache
	mkdir -p _build && touch $@

book: $(SETUP_STAMP) $(CACHE_STAMP)
	$(BIN)/jupyter-book build . -n -W --keep-going
	test -f _build/html/index.html

test: book
	$(BIN)/ruff check .
	$(BIN)/pytest

# Benchmarks (not part of the tests): prints a table and writes docs/benchmarks.md.
bench: book
	$(BIN)/python benchmarks/run.py

# The course on a JupyterHub on http://127.0.0.1:8000 for a local trial (docs/hub.md):
# runs as root, since the hub starts each student's JupyterLab as that student.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
hub: $(SETUP_STAMP)
	$(SUDO) $(BIN)/dustcourse hub

exercises: $(SETUP_STAMP)
	$(BIN)/dustcourse exercises generate

lint: $(SETUP_STAMP)
	$(BIN)/ruff check .

lock:
	rm -rf /tmp/dustcourse-lock-venv && python3 -m venv /tmp/dustcourse-lock-venv
	/tmp/dustcourse-lock-venv/bin/pip install --quiet -r requirements.in
	(echo "# Exact versions installed by scripts/setup.sh; regenerate with \`make lock\` after editing requirements.in."; \
	 /tmp/dustcourse-lock-venv/bin/pip freeze --all) > requirements.lock

clean:
	rm -rf _build
