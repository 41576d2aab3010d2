"""A run's stored progress stays true through every path that ends or reopens steps.

The runs table keeps per-state counts (done, failed, skipped, canceled, running) so that the
faces list runs without a query per run; each test drives one path through the real ``uet``
command and checks the row against a count of the steps table. Then a pause that waits for a
running step reads "pausing", a retry held by an open breaker says when it really runs, and an
ad-hoc command has no breaker.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from typing import Any

from tests.conftest import Project, wait_for
from tests.engine.breaker_projects import held_by_breaker

#: The row's counts and the same counted from the steps.
STORED = "SELECT done_steps, failed_steps, skipped_steps, canceled_steps, running_steps FROM runs WHERE id = ?"
COUNTED = """SELECT COALESCE(SUM(state IN ('succeeded', 'failed', 'skipped', 'canceled')), 0),
                    COALESCE(SUM(state = 'failed'), 0), COALESCE(SUM(state = 'skipped'), 0),
                    COALESCE(SUM(state = 'canceled'), 0), COALESCE(SUM(state = 'running'), 0)
             FROM steps WHERE run_id = ?"""

#: b fails the first time (a marker file makes it pass afterwards); c needs it.
FAILING = """
    name: counts
    max_parallel: 1
    steps:
      - id: a
        run: "true"
      - id: b
        run: sh -c 'test -f pass'
      - id: c
        needs: [b]
        run: "true"
      - id: d
        run: "true"
"""

#: Two quick steps, then one that waits for the test to create ``go``.
WAITING = """
    name: waits
    max_parallel: 1
    steps:
      - id: a
        run: "true"
      - id: b
        needs: [a]
        run: "true"
      - id: slow
        needs: [b]
        run: sh -c 'touch started; while [ ! -f go ]; do sleep 0.05; done'
      - id: after
        needs: [slow]
        run: "true"
      - id: last
        needs: [after]
        run: "true"
