"""Shared fixtures: a project directory with ``.uet/``, and a runner for the real ``uet``
command in a subprocess (the way a user runs it). The session starts installing the agent
CLIs its tests will run as it starts (tests/agents/clis.py)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.agents import clis

REPO = Path(__file__).resolve().parents[1]
INSTALLS = pytest.StashKey[list[threading.Thread]]()


def agent_families(config: pytest.Config) -> list[str]:
    """The families whose whole test file the session's arguments take in. A session that picks
    tests (``-k``, ``-m``, a test's id) installs a CLI only when a test asks for it."""
    if config.option.collectonly or config.option.keyword or config.option.markexpr:
        return []
    if any("::" in arg for arg in config.args):
        return []
    chosen = [Path(config.invocation_params.dir, arg).resolve() for arg in config.args]
    files = {family: REPO / "tests" / "agents" / f"test_{family}.py" for family in clis.PINS}
    return [family for family, file in files.items() if any(path == file or path in file.parents for path in chosen)]


def pytest_sessionstart(session: pytest.Session) -> None:
    # Under xdist only the controlling process starts them; its workers wait on the locks.
    if not hasattr(session.config, "workerinput"):
        session.config.stash[INSTALLS] = clis.prefetch(agent_families(session.config))


def pytest_sessionfinish(session: pytest.Session) -> None:
    for thread in session.config.stash.get(INSTALLS, []):
        thread.join()


# The files that take longest (per-file totals of a run on two workers), slowest first. They
# start first, so that ``--dist loadfile``, which hands out whole files in the collected order,
# never gives one of them out last while the other worker has run out of work. The agent tests
# come last, so that the background installs of their CLIs (minutes on a busy machine: aider's
# took 26 minutes under a load of 10 to 14, and a worker that reached it after the heaviest files
# sat 7m48s waiting) are done before a worker asks for one. The order changes when tests run,
# never what they check.
FIRST = (
    "tests/engine/test_patch_cycle.py",
    "tests/tui/test_cli.py",
    "tests/engine/test_bad_input.py",
    "tests/engine/test_engine_loss.py",
    "tests/test_packaging.py",
    "tests/engine/test_runs_cli.py",
    "tests/engine/test_store_failure.py",
    "tests/engine/test_agent_steps.py",
    "tests/engine/test_containment.py",
)


def _rank(item: pytest.Item) -> int:
    try:
        path = item.path.relative_to(REPO).as_posix()
    except ValueError:
        return len(FIRST) + 1
    if path in FIRST:
        return FIRST.index(path)
    return len(FIRST) + 2 if path.startswith("tests/agents/") else len(FIRST) + 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: each file's tests, and the rest, keep their order


@dataclass
class Project:
    root: Path

    @property
    def db(self) -> Path:
        return self.root / ".uet" / "uet.db"

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    def script(self, name: str, body: str) -> Path:
        path = self.write(name, "#!/bin/sh\n" + textwrap.dedent(body).lstrip())
        path.chmod(0o755)
        return path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env.pop("UET_DB", None)
        return env

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "tui.cli", *args]

    def uet(self, *args: str, timeout: float = 60, check: bool = False) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self.argv(*args), cwd=self.root, env=self.env(), capture_output=True, text=True,
                                timeout=timeout, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"uet {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*args), cwd=self.root, env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)

    def start(self, workstream: Path) -> tuple[subprocess.Popen[str], str]:
        """Start ``uet run --plain`` in the background; return the process and its run id (read
        from the store: polling ``uet runs`` would start a Python process per look)."""
        before = self.run_ids()
        engine = self.spawn("run", "--plain", str(workstream))

        def new_run() -> str | None:
            try:
                return next(iter(self.run_ids() - before), None)
            except sqlite3.Error:  # the engine is still making the store
                return None

        return engine, wait_for(new_run, what="the run to be created")

    def run_ids(self) -> set[str]:
        """The ids of the runs in the store (none before there is one)."""
        if not self.db.exists():
            return set()
        with closing(sqlite3.connect(self.db)) as conn:
            return {row[0] for row in conn.execute("SELECT id FROM runs")}

    def read(self, name: str) -> str:
        """A file the steps write, stripped; empty while it does not exist yet."""
        path = self.root / name
        return path.read_text(encoding="utf-8").strip() if path.exists() else ""

    def status(self, run_id: str) -> dict[str, Any]:
        return json.loads(self.uet("status", run_id, "--json", check=True).stdout)

    def runs(self) -> list[dict[str, Any]]:
        if not self.db.exists():
            return []
        return json.loads(self.uet("runs", "--json", check=True).stdout)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / ".uet").mkdir()
    return Project(tmp_path)


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05, what: str = "") -> Any:
    """Poll an external condition (another process's progress) until it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


def pid_dead(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] in ("Z", "X")
    except OSError:
        return True
