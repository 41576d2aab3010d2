"""The headless packages never pull in the terminal UI, and only ``store`` touches the ORM.

Checked twice: by importing in a fresh interpreter (what actually loads) and by the
import-linter contracts in ``pyproject.toml`` (what the code says it imports). And the commands a
user waits on load only what they use: each runs once in a fresh interpreter, which then lists
what it imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
for name in sys.argv[1].split(","):
    __import__(name)
print(json.dumps(sorted(sys.modules)))
"""


def loaded_after_importing(*modules: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(modules)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def offenders(loaded: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(
        m for m in loaded if m in packages or m.startswith(tuple(p + "." for p in packages))
    )


def test_headless_packages_do_not_import_the_ui() -> None:
    loaded = loaded_after_importing(
        "schemas", "store", "engine.runner", "engine.session", "engine.planner"
    )
    assert {"schemas", "store", "engine.runner", "engine.session", "engine.planner"} <= loaded
    assert offenders(loaded, ("textual", "rich")) == []


def test_schemas_do_not_import_the_orm() -> None:
    loaded = loaded_after_importing("schemas", "schemas.export")
    assert (
        offenders(loaded, ("peewee", "playhouse", "textual", "rich", "store", "engine", "tui"))
        == []
    )


COMMAND = """
import contextlib, io, json, sys
from tui.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

#: What a command that reads the store must not load: the engine that executes runs (runner,
#: session, adapters, workers, bootstrap), the faces (Textual, rich), asyncio, the YAML reader,
#: and what writing and validating need: Pydantic and the record models, the ORM and its tables,
#: the migrations (an up-to-date store is read as it is); nor dataclasses (which loads inspect) nor
#: socket, which cost a tenth of such a command's time for a few small classes and a host name.
NOT_FOR_READING = ("engine.runner", "engine.session", "engine.adapters", "engine.bootstrap", "engine.workers",
                   "engine.planner", "textual", "rich", "asyncio", "yaml", "pydantic", "pydantic_core",
                   "annotated_types", "schemas.records", "peewee", "playhouse", "store.tables", "store.queries",
                   "store.migrations", "store.store", "store.writer", "store.feed", "dataclasses", "inspect",
                   "socket")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose store holds one run of two steps, and a one-step workstream file."""
    from store import Store

    root = tmp_path_factory.mktemp("hygiene")
    (root / "one.yaml").write_text("name: one\nsteps:\n  - id: first\n    run: [\"true\"]\n")
    with Store(root / ".uet" / "uet.db") as store:
        store.create_run(run_id="0123456789ab", workstream="two", source=None, root=str(root), max_parallel=1,
                         spec={}, steps=[("a", "command", [], {"run": ["true"]}), ("b", "command", ["a"], {})])
    return root


def loaded_by_command(root: Path, *argv: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", COMMAND, *argv], cwd=root, capture_output=True, text=True,
                          timeout=60, check=False, env={**os.environ, "UET_CONFIG": os.devnull})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr
    return set(report["modules"])


@pytest.mark.parametrize("argv", [("runs",), ("status", "0123456789ab"), ("status", "0123456789ab", "a"),
                                  ("logs", "0123456789ab"), ("logs", "0123456789ab", "a"), ("patches",),
                                  ("costs",), ("costs", "0123456789ab")], ids=" ".join)
def test_a_read_command_loads_no_engine_face_or_loop(project: Path, argv: tuple[str, ...]) -> None:
    loaded = loaded_by_command(project, *argv)
    assert "store.reads" in loaded
    assert offenders(loaded, NOT_FOR_READING) == []
    hooks = sorted(m for m in loaded if m.startswith("__editable__"))
    assert hooks == [], "the venv's editable install loads an import hook: reinstall it with `make` (editable_mode=compat)"


def test_validate_loads_no_store_and_nothing_that_runs(project: Path) -> None:
    loaded = loaded_by_command(project, "validate", "one.yaml")
    assert "engine.planner" in loaded
    allowed = {"store", "store.db"}  # where the store would be: a path, no database opened
    # its one step runs a command: no router (its models, the built-in file, the agents) to read
    assert offenders(loaded - allowed, ("store", "peewee", "engine.runner", "engine.session", "engine.adapters",
                                        "textual", "rich", "asyncio", "schemas.router", "engine.agents",
                                        "schemas.records", "schemas.memory")) == []


def test_tools_reads_the_router_without_the_workstream_models(project: Path) -> None:
    loaded = loaded_by_command(project, "tools", "--no-version")
    assert {"schemas.router", "engine.toolconfig"} <= loaded
    assert offenders(loaded, ("schemas.workstream", "schemas.triggers", "engine.planner", "engine.runner",
                              "textual", "rich", "asyncio")) == []


def test_the_memory_commands_read_prompts_without_the_workstream_models(project: Path) -> None:
    """Lessons are made of prompts and fixes: the four placeholders every step has come from a
    module of their own, not from the workstream's models (0.1 s of each memory command)."""
    loaded = loaded_by_command(project, "memory", "list")
    assert {"engine.prompts", "engine.memory"} <= loaded
    assert offenders(loaded, ("schemas.workstream", "schemas.triggers", "engine.planner", "engine.runner",
                              "textual", "rich")) == []


#: What `uet run --plain` of a file of commands goes without: the faces (Textual, rich), the
#: parts of the engine for agents' patches, reviews, repository maps, bootstrap and triggers, the
#: file watcher, and the dashboard's host.
NOT_FOR_A_PLAIN_RUN = ("textual", "rich", "engine.patches", "engine.review", "engine.repomap", "engine.bootstrap",
                       "engine.triggers", "engine.hosted", "engine.steering", "watchfiles", "anyio", "tui.app",
                       "tui.screens", "tui.live")


def test_a_plain_run_of_commands_loads_no_face_nor_the_engine_parts_it_does_not_use(project: Path) -> None:
    loaded = loaded_by_command(project, "run", "--plain", "one.yaml")
    assert {"engine.runner", "engine.adapters.subprocess"} <= loaded
    assert offenders(loaded, NOT_FOR_A_PLAIN_RUN) == []


DASHBOARD = """
import asyncio, json, sys
from pathlib import Path
import tui.cli.dashboard  # what `uet tui` imports before it opens the app
from tui.app import UetApp, make_app
from tui.widgets.line_table import LineTable

first, listed = {}, {}
drawn = LineTable.render_line
first_read = UetApp._first_read

def render_line(table, y):  # the modules loaded when the runs pane draws its first line
    if table.id == "runs" and y == 1 and not first:
        first["modules"] = sorted(sys.modules)
        first["line"] = drawn(table, y).text.strip()
    return drawn(table, y)

def read_first(app):  # the modules loaded once the first read of the store is made
    delta = first_read(app)
    listed["listed"] = sorted(sys.modules)
    return delta

LineTable.render_line = render_line
UetApp._first_read = read_first

async def first_frame():
    root = Path.cwd()
    app = make_app(root, root / ".uet" / "uet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        while not app.screen.query_one("#runs", LineTable).keys or app.store is None:  # the first read, the store
            await pilot.pause(0.02)
        return {**first, **listed, "loaded": sorted(sys.modules)}

print(json.dumps(asyncio.run(first_frame())))
"""


@pytest.fixture(scope="module")
def dashboard_modules(project: Path) -> dict:
    """The modules loaded when the dashboard drew its first frame, once it read the store first
    (the runs it lists), and once it opened the store."""
    done = subprocess.run([sys.executable, "-c", DASHBOARD], cwd=project, capture_output=True, text=True, timeout=60,
                          check=False, env={**os.environ, "UET_CONFIG": os.devnull})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])

