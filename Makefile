# Every target sets itself up: a fresh clone needs nothing but python3 (3.11+) and git.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench bench-tui schemas lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/uet demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -p no:cacheprovider

bench: $(STAMP)
	$(PY) -m tests.bench.bench_engine

bench-tui: $(STAMP)
	$(PY) -m tests.bench.bench_tui

schemas: $(STAMP)
	$(VENV)/bin/uet schemas export

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
