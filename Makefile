# Every target sets itself up: a fresh clone needs nothing but python3 (3.11+) and git.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# The stamp's name changes with the way uet is installed, so an existing venv is installed again.
STAMP  := $(VENV)/.installed-compat
BWRAP  ?= bwrap

.PHONY: demo test bench bench-tui schemas lint clean sandbox bytecode

# editable_mode=compat: the editable install is a plain path in a .pth file, where the default is
# an import hook (setuptools' editable finder) that every `uet` process loaded at start-up. setuptools
# calls the mode transitional: should a release drop it, the default install is made instead.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat \
	  || $(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The tree's modules compiled once, here: an editable install runs them from the source tree, where
# an environment with PYTHONDONTWRITEBYTECODE set (common in containers and CI) never writes their
# .pyc, and every `uet` process compiled some 200 modules again (0.2 s of CPU per `uet run`).
# Up-to-date files are skipped; a file edited later is compiled in memory until this runs again.
bytecode: $(STAMP)
	@$(PY) -m compileall -q -j 0 engine store tui schemas > /dev/null

# Patch steps run in bubblewrap's sandbox and refuse to run without it (README: Containment).
# As root it is installed when missing; otherwise the command to run is printed and the rest
# goes on.
sandbox:
	@command -v $(BWRAP) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap: patch steps run in its sandbox"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq bubblewrap >/dev/null 2>&1 \
	      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bubblewrap >/dev/null 2>&1; } \
	      || echo "could not install bubblewrap: patch steps refuse to run until it is installed"; \
	  else \
	    echo "bubblewrap (bwrap) is missing: patch steps refuse to run without it. Install it:"; \
	    echo "    sudo apt-get install bubblewrap    (or: sudo dnf install bubblewrap)"; \
	  fi; }

demo: $(STAMP) bytecode sandbox
	$(VENV)/bin/uet demo

# Three workers on a 2-core machine: the tests spend much of their time waiting on the processes
# they start (uet, git, the sandbox, agent CLIs), and two workers left a third of the CPU idle.
test: $(STAMP) bytecode sandbox
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -p no:cacheprovider -n 3 --dist loadfile

bench: $(STAMP) bytecode
	$(PY) -m tests.bench.bench_engine
	$(PY) -m tests.bench.bench_agents
	$(PY) -m tests.bench.bench_repomap
	$(PY) -m tests.bench.bench_scan --no-git
	$(PY) -m tests.bench.bench_export
	$(PY) -m tests.bench.bench_commands

bench-tui: $(STAMP) bytecode
	$(PY) -m tests.bench.bench_tui
	$(PY) -m tests.bench.bench_slowlink

schemas: $(STAMP)
	$(VENV)/bin/uet schemas export

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
