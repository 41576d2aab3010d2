"""``uet serve`` as a real process: an ``every: 1s`` trigger end to end, the second server
refused, and ``kill -9`` during a fire followed by a restart that carries the fire out once."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from contextlib import closing
from typing import Any

import pytest

from tests.conftest import Project, pid_dead, wait_for

pytestmark = pytest.mark.slow


def rows(project: Project, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    if not project.db.exists():
        return []
    try:
        with closing(sqlite3.connect(project.db)) as conn:
            return list(conn.execute(sql, params))
    except sqlite3.OperationalError:  # the server is still making the store
        return []


def stop(server: subprocess.Popen[str]) -> tuple[int, str]:
    server.send_signal(signal.SIGTERM)
    out, _err = server.communicate(timeout=60)
    return server.returncode, out


def test_an_every_trigger_runs_until_the_server_stops_and_a_second_server_is_refused(project: Project) -> None:
    project.write(".uet/workstreams/tick.yaml", """
        name: tick
        on:
          - every: 1s
        steps:
          - id: a
            run: [echo, tick]
    """)
    server = project.spawn("serve")
    try:
        wait_for(lambda: len(rows(project, "SELECT id FROM runs WHERE state = 'succeeded'")) >= 2, 60,
                 what="two runs of the every: 1s trigger")
        second = project.uet("serve")
        assert second.returncode == 1
        assert f"served by pid {server.pid} on " in second.stderr and "since" in second.stderr
    finally:
        code, out = stop(server)
    assert code == 0, out
    fired = rows(project, "SELECT run_id, outcome FROM fires ORDER BY id")
    assert len(fired) >= 2 and all(run_id for run_id, _outcome in fired)
    assert "serving 1 trigger(s)" in out and "tick/every" in out


def test_kill_9_during_a_fire_then_restart_carries_the_fire_out_once(project: Project) -> None:
    project.write(".uet/workstreams/hold.yaml", """
        name: hold
        on:
          - every: 1s
            concurrency: {max_runs: 1, on_busy: skip}
        steps:
          - id: hold
            run: [sh, -c, "while [ ! -e go ]; do sleep 0.05; done"]
    """)
    server = project.spawn("serve")
    try:
        fire_id, run_id = wait_for(lambda: next(iter(rows(
            project, "SELECT f.id, f.run_id FROM fires f JOIN steps s ON s.run_id = f.run_id "
                     "WHERE s.state = 'running' ORDER BY f.id")), None), 60, what="a fire's run to be running")
        server.send_signal(signal.SIGKILL)
    finally:
        server.kill()
        server.communicate(timeout=30)
    assert rows(project, "SELECT state, outcome FROM fires WHERE id = ?", fire_id) == [("running", None)]
    again = project.spawn("serve")
    try:
        (project.root / "go").touch()
        wait_for(lambda: rows(project, "SELECT outcome FROM fires WHERE id = ?", fire_id) == [("succeeded",)], 60,
                 what="the fire to end")
    finally:
        code, out = stop(again)
    assert code == 0, out
    assert rows(project, "SELECT COUNT(*) FROM runs WHERE id = ?", run_id) == [(1,)]
    assert rows(project, "SELECT COUNT(*) FROM fires WHERE run_id = ?", run_id) == [(1,)]
    assert rows(project, "SELECT state FROM runs WHERE id = ?", run_id) == [("succeeded",)]
    assert pid_dead(server.pid)
