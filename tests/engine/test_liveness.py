"""Live or lost: the engine of each unfinished run, judged from a real store, real processes
(a live one and one that has exited) and the heartbeat clock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.liveness import RunEngine, run_engine, run_engines
from engine.monitor import Monitor
from engine.workers import HOST, is_lost
from store import Store, ops, queries

NOW = 1_800_000_000.0


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


@pytest.fixture
def store(tmp_path: Path):  # noqa: ANN201
    with Store(tmp_path / "uet.db") as opened:
        yield opened


def make_run(store: Store, run_id: str, state: str, *, worker: str | None = None, pid: int | None = None,
             host: str = HOST, heartbeat: float = NOW - 1) -> None:
    store.create_run(run_id=run_id, workstream="ws", source=None, root="/project", max_parallel=1, spec={},
                     steps=[("a", "command", [], {})], now=NOW - 100)
    if worker is not None:
        store.register_worker(worker, pid if pid is not None else os.getpid(), host)
        store.execute_now([ops.heartbeat(worker, "busy", heartbeat)])
        store.claim_run(run_id, worker, lambda _w: True)
    if state != "pending":
        store.execute_now([ops.run_state(run_id, state, started_at=NOW - 90),
                           ops.insert_event(NOW - 42, "step.state", run_id, "a", {"from": "ready", "to": "running"})])


def test_each_unfinished_run_is_live_or_lost_and_says_since_when(store: Store) -> None:
    make_run(store, "live", "running", worker="w-live")
    make_run(store, "exited", "running", worker="w-exited", pid=dead_pid(), heartbeat=NOW - 3)
    make_run(store, "stale", "running", worker="w-stale", host="elsewhere", heartbeat=NOW - 60)
    make_run(store, "ownerless", "running")
    make_run(store, "paused", "paused")
    make_run(store, "done", "succeeded")
    make_run(store, "waiting", "pending")
    runs = queries.list_runs()
    engines = run_engines(runs, NOW)
    assert set(engines) == {"live", "exited", "stale", "ownerless"}
    assert engines["live"].live and engines["live"].word == "live" and engines["live"].lost_for(NOW) is None
    assert not engines["exited"].live and engines["exited"].word == "lost"
    assert engines["exited"].last_seen == NOW - 3 and engines["exited"].lost_for(NOW) == 3
    assert engines["exited"].worker == "w-exited"
    # Its last heartbeat is older than its last event (a step it started at NOW - 42).
    assert not engines["stale"].live and engines["stale"].last_seen == NOW - 42
    # Nothing owns it: its clock stops at its last event.
    assert not engines["ownerless"].live and engines["ownerless"].last_seen == NOW - 42
    assert run_engine(queries.get_run("paused"), NOW) is None


def test_the_same_worker_turns_lost_when_its_process_ends(store: Store) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        make_run(store, "r", "running", worker="w", pid=child.pid)
        assert run_engine(queries.get_run("r"), NOW) == run_engines(queries.list_runs(), NOW)["r"]
        assert run_engine(queries.get_run("r"), NOW).live  # type: ignore[union-attr]
    finally:
        child.communicate(b"", timeout=30)
    engine = run_engine(queries.get_run("r"), NOW)
    assert engine is not None and not engine.live and engine.last_seen == NOW - 1
    assert is_lost(queries.get_worker("w"), NOW)  # type: ignore[arg-type]


def test_the_monitor_tells_an_engine_change_once_though_nothing_was_written(store: Store) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        make_run(store, "r", "running", worker="w", pid=child.pid)
        monitor = Monitor(clock=lambda: NOW, liveness_every=0.0)
        assert monitor.load().engines == {"r": RunEngine(True, "w")}
        assert not monitor.poll(), "asked again, nothing changed"
    finally:
        child.communicate(b"", timeout=30)
    delta = monitor.poll()
    assert not delta.events and delta.engines == {"r": RunEngine(False, "w", NOW - 1)}
    assert not monitor.poll()
    store.execute_now([ops.run_state("r", "canceled", ended_at=NOW),
                       ops.insert_event(NOW, "run.state", "r", None, {"from": "running", "to": "canceled"})])
    assert monitor.poll().engines == {"r": None}, "finished: no engine is expected any more"
