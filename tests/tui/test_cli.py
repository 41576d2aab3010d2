"""The read and steer commands as a user types them: JSON shapes, prefixes, logs (and
following them), retry and resume of a failed run, pause, exit codes."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.conftest import Project, pid_dead, wait_for

pytestmark = pytest.mark.slow


def sqlite_rows(project: Project, sql: str) -> list[tuple]:
    with sqlite3.connect(project.db) as conn:
        return conn.execute(sql).fetchall()


def test_help_lists_every_command(project: Project) -> None:
    result = project.uet("--help", check=True)
    for command in ("validate", "run", "runs", "status", "logs", "cancel", "retry", "resume", "pause", "demo"):
        assert command in result.stdout


def test_run_status_runs_and_logs(project: Project) -> None:
    workstream = project.write("ws.yaml", """
        name: shapes
        steps:
          - id: hello
            run: sh -c 'echo hello from {step} attempt {attempt}'
          - id: "pkg-{name}"
            matrix: {name: [a, b]}
            needs: [hello]
            run: sh -c 'echo {name}'
    """)
    result = project.uet("run", "--plain", str(workstream), check=True)
    assert "run " in result.stdout and "✔ succeeded" in result.stdout
    runs = project.runs()
    assert [set(r) >= {"id", "state", "workstream"} for r in runs] == [True]
    run_id = runs[0]["id"]
    assert runs[0]["state"] == "succeeded" and runs[0]["workstream"] == "shapes"

    status = project.status(run_id[:5])
    assert status["id"] == run_id and status["state"] == "succeeded"
    assert [(s["id"], s["state"], s["attempts"]) for s in status["steps"]] == [
        ("hello", "succeeded", 1), ("pkg-a", "succeeded", 1), ("pkg-b", "succeeded", 1)]

    text = project.uet("status", run_id, check=True).stdout
    assert "✔ succeeded" in text and "pkg-b" in text

    log = project.uet("logs", run_id, "hello", check=True).stdout
    assert log.strip() == "hello from hello attempt 1"
    events = project.uet("logs", run_id, "--json", check=True).stdout.splitlines()
    kinds = [json.loads(line)["kind"] for line in events]
    assert kinds[0] == "run.created" and kinds[-1] == "run.state"
    assert kinds.count("step.state") == 9  # three moves for each of three steps

    table = project.uet("runs", check=True).stdout
    assert run_id in table and "3/3 100%" in table


def test_bad_prefixes_and_unknown_steps_are_input_errors(project: Project) -> None:
    workstream = project.write("ws.yaml", "name: one\nsteps:\n  - id: a\n    run: 'true'\n")
    project.uet("run", "--plain", str(workstream), check=True)
    project.uet("run", "--plain", str(workstream), check=True)
    missing = project.uet("status", "zzzz")
    assert missing.returncode == 2 and "no run matches 'zzzz'" in missing.stderr
    run_id = project.runs()[0]["id"]
    unknown = project.uet("logs", run_id, "nope")
    assert unknown.returncode == 2 and "has no step 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_a_failed_run_exits_1_then_retry_and_resume_finish_it(project: Project) -> None:
    project.script("gate.sh", """
        if [ -f fixed ]; then echo fixed; exit 0; fi
        echo "broken: exit 3"
        exit 3
    """)
    workstream = project.write("ws.yaml", """
        name: fixable
        steps:
          - id: check
            run: ./gate.sh
          - id: after
            needs: [check]
            run: sh -c 'echo after >> after.count'
          - id: independent
            run: "true"
    """)
    failed = project.uet("run", "--plain", str(workstream))
    assert failed.returncode == 1
    assert "exit 3" in failed.stdout
    run_id = project.runs()[0]["id"]
    status = project.status(run_id)
    assert status["state"] == "failed"
    assert {s["id"]: s["state"] for s in status["steps"]} == {
        "check": "failed", "after": "skipped", "independent": "succeeded"}

    still = project.uet("retry", "--plain", run_id, "check")
    assert still.returncode == 1
    assert project.status(run_id)["steps"][0]["attempts"] == 2

    project.write("fixed", "")
    fixed = project.uet("resume", "--plain", run_id)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    status = project.status(run_id)
    assert status["state"] == "succeeded"
    steps = {s["id"]: s for s in status["steps"]}
    assert steps["check"]["attempts"] == 3 and steps["independent"]["attempts"] == 1
    assert (project.root / "after.count").read_text() == "after\n"
    log = project.uet("logs", run_id, "check", "--attempt", "1", check=True).stdout
    assert "broken" in log


def test_logs_follow_streams_a_running_step_until_it_ends(project: Project) -> None:
    workstream = project.write("ws.yaml", """
        name: chatty
        steps:
          - id: talk
            run: sh -c 'for i in 1 2 3 4 5; do echo line $i; sleep 0.3; done'
    """)
    engine, run_id = project.start(workstream)
    follow = project.uet("logs", run_id, "talk", "--follow", timeout=30)
    engine.communicate(timeout=30)
    assert follow.returncode == 0
    assert [line for line in follow.stdout.splitlines() if line.startswith("line")] == [f"line {i}" for i in range(1, 6)]
    events = project.uet("logs", run_id, "--follow", timeout=30)
    assert "run running → succeeded" in events.stdout


def test_pause_then_resume(project: Project) -> None:
    workstream = project.write("ws.yaml", """
        name: pausable
        max_parallel: 1
        steps:
          - id: first
            run: sh -c 'touch started; while [ ! -e go ]; do sleep 0.05; done'
          - id: second
            needs: [first]
            run: "true"
    """)
    engine, run_id = project.start(workstream)
    wait_for(lambda: (project.root / "started").exists(), what="the first step")
    pausing = project.spawn("pause", run_id)
    # The first step goes on only once the engine has taken the pause request.
    def pause_taken() -> bool:
        with sqlite3.connect(project.root / ".uet" / "uet.db") as db:
            return db.execute("SELECT COUNT(*) FROM commands WHERE kind = 'pause' AND done_at IS NOT NULL"
                              ).fetchone()[0] == 1

    wait_for(pause_taken, what="the engine to take the pause request")
    (project.root / "go").touch()
    out, _err = pausing.communicate(timeout=30)
    assert "paused" in out
    engine.communicate(timeout=30)
    assert engine.returncode == 1
    status = project.status(run_id)
    assert status["state"] == "paused"
    assert {s["id"]: s["state"] for s in status["steps"]} == {"first": "succeeded", "second": "ready"}
    resumed = project.uet("resume", "--plain", run_id, timeout=30)
    assert resumed.returncode == 0
    assert project.status(run_id)["state"] == "succeeded"


def test_cancel_of_a_run_no_engine_is_running(project: Project) -> None:
    workstream = project.write("ws.yaml", """
        name: orphan
        steps:
          - id: long
            run: sh -c 'echo $$ > started; sleep 30'
    """)
    engine, run_id = project.start(workstream)
    tool_pid = int(wait_for(lambda: project.read("started"), what="the step"))
    wait_for(lambda: project.status(run_id)["steps"][0]["attempts"] == 1, what="the attempt to be recorded")
    wait_for(lambda: sqlite_rows(project, "SELECT pid FROM attempts WHERE pid IS NOT NULL"), what="the tool's pid")
    engine.kill()
    engine.communicate(timeout=10)
    result = project.uet("cancel", run_id, check=True)
    assert "no engine was running it" in result.stdout
    assert project.status(run_id)["state"] == "canceled"
    wait_for(lambda: pid_dead(tool_pid), timeout=5, what="the orphaned tool to be killed")
    again = project.uet("cancel", run_id, check=True)
    assert "already canceled" in again.stdout