"""

QUIET_BREAKERS = "breaker: {consecutive_failures: 50, window: 50, min_calls: 50}\ntools: {}\n"


def counts(project: Project, run_id: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    with sqlite3.connect(project.db) as conn:
        return conn.execute(STORED, (run_id,)).fetchone(), conn.execute(COUNTED, (run_id,)).fetchone()


def assert_true_counts(project: Project, run_id: str) -> tuple[int, ...]:
    stored, counted = counts(project, run_id)
    assert stored == counted, f"stored (done, failed, skipped, canceled, running) {stored} != steps' {counted}"
    return stored


def run_row(project: Project, run_id: str) -> dict[str, Any]:
    with sqlite3.connect(project.db) as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())


def test_an_engine_finish_then_a_retry_store_the_true_counts(project: Project) -> None:
    project.write(".uet/router.yaml", QUIET_BREAKERS)
    project.write("ws.yaml", FAILING)
    assert project.uet("run", "--plain", "ws.yaml").returncode == 1
    run_id = project.runs()[0]["id"]
    assert assert_true_counts(project, run_id) == (4, 1, 1, 0, 0)  # a, d succeeded; b failed; c skipped
    listed = project.runs()[0]
    assert listed["progress"] == {"total": 4, "succeeded": 2, "failed": 1, "skipped": 1, "canceled": 0,
                                  "running": 0, "remaining": 0, "finished": 4, "percent": 50.0}
    assert project.status(run_id)["progress"]["succeeded"] == 2

    (project.root / "pass").touch()
    assert project.uet("retry", "--plain", run_id, "b").returncode == 0
    assert assert_true_counts(project, run_id) == (4, 0, 0, 0, 0)
    assert project.runs()[0]["progress"]["percent"] == 100.0


def test_a_resume_of_a_failed_run_stores_the_true_counts(project: Project) -> None:
    project.write(".uet/router.yaml", QUIET_BREAKERS)
    project.write("ws.yaml", FAILING)
    assert project.uet("run", "--plain", "ws.yaml").returncode == 1
    run_id = project.runs()[0]["id"]
    (project.root / "pass").touch()
    assert project.uet("resume", "--plain", run_id).returncode == 0
    assert assert_true_counts(project, run_id) == (4, 0, 0, 0, 0)


def test_a_cancel_with_an_engine_stores_the_true_counts(project: Project) -> None:
    project.write("ws.yaml", WAITING)
    engine, run_id = project.start(project.root / "ws.yaml")
    try:
        wait_for(lambda: (project.root / "started").exists(), what="the slow step to start")
        assert "no engine" not in project.uet("cancel", run_id, check=True).stdout
        engine.wait(timeout=30)
    finally:
        if engine.poll() is None:
            engine.kill()
        engine.communicate()
    assert run_row(project, run_id)["state"] == "canceled"
    # a and b succeeded; slow, after and last were canceled: 2 of 5, never "5/5" nor "100%"
    assert assert_true_counts(project, run_id) == (5, 0, 0, 3, 0)
    assert project.runs()[0]["progress"]["percent"] == 40.0


def test_a_cancel_without_an_engine_stores_the_true_counts(project: Project) -> None:
    project.write("ws.yaml", WAITING)
    engine, run_id = project.start(project.root / "ws.yaml")
    try:
        wait_for(lambda: (project.root / "started").exists(), what="the slow step to start")
        wait_for(lambda: counts(project, run_id)[0][0] == 2, what="the engine to store 2 finished steps")
        engine.send_signal(signal.SIGKILL)
        engine.wait(timeout=10)
    finally:
        if engine.poll() is None:
            engine.kill()
        engine.communicate()
    wait_for(lambda: project.runs()[0]["engine"] == "lost", what="the engine to be seen lost")
    said = project.uet("cancel", run_id, check=True).stdout
    assert "no engine was running it" in said
    assert assert_true_counts(project, run_id) == (5, 0, 0, 3, 0)
    tally = project.runs()[0]["progress"]
    assert (tally["succeeded"], tally["canceled"], tally["remaining"]) == (2, 3, 0)


def test_a_pause_reads_pausing_while_the_running_step_finishes(project: Project) -> None:
    project.write("ws.yaml", WAITING)
    engine, run_id = project.start(project.root / "ws.yaml")
    try:
        wait_for(lambda: (project.root / "started").exists(), what="the slow step to start")
        project.uet("pause", run_id, "--reason", "lunch", check=True)
        wait_for(lambda: run_row(project, run_id)["pausing"], what="the engine to record the pause")
        row = run_row(project, run_id)
        assert (row["state"], row["pausing"]) == ("running", "lunch")
        assert project.status(run_id)["pausing"] == "lunch"
        listed = project.uet("runs", check=True).stdout
        assert "‖ pausing" in listed, listed
        status = project.uet("status", run_id, check=True).stdout
        assert "pausing (lunch)" in status and "1 running step(s) finish" in status, status
        (project.root / "go").touch()
        engine.wait(timeout=30)
    finally:
        if engine.poll() is None:
            engine.kill()
        engine.communicate()
    row = run_row(project, run_id)
    assert (row["state"], row["pausing"]) == ("paused", None)
    assert assert_true_counts(project, run_id) == (3, 0, 0, 0, 0)
    with sqlite3.connect(project.db) as conn:
        kinds = [json.loads(d) for (d,) in conn.execute(
            "SELECT data FROM events WHERE run_id = ? AND kind = 'run.activity' ORDER BY seq", (run_id,))]
    assert kinds[0]["pausing"] == "lunch" and kinds[0]["running"] == 1


def test_a_retry_held_by_an_open_breaker_says_when_it_really_runs(project: Project) -> None:
    """The backoff is 10 ms but the tool's breaker opens for 2 s on the failure: the event says
    the later time, and the next attempt does not start before it."""
    project.write(".uet/router.yaml", """
        tools:
          flaky:
            command: [sh, -c, "test -f ok || { touch ok; exit 1; }"]
            capabilities: [flaky]
            breaker: {consecutive_failures: 1, open_for: 2s}
    """)
    project.write("ws.yaml", """
        name: held
        steps:
          - id: s
            kind: flaky
            retry: {max_attempts: 2, backoff: 10ms}
    """)
    result = project.uet("run", "--plain", "ws.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    run_id = project.runs()[0]["id"]
    with sqlite3.connect(project.db) as conn:
        ts, data = conn.execute("SELECT ts, data FROM events WHERE run_id = ? AND kind = 'step.state' "
                                "AND json_extract(data, '$.to') = 'retrying'", (run_id,)).fetchone()
        second = conn.execute("SELECT started_at FROM attempts WHERE run_id = ? AND number = 2",
                              (run_id,)).fetchone()[0]
        (opened,) = conn.execute("SELECT data FROM events WHERE kind = 'breaker.state' "
                                 "AND json_extract(data, '$.to') = 'open'").fetchone()
    data = json.loads(data)
    probe_at = json.loads(opened)["next_probe_at"]
    assert data["held_by"] == "flaky" and 0 <= data["backoff"] <= 0.01  # full jitter: 0 to 10 ms
    # The time said is the breaker's probe time, not the 10 ms backoff (however loaded the machine).
    assert data["delay"] <= 2.0 and abs(ts + data["delay"] - probe_at) < 0.01, (data, ts, probe_at)
    assert second >= ts + data["delay"] - 0.05, "the retry started before the time its event said"
    logs = project.uet("logs", run_id, check=True).stdout
    assert "when breaker flaky lets a probe through (backoff " in logs, logs


def test_four_flaky_scripts_do_not_stall_an_unrelated_step(project: Project) -> None:
    """Ad-hoc ``run:`` steps share an executable but no breaker: four failing python3 scripts
    leave the fifth, unrelated one to run at once, in this run and the next."""
    project.write(".uet/router.yaml", "breaker: {consecutive_failures: 2, open_for: 60s}\ntools: {}\n")
    fail = "python3 -c 'raise SystemExit(1)'"
    project.write("ws.yaml", f"""
        name: flaky
        max_parallel: 1
        steps:
          - {{id: f1, run: "{fail}"}}
          - {{id: f2, run: "{fail}"}}
          - {{id: f3, run: "{fail}"}}
          - {{id: f4, run: "{fail}"}}
          - {{id: fine, run: "python3 -c 'print(1)'"}}
    """)
    for _ in range(2):
        result = project.uet("run", "--plain", "ws.yaml", timeout=50)
        assert result.returncode == 1, result.stdout + result.stderr
        run_id = project.runs()[0]["id"]
        status = project.status(run_id)
        states = {s["id"]: (s["state"], s["attempts"]) for s in status["steps"]}
        assert states == {"f1": ("failed", 1), "f2": ("failed", 1), "f3": ("failed", 1), "f4": ("failed", 1),
                          "fine": ("succeeded", 1)}
        assert status["breakers"] == [], "an ad-hoc command's failures opened a breaker"
        assert "breaker" not in project.uet("logs", run_id, check=True).stdout


def test_a_run_held_by_an_open_breaker_reads_waiting_with_its_probe_time(project: Project) -> None:
    """The first step's failure opens its tool's breaker; the second step, of the same tool, can
    only wait: nothing executes, and the run says what it waits on instead of "running"."""
    held_by_breaker(project, "15s")
    engine, run_id = project.start(project.root / "ws.yaml")
    try:
        row = wait_for(lambda: (r := run_row(project, run_id))["waiting_on"] and r, what="the run to say it waits")
        assert (row["state"], row["waiting_on"], row["running_steps"]) == ("running", "flaky", 0)
        with sqlite3.connect(project.db) as conn:
            opened = conn.execute("SELECT opened_at FROM breakers WHERE tool = 'flaky'").fetchone()[0]
        assert abs(row["waiting_until"] - (opened + 15.0)) < 0.001, "the breaker probes 15 s after it opened"
        status = project.uet("status", run_id, check=True).stdout
        assert "waiting on breaker flaky (probe in" in status, status
        assert "○ waiting on breaker flaky" in project.uet("runs", check=True).stdout
        project.uet("breakers", "reset", "flaky", check=True)  # rather than wait out the 15 s
        engine.wait(timeout=30)
    finally:
        if engine.poll() is None:
            engine.kill()
        engine.communicate()
    row = run_row(project, run_id)
    assert (row["state"], row["waiting_on"], row["waiting_until"]) == ("failed", None, None)
    assert assert_true_counts(project, run_id) == (2, 1, 0, 0, 0)


def test_a_retry_taken_by_the_running_engine_keeps_the_counts_true(project: Project) -> None:
    """The engine executing the run reopens the failed step (and the one it skipped) itself:
    its stored counts follow, while it runs and at its end."""
    project.write(".uet/router.yaml", QUIET_BREAKERS)
    project.write("ws.yaml", """
        name: live-retry
        max_parallel: 2
        steps:
          - {id: bad, run: "sh -c 'test -f pass'"}
          - {id: after, run: "true", needs: [bad]}
          - {id: slow, run: "sh -c 'while [ ! -f go ]; do sleep 0.05; done'"}
    """)
    engine, run_id = project.start(project.root / "ws.yaml")
    try:
        wait_for(lambda: counts(project, run_id)[0][:3] == (2, 1, 1), what="bad to fail and skip after")
        assert_true_counts(project, run_id)
        (project.root / "pass").touch()
        assert "retrying bad and 1 dependent steps" in project.uet("retry", run_id, "bad", check=True).stdout
        wait_for(lambda: counts(project, run_id)[0][:3] == (2, 0, 0), what="the engine to run bad and after again")
        assert_true_counts(project, run_id)
        (project.root / "go").touch()
        engine.wait(timeout=30)
    finally:
        if engine.poll() is None:
            engine.kill()
        engine.communicate()
    assert run_row(project, run_id)["state"] == "succeeded"
    assert assert_true_counts(project, run_id) == (3, 0, 0, 0, 0)
