"""A store is not updated to a newer schema under an engine that still writes to it: that engine
is an older uet's, and its writes would land in tables changed under it (or wait on the update's
lock and give up). The newer uet refuses with one line naming the engine, and changes nothing;
once the engine is gone, the update goes ahead."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest

from store import Store
from store.engines import HOST, STALE_SECONDS, live_engines
from store.errors import StoreInUse
from store.migrations import LATEST
from tests.conftest import Project, wait_for
from tests.store.versions import store_at


def _worker(db: Path, worker: str, pid: int, *, host: str = HOST, state: str = "busy", age: float = 0.0,
            run: str | None = None) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        now = time.time()
        conn.execute("INSERT INTO workers (id, pid, host, state, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)",
                     (worker, pid, host, state, now - 60, now - age))
        if run is not None:
            conn.execute("INSERT INTO runs (id, workstream, root, state, created_at, worker_id) "
                         "VALUES (?, 'nightly', '/p', 'running', ?, ?)", (run, now - 60, worker))


def _digest(path: Path) -> str:
    """The store's schema, rows and version (opening it may turn on WAL, which is no change of
    what it holds)."""
    with closing(sqlite3.connect(path)) as conn:
        text = "\n".join(conn.iterdump()) + f"\nversion {conn.execute('PRAGMA user_version').fetchone()[0]}"
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def sleeper() -> subprocess.Popen[bytes]:
    """A live process of this host, standing in for an older engine's."""
    child = subprocess.Popen(["sleep", "60"])
    yield child
    child.kill()
    child.wait()


def test_an_engine_alive_on_an_older_store_keeps_it_as_it_is(db_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    store_at(db_path, 12).close()
    _worker(db_path, "w-old", sleeper.pid, run="r-nightly")
    before = _digest(db_path)

    with pytest.raises(StoreInUse) as refused:
        Store(db_path)

    message = str(refused.value)
    assert message.startswith(f"{db_path}: this uet updates the store from schema 12 to {LATEST}, but an engine of "
                              "the older uet is still writing to it")
    assert f"(pid {sleeper.pid} on this host, run r-nightly, heard from 0 s ago)" in message
    assert "nothing was changed" in message and "\n" not in message
    assert _digest(db_path) == before


def test_engines_that_are_gone_do_not_hold_the_update(db_path: Path) -> None:
    """A process that exited, a heartbeat gone stale, a worker that stopped or was declared lost:
    none of them writes any more."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    store_at(db_path, 12).close()
    _worker(db_path, "exited", gone.pid)
    _worker(db_path, "stale", 1, age=STALE_SECONDS + 5)  # pid 1 is alive: the heartbeat decides
    _worker(db_path, "stopped", 1, state="stopped")
    _worker(db_path, "lost", 1, state="lost")

    with Store(db_path) as store:
        assert store.applied == list(range(13, LATEST + 1))


def test_an_engine_of_another_host_is_judged_by_its_heartbeat(db_path: Path) -> None:
    """A store on a shared disk: the pid of another host cannot be asked, its heartbeat can."""
    store_at(db_path, 12).close()
    _worker(db_path, "there", 4242, host="build-7", age=2.0)
    _worker(db_path, "here-too", 1, age=1.0)

    with pytest.raises(StoreInUse, match=r"\(pid 1 on this host, heard from 1 s ago and 1 more\)"):
        Store(db_path)
    with closing(sqlite3.connect(db_path)) as conn:
        assert [(e.worker, e.host) for e in live_engines(conn)] == [("here-too", HOST), ("there", "build-7")]


def test_a_store_already_up_to_date_opens_whoever_writes_to_it(db_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    Store(db_path).close()
    _worker(db_path, "w-now", sleeper.pid, run="r1")

    with Store(db_path) as store:
        assert store.applied == []


@pytest.mark.slow
def test_a_running_engine_holds_the_update_until_it_finishes(project: Project) -> None:
    """A real engine executes a run on a store made older under it (schema LATEST - 1, as the
    uet before this one left it): every command of this uet is refused, exit 1, one line, the
    file untouched; once the run ends, the next command updates the store and answers."""
    workstream = project.write("wait.yaml", """
        name: wait
        steps:
          - id: hold
            run: [sh, -c, "touch started; while [ ! -e go ]; do sleep 0.05; done"]
        """)
    engine, run_id = project.start(workstream)
    wait_for(lambda: (project.root / "started").exists(), what="the step to start")
    with closing(sqlite3.connect(project.db)) as conn, conn:
        conn.execute("DROP INDEX patches_updated")  # what the last migration added
        conn.execute("DROP INDEX patches_parent")
        conn.execute(f"PRAGMA user_version = {LATEST - 1}")

    refused = project.uet("runs")

    assert refused.returncode == 1, refused.stderr
    assert refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert f"but an engine of the older uet is still writing to it (pid {engine.pid} on this host, run {run_id}," \
           in refused.stderr
    with closing(sqlite3.connect(project.db)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST - 1
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'patches_updated'").fetchone()[0] == 0

    (project.root / "go").touch()
    out, err = engine.communicate(timeout=60)
    assert engine.returncode == 0, out + err
    updated = project.uet("runs", "--json", check=True)

    assert updated.stderr.startswith(f"uet: updating the store {project.db} from schema {LATEST - 1} to {LATEST}")
    assert [run["id"] for run in json.loads(updated.stdout)] == [run_id]


def test_the_dashboard_ends_with_the_refusal_and_exit_1(db_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    """The dashboard opens its store after the first frame: the refusal ends it with the same
    line a command prints and the same exit code, and the store is left as it was."""
    import asyncio

    from tests.tui.test_dashboard import settle
    from tui.app import UetApp

    store_at(db_path, 12).close()
    _worker(db_path, "w-old", sleeper.pid, run="r-nightly")
    before = _digest(db_path)
    app = UetApp(db_path.parent.parent, db_path)
    said: list[str] = []

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: app.return_code is not None)
            said.extend(str(r) for r in app._exit_renderables)

    asyncio.run(main())
    assert app.return_code == 1
    assert len(said) == 1 and said[0].startswith(f"uet: {db_path}: this uet updates the store from schema 12")
    assert f"(pid {sleeper.pid} on this host, run r-nightly," in said[0]
    assert _digest(db_path) == before