#: What the dashboard's first frame goes without: the engine that executes runs (it loads when a
#: run is started or the app quits with runs), every other screen (each loads when it opens), the
#: steering functions (with the first steering key), the YAML reader (there is no settings file), and the
#: lessons and triggers of the store (an up-to-date store opens without their migrations).
NOT_AT_FIRST_FRAME = ("engine.runner", "engine.hosted", "engine.session", "engine.planner", "engine.adapters",
                      "engine.workers", "engine.steering", "engine.patches", "engine.bootstrap", "store.lessons",
                      "store.triggers", "schemas.triggers", "tui.screens.apply",
                      "tui.screens.bootstrap", "tui.screens.help", "tui.screens.history", "tui.screens.launch",
                      "tui.screens.patches", "tui.screens.profiles", "tui.screens.run", "tui.screens.tools",
                      "tui.screens.triggers", "tui.mcp", "yaml")


#: What the first frame is drawn without, on top of those: Pydantic, the ORM, the store and its
#: record models, the settings models (there is no settings file), the monitor's reads. The
#: app reads the store in a thread once that frame is drawn, and opens it once the runs are.
NOT_BEFORE_THE_FIRST_READ = ("pydantic", "pydantic_core", "peewee", "playhouse", "store.store", "store.tables",
                             "store.queries", "store.reads", "schemas.records", "schemas.patch", "schemas.settings",
                             "engine.liveness")


#: What the runs are read without: the first read is plain sqlite3 rows (``store.reads``); the
#: ORM, the migrations and the record models load once the runs are drawn, when the store opens.
NOT_WHEN_LISTED = ("pydantic", "pydantic_core", "peewee", "playhouse", "store.store", "store.tables",
                   "store.queries", "store.migrations", "schemas.records", "schemas.patch", "schemas.settings")


def test_the_dashboard_reads_the_runs_without_pydantic_and_the_orm(dashboard_modules: dict) -> None:
    listed = set(dashboard_modules["listed"])
    assert {"store.reads", "engine.monitor"} <= listed
    assert offenders(listed, NOT_WHEN_LISTED) == []


def test_the_dashboard_loads_no_engine_nor_other_screens(dashboard_modules: dict) -> None:
    loaded = set(dashboard_modules["loaded"])
    assert {"tui.screens.dashboard", "store.store"} <= loaded
    assert offenders(loaded, NOT_AT_FIRST_FRAME) == []


def test_the_dashboard_draws_its_first_frame_before_pydantic_and_the_orm(dashboard_modules: dict) -> None:
    seen = dashboard_modules
    first = set(seen["modules"])
    assert "tui.screens.dashboard" in first
    assert offenders(first, NOT_BEFORE_THE_FIRST_READ) == []
    assert seen["line"] == "loading…"  # what the runs pane says until the store is read


def lint_imports() -> Path:
    for name in ("lint-imports", "lint-imports.exe"):
        candidate = Path(sys.executable).parent / name
        if candidate.is_file():
            return candidate
    pytest.fail(f"lint-imports is not installed next to {sys.executable}: pip install -e '.[dev]'")


def test_import_linter_contracts_are_kept() -> None:
    done = subprocess.run(
        [str(lint_imports()), "--no-cache", "--no-logo", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
