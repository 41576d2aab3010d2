"""End-to-end behaviour through the real ``uet`` command: crash safety after ``kill -9``,
cross-process cancel, breakers routing around a real flaky tool, detached runs, ownership."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import time

import pytest

from store.writer import LEASE_SECONDS
from tests.conftest import Project, pid_dead, wait_for

pytestmark = pytest.mark.slow


def step_states(project: Project, run_id: str) -> dict[str, str]:
    return {s["id"]: s["state"] for s in project.status(run_id)["steps"]}


def only_run(project: Project) -> str:
    runs = wait_for(project.runs, what="a run to be created")
    return runs[0]["id"]


def db_query(project: Project, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(project.db) as conn:
        return conn.execute(sql, params).fetchall()


def test_kill_9_then_resume_completes_without_rerunning_succeeded_steps(project: Project) -> None:
    project.script("long.sh", """
        echo $$ >> pids
        if [ -f second-time ]; then echo done; exit 0; fi
        touch second-time
        sleep 60
    """)
    workstream = project.write("ws.yaml", """
        name: crashy
        max_parallel: 2
        steps:
          - id: first
            run: sh -c 'echo ran >> first.count'
          - id: long
            needs: [first]
            run: ./long.sh
            retry: {max_attempts: 2, backoff: 10ms}
          - id: last
            needs: [long]
            run: sh -c 'echo ran >> last.count'
    """)
    engine, run_id = project.start(workstream)
    wait_for(lambda: (project.root / "pids").exists(), what="the long step to start")
    orphan = int((project.root / "pids").read_text().split()[0])
    wait_for(lambda: db_query(project, "SELECT pid FROM attempts WHERE step_id = 'long' AND pid IS NOT NULL"),
             what="the attempt's pid to be recorded")
    engine.send_signal(signal.SIGKILL)
    engine.communicate(timeout=10)
    assert not pid_dead(orphan), "the tool outlives its killed engine until someone reaps it"

    resumed = project.uet("resume", "--plain", run_id, timeout=60)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert re.search(r"run recovered by a new engine \(previous worker \w+ lost\)", resumed.stdout), resumed.stdout
    assert "step long attempt 1 crashed: its engine was lost" in resumed.stdout
    assert "step long running → succeeded after attempt 2" in resumed.stdout

    wait_for(lambda: pid_dead(orphan), timeout=5, what="the orphaned tool to be killed")
    assert (project.root / "first.count").read_text().count("ran") == 1
    assert (project.root / "last.count").read_text().count("ran") == 1
    status = project.status(run_id)
    assert status["state"] == "succeeded"
    attempts = db_query(project, "SELECT number, state FROM attempts WHERE run_id = ? AND step_id = 'long' "
                                 "ORDER BY number", run_id)
    assert attempts == [(1, "crashed"), (2, "succeeded")]
    assert db_query(project, "PRAGMA integrity_check") == [("ok",)]
    kinds = [k for (k,) in db_query(project, "SELECT kind FROM events WHERE run_id = ? ORDER BY seq", run_id)]
    assert "run.recovered" in kinds and "attempt.crashed" in kinds


def test_cancel_from_another_process_stops_the_run_and_its_process_group(project: Project) -> None:
    project.script("tree.sh", """
        trap '' TERM
        sh -c 'trap "" TERM; echo $$ >> pids; sleep 60' &
        echo $$ >> pids
        sleep 60
    """)
    workstream = project.write("ws.yaml", """
        name: cancel-me
        steps:
          - id: stubborn
            run: ./tree.sh
          - id: after
            needs: [stubborn]
            run: "true"
    """)
    engine, run_id = project.start(workstream)
    wait_for(lambda: (project.root / "pids").exists() and len((project.root / "pids").read_text().split()) == 2,
             what="the process tree to start")
    pids = [int(p) for p in (project.root / "pids").read_text().split()]
    cancel = project.uet("cancel", run_id, timeout=30)
    assert cancel.returncode == 0, cancel.stdout + cancel.stderr
    assert "canceled in" in cancel.stdout
    reported = float(cancel.stdout.split("canceled in ")[1].split("s")[0])
    assert reported < 1.0, cancel.stdout
    out, _err = engine.communicate(timeout=10)
    assert engine.returncode == 1
    for pid in pids:
        assert pid_dead(pid), f"pid {pid} survived the cancel"
    assert step_states(project, run_id) == {"stubborn": "canceled", "after": "canceled"}
    assert project.status(run_id)["state"] == "canceled"


def test_breaker_opens_routes_around_a_flaky_tool_probes_and_closes(project: Project) -> None:
    project.script("flaky.sh", """
        echo "$1" >> flaky.calls
        if [ -f broken ]; then exit 1; fi
        exit 0
    """)
    project.write("broken", "")
    project.write(".uet/router.yaml", """
        strategy: fixed
        tools:
          flaky:
            command: ["./flaky.sh", "{step}"]
            capabilities: [code_edit]
            breaker: {consecutive_failures: 2, open_for: 1s}
          steady:
            command: ["sh", "-c", "echo {step} >> steady.calls"]
            capabilities: [code_edit]
        rules:
          - kind: code_edit
            tools: [flaky, steady]
    """)
    workstream = project.write("ws.yaml", """
        name: breaker
        max_parallel: 1
        retry: {max_attempts: 3, backoff: 10ms, max_backoff: 10ms}
        steps:
          - id: e1
            kind: code_edit
          - id: e2
            kind: code_edit
            needs: [e1]
          - id: heal
            needs: [e2]
            run: sh -c 'rm -f broken && sleep 1.3'
          - id: e3
            kind: code_edit
            needs: [heal]
          - id: e4
            kind: code_edit
            needs: [e3]
    """)
    result = project.uet("run", "--plain", str(workstream), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    run_id = only_run(project)
    lines = result.stdout.splitlines()
    text = result.stdout
    assert "breaker flaky closed → open" in text
    assert "routed around flaky (breaker open)" in text
    assert "breaker flaky open → half_open" in text
    assert "half-open probe" in text
    assert "breaker flaky half_open → closed" in text
    order = [i for i, line in enumerate(lines) if "breaker flaky" in line]
    assert [lines[i].split("breaker flaky ")[1].split(":")[0] for i in order] == [
        "closed → open", "open → half_open", "half_open → closed"]
    assert (project.root / "flaky.calls").read_text().split() == ["e1", "e1", "e3", "e4"]
    assert (project.root / "steady.calls").read_text().split() == ["e1", "e2"]
    breaker = project.status(run_id)["breakers"]
    assert {b["tool"]: b["state"] for b in breaker}["flaky"] == "closed"


def test_detached_run_survives_its_terminal_and_reports_through_status(project: Project) -> None:
    workstream = project.write("ws.yaml", """
        name: background
        steps:
          - id: slow
            run: sh -c 'while [ ! -e go ]; do sleep 0.05; done; echo finished'
          - id: after
            needs: [slow]
            run: "true"
    """)
    # A login shell in its own session starts the detached run and keeps going; then the whole
    # session is killed, as a closing terminal or SSH link would do.
    command = " ".join(f"'{a}'" for a in project.argv("run", "--detach", str(workstream)))
    session = subprocess.Popen(["setsid", "sh", "-c", f"{command} > run-id 2> detach.err; sleep 60"],
                               cwd=project.root, env=project.env(), stdin=subprocess.DEVNULL)
    run_id = wait_for(lambda: (project.root / "run-id").exists() and (project.root / "run-id").read_text().strip(),
                      what="the run id")
    try:
        assert len(run_id) == 12, (project.root / "detach.err").read_text()
        assert project.status(run_id)["state"] == "running"  # its first step waits for `go`
    finally:
        os.killpg(session.pid, signal.SIGHUP)
        os.killpg(session.pid, signal.SIGKILL)
        session.wait(timeout=10)
    (project.root / "go").touch()  # the terminal is gone: now let the run finish
    final = wait_for(lambda: (doc := project.status(run_id))["state"] not in ("pending", "running") and doc,
                     timeout=30, what="the detached run to finish")
    assert final["state"] == "succeeded"
    log = project.uet("logs", run_id, "slow", check=True)
    assert "finished" in log.stdout


def test_a_second_engine_cannot_take_a_run_that_is_being_executed(project: Project) -> None:
    workstream = project.write("ws.yaml", """
        name: owned
        steps:
          - id: wait
            run: sh -c 'touch started; sleep 30'
    """)
    engine, run_id = project.start(workstream)
    wait_for(lambda: (project.root / "started").exists(), what="the step to start")
    other = project.uet("resume", "--plain", run_id, timeout=30)
    assert other.returncode == 0
    assert "not paused: nothing to resume" in other.stdout
    retry = project.uet("retry", run_id, "wait", timeout=30)
    assert "only failed, canceled or skipped" in retry.stdout + retry.stderr
    project.uet("cancel", run_id, check=True)
    engine.communicate(timeout=10)
    attempts = db_query(project, "SELECT COUNT(*) FROM attempts WHERE run_id = ?", run_id)
    assert attempts == [(1,)]


def test_timeouts_written_as_durations_kill_the_step(project: Project) -> None:
    """Step and workstream timeouts are read back from the stored spec as durations ("1s")."""
    workstream = project.write("ws.yaml", """
        name: slow
        timeout: 500ms
        retry: {max_attempts: 1}
        steps:
          - id: own
            timeout: 1s
            run: sleep 30
          - id: inherited
            run: sleep 30
    """)
    result = project.uet("run", "--plain", str(workstream), timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    run_id = only_run(project)
    steps = {s["id"]: s for s in project.status(run_id)["steps"]}
    assert steps["own"]["state"] == "failed" and steps["inherited"]["state"] == "failed"
    assert re.search(r"step own running → failed after attempt 1 in [\d.]+m?s, exit -15: timed out after 1s; "
                     r"process tree killed", result.stdout), result.stdout
    assert re.search(r"step inherited running → failed after attempt 1 in [\d.]+m?s, exit -15: timed out after "
                     r"0\.5s; process tree killed", result.stdout), result.stdout
    attempts = db_query(project, "SELECT step_id, state, exit_code FROM attempts WHERE run_id = ? ORDER BY step_id",
                        run_id)
    assert attempts == [("inherited", "timed_out", -15), ("own", "timed_out", -15)]


def test_an_engine_that_was_stopped_and_taken_over_runs_and_records_nothing_more(project: Project) -> None:
    """An engine frozen (SIGSTOP, a suspended laptop) until another engine took its run over
    must, once it wakes, neither start a step again nor write over what the new engine did."""
    workstream = project.write("ws.yaml", """
        name: frozen
        steps:
          - id: s1
            run: sh -c 'echo s1-{attempt} >> exec.log; if [ {attempt} = 1 ]; then sleep 30; fi'
            retry: {max_attempts: 3, backoff: 10ms}
          - id: s2
            needs: [s1]
            run: sh -c 'echo s2-{attempt} >> exec.log'
    """)
    engine, run_id = project.start(workstream)
    wait_for(lambda: db_query(project, "SELECT pid FROM attempts WHERE step_id = 's1' AND pid IS NOT NULL"),
             what="the first attempt's pid to be recorded")
    time.sleep(0.3)  # let the engine settle into waiting for its child
    old_worker = db_query(project, "SELECT worker_id FROM runs WHERE id = ?", run_id)[0][0]
    engine.send_signal(signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        # What STALE_SECONDS of silence would do, without the wait: the frozen engine's heartbeat
        # is stale, so another engine may take the run over.
        with sqlite3.connect(project.db) as conn:
            conn.execute("UPDATE workers SET heartbeat_at = heartbeat_at - 60 WHERE id = ?", (old_worker,))
        resumed = project.uet("resume", "--plain", run_id, timeout=60)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        # A takeover implies the engine was away longer than its lease, as it would have been.
        time.sleep(max(0.0, LEASE_SECONDS + 0.5 - (time.monotonic() - stopped)))
    finally:
        engine.send_signal(signal.SIGCONT)
    _out, err = engine.communicate(timeout=30)
    assert engine.returncode == 1, _out + err + project.read("exec.log")
    assert "taken over by another engine" in err
    assert "canceled" not in _out  # the attempt it stopped is not told as if it were recorded

    assert project.read("exec.log").split() == ["s1-1", "s1-2", "s2-1"]
    assert db_query(project, "SELECT state FROM workers WHERE id = ?", old_worker) == [("lost",)]
    attempts = db_query(project, "SELECT step_id, number, state FROM attempts WHERE run_id = ? "
                                 "ORDER BY step_id, number", run_id)
    assert attempts == [("s1", 1, "crashed"), ("s1", 2, "succeeded"), ("s2", 1, "succeeded")]
    ends = db_query(project, "SELECT COUNT(*) FROM events WHERE run_id = ? AND kind = 'run.state' "
                             "AND json_extract(data, '$.to') = 'succeeded'", run_id)
    assert ends == [(1,)]
    assert project.status(run_id)["state"] == "succeeded"
