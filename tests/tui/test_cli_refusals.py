"""The command line's answers at the edges: following the log of a step that never runs, a
pause that returns once the engine has it, refused requests (exit 1 whether or not an engine
is live), attempts that do not exist, step logs as JSON lines, big logs read in chunks,
separators between attempts, ``runs --limit`` and ``run --detach --json``."""

from __future__ import annotations

import json
import os
import select
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.conftest import Project, pid_dead, wait_for

pytestmark = pytest.mark.slow

WAITER = "sh -c 'touch started; while [ ! -e go ]; do sleep 0.05; done'"


def sqlite_rows(project: Project, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(project.db) as conn:
        return conn.execute(sql, params).fetchall()


def run_to_end(project: Project, workstream: object, code: int) -> str:
    """Run a workstream in the foreground; return its id (from the final JSON status)."""
    result = project.uet("run", "--json", str(workstream))
    assert result.returncode == code, result.stdout + result.stderr
    return str(json.loads(result.stdout)["id"])


def stop(project: Project, engine: subprocess.Popen[str]) -> None:
    """Let a waiting step finish and make sure the engine this test started is gone."""
    (project.root / "go").touch()
    try:
        engine.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        engine.kill()
        engine.communicate(timeout=10)


def test_logs_follow_ends_for_a_step_that_will_never_run(project: Project) -> None:
    workstream = project.write("sk.yaml", """
        name: sk
        steps:
          - id: a
            run: sh -c "exit 1"
          - id: b
            needs: [a]
            run: echo b
    """)
    run_id = run_to_end(project, workstream, 1)
    plain = project.uet("logs", run_id, "b", timeout=10)
    follow = project.uet("logs", run_id, "b", "--follow", timeout=10)
    assert "step b has not run yet (skipped)" in plain.stderr
    assert follow.stderr == plain.stderr and follow.stdout == plain.stdout == ""
    assert follow.returncode == plain.returncode == 0


@pytest.mark.parametrize(("ending", "state"), [("a fails", "skipped"), ("the run is canceled", "canceled")])
def test_logs_follow_ends_when_a_live_run_ends_the_step_before_it_runs(project: Project, ending: str,
                                                                         state: str) -> None:
    workstream = project.write("sk.yaml", """
        name: sk
        steps:
          - id: a
            run: sh -c 'touch started; while [ ! -e go ]; do sleep 0.05; done; exit 1'
          - id: b
            needs: [a]
            run: echo b
    """)
    engine, run_id = project.start(workstream)
    try:
        wait_for(lambda: (project.root / "started").exists(), what="step a")
        follow_b = project.spawn("logs", run_id, "b", "--follow")
        time.sleep(0.5)
        if ending == "a fails":
            (project.root / "go").touch()
        else:
            project.uet("cancel", run_id, check=True)
        _out, err = follow_b.communicate(timeout=10)
        assert follow_b.returncode == 0 and f"step b has not run yet ({state})" in err
    finally:
        stop(project, engine)


def test_pause_returns_once_the_engine_has_the_request_and_status_shows_it(project: Project) -> None:
    workstream = project.write("ws.yaml", f"""
        name: pausable
        steps:
          - id: first
            run: {WAITER}
          - id: second
            needs: [first]
            run: "true"
    """)
    engine, run_id = project.start(workstream)
    try:
        wait_for(lambda: (project.root / "started").exists(), what="the first step")
        # The first step waits for a file nobody writes yet: a pause that waited for it would
        # time out here.
        paused = project.uet("pause", run_id, timeout=20)
        assert paused.returncode == 0, paused.stdout + paused.stderr
        assert "pause requested" in paused.stdout and "1 running step(s)" in paused.stdout
        assert sqlite_rows(project, "SELECT result FROM commands WHERE kind = 'pause'") == [("pausing",)]
        assert "pausing" in project.uet("status", run_id, check=True).stdout
        assert project.status(run_id)["pausing"]
        (project.root / "go").touch()
        engine.communicate(timeout=10)
        assert engine.returncode == 1
    finally:
        stop(project, engine)
    status = project.status(run_id)
    assert status["state"] == "paused" and status["pausing"] is None
    again = project.uet("pause", run_id)
    assert again.returncode == 0 and "already paused" in again.stdout


def test_requests_a_live_engine_refuses_exit_1(project: Project) -> None:
    workstream = project.write("ws.yaml", f"""
        name: refusals
        steps:
          - id: ok
            run: "true"
          - id: x
            needs: [ok]
            run: {WAITER}
          - id: y
            needs: [x]
            run: "true"
    """)
    engine, run_id = project.start(workstream)
    try:
        wait_for(lambda: (project.root / "started").exists(), what="step x")
        for step, state in (("x", "running"), ("y", "pending"), ("ok", "succeeded")):
            refused = project.uet("retry", run_id, step, timeout=20)
            assert refused.returncode == 1, (step, refused.stdout, refused.stderr)
            assert f"step {step} is {state}; only failed, canceled or skipped steps are retried" in refused.stderr
        # A second engine for a run a live one executes is refused, not an internal error.
        second = project.uet("_exec", run_id, "--project", str(project.root), timeout=20)
        assert second.returncode == 1, second.stdout + second.stderr
        assert "is being executed by worker" in second.stderr and "internal error" not in second.stderr
    finally:
        stop(project, engine)
    assert sqlite_rows(project, "SELECT step_id, number FROM attempts ORDER BY started_at") == [("ok", 1), ("x", 1),
                                                                                                ("y", 1)]


def test_requests_refused_with_no_engine_exit_1(project: Project) -> None:
    workstream = project.write("ws.yaml", """
        name: refusals
        steps:
          - id: ok
            run: "true"
          - id: bad
            run: "false"
    """)
    run_id = run_to_end(project, workstream, 1)
    pause = project.uet("pause", run_id)
    assert pause.returncode == 1 and f"run {run_id} is failed; only a running run can be paused" in pause.stderr
    retry = project.uet("retry", "--plain", run_id, "ok")
    assert retry.returncode == 1
    assert "step ok is succeeded; only failed, canceled or skipped steps are retried" in retry.stderr
    assert project.uet("retry", "--plain", run_id, "nope").returncode == 2  # bad input stays 2
    assert sqlite_rows(project, "SELECT COUNT(*) FROM attempts") == [(2,)]


def test_two_resumes_at_once_never_report_an_internal_error(project: Project) -> None:
    workstream = project.write("ws.yaml", """
        name: raced
        steps:
          - id: slow
            run: sh -c 'echo $$ >> started; [ {attempt} = 2 ] || sleep 30'
            retry: {max_attempts: 2, backoff: 10ms}  # the attempt the kill cut short is retried
    """)
    engine, run_id = project.start(workstream)
    wait_for(lambda: project.read("started"), what="the step")
    engine.kill()
    engine.communicate(timeout=10)
    first = project.spawn("resume", "--plain", run_id)
    second = project.spawn("resume", "--plain", run_id)
    results = []
    for process in (first, second):
        out, err = process.communicate(timeout=30)
        results.append((process.returncode, out, err))
    for code, out, err in results:
        assert code in (0, 1), (code, out, err)
        if "is being executed by worker" in err:
            assert code == 1
    assert project.status(run_id)["state"] == "succeeded"
    for pid in project.read("started").split():
        wait_for(lambda pid=pid: pid_dead(int(pid)), what="the steps to end")


def test_logs_of_an_attempt_that_does_not_exist_is_bad_input(project: Project) -> None:
    workstream = project.write("ws.yaml", """
        name: twice
        steps:
          - id: a
            run: sh -c 'echo try {attempt}; exit 1'
            retry: {max_attempts: 2, backoff: 10ms}
    """)
    run_id = run_to_end(project, workstream, 1)
    assert project.uet("logs", run_id, "a", "--attempt", "2", check=True).stdout == "try 2\n"
    for number, extra in (("5", "--follow"), ("0", "--follow"), ("-1", "--json")):
        result = project.uet("logs", run_id, "a", "--attempt", number, extra, timeout=10)
        assert result.returncode == 2, (number, extra, result.stdout, result.stderr)
        assert f"step a has no attempt {number}; its attempts are 1, 2" in result.stderr
        assert result.stdout == ""


def test_step_logs_as_json_lines(project: Project) -> None:
    workstream = project.write("ws.yaml", r"""
        name: binary
        steps:
          - id: a
            run: [sh, -c, "printf 'bin\\377\\033[31mred\\nlast'"]
    """)
    run_id = run_to_end(project, workstream, 0)
    result = project.uet("logs", run_id, "a", "--json", check=True)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == [
        {"run": run_id, "step": "a", "attempt": 1, "stream": "stdout", "text": "bin\ufffd\x1b[31mred"},
        {"run": run_id, "step": "a", "attempt": 1, "stream": "stdout", "text": "last"},
    ]
    assert "\x1b" not in result.stdout
    follow = project.uet("logs", run_id, "a", "--json", "--follow", timeout=10)
    assert follow.returncode == 0 and follow.stdout == result.stdout


def test_a_big_log_is_printed_in_chunks(project: Project) -> None:
    workstream = project.write("ws.yaml", """
        name: big
        steps:
          - id: a
            run: echo small
    """)
    run_id = run_to_end(project, workstream, 0)
    [(log_path,)] = sqlite_rows(project, "SELECT log_path FROM attempts")
    line = "é" * 20 + "x" * 79 + "\n"  # multi-byte characters straddle the chunk boundaries
    with open(log_path, "w", encoding="utf-8") as handle:
        for _ in range(50):
            handle.write(line * 10_000)
    size = os.path.getsize(log_path)
    assert size > 50_000_000
    measure = ("import resource, subprocess, sys\n"
               "out = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE).stdout\n"
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, len(out), out.count(b'\\n'),"
               " out.count('é'.encode()), out.endswith(b'x\\n'))\n")
    result = subprocess.run([sys.executable, "-c", measure, *project.argv("logs", run_id, "a")], cwd=project.root,
                            env=project.env(), capture_output=True, text=True, timeout=60, check=True)
    peak_kib, length, newlines, accents, ends_well = result.stdout.split()
    assert (int(length), int(newlines), int(accents), ends_well) == (size, 500_000, 10_000_000, "True")
    assert int(peak_kib) < 100 * 1024, f"peak RSS {int(peak_kib) // 1024} MiB for a {size // 2**20} MiB log"


def test_follow_starts_the_next_attempts_separator_on_its_own_line(project: Project) -> None:
    workstream = project.write("ws.yaml", """
        name: partial
        steps:
          - id: a
            run: sh -c 'printf partial{attempt}; [ {attempt} = 2 ] && exit 0; while [ ! -e go ]; do sleep 0.05; done; exit 1'
            retry: {max_attempts: 2, backoff: 10ms}
    """)
    engine, run_id = project.start(workstream)
    try:
        wait_for(lambda: sqlite_rows(project, "SELECT COUNT(*) FROM attempts") == [(1,)], what="attempt 1")
        follow = project.spawn("logs", run_id, "a", "--follow")
        seen = b""
        deadline = time.monotonic() + 10
        while b"partial1" not in seen and time.monotonic() < deadline:
            if select.select([follow.stdout], [], [], 0.1)[0]:
                seen += os.read(follow.stdout.fileno(), 4096)
        assert b"partial1" in seen
        (project.root / "go").touch()
        rest, _err = follow.communicate(timeout=10)
    finally:
        stop(project, engine)
    assert follow.returncode == 0
    assert seen.decode() + rest == "partial1\n── attempt 2 (sh) ──\npartial2"


def test_runs_limit_below_1_is_bad_input(project: Project) -> None:
    workstream = project.write("ws.yaml", "name: quick\nsteps:\n  - id: a\n    run: 'true'\n")
    run_to_end(project, workstream, 0)
    for limit in ("0", "-1"):
        result = project.uet("runs", "--limit", limit)
        assert result.returncode == 2 and "--limit must be at least 1" in result.stderr, result.stderr
        assert result.stdout == ""


def test_run_detach_json_prints_the_run_as_json(project: Project) -> None:
    workstream = project.write("ws.yaml", "name: quick\nsteps:\n  - id: a\n    run: 'true'\n")
    detached = project.uet("run", "--detach", "--json", str(workstream), check=True)
    doc = json.loads(detached.stdout)
    assert doc["state"] in ("pending", "running", "succeeded")
    assert doc["workstream"] == "quick" and [s["id"] for s in doc["steps"]] == ["a"] and doc["detached"]["pid"] > 0
    wait_for(lambda: pid_dead(doc["detached"]["pid"]), what="the detached engine to end")
    assert sqlite_rows(project, "SELECT id, state FROM runs") == [(doc["id"], "succeeded")]


def test_a_pause_never_carried_out_is_not_shown_as_pausing(tmp_path) -> None:  # noqa: ANN001
    """A pause left for an engine that stopped before taking it is answered 'not carried out'
    when the next engine takes the run over; status must not say that run is pausing."""
    from store import Store, queries
    from tui.cli.output import pause_requested

    with Store(tmp_path / "uet.db") as store:
        store.create_run(run_id="r", workstream="w", source="ws.yaml", root=str(tmp_path), max_parallel=1,
                         spec={"name": "w"}, steps=[("a", "task", [], {"id": "a"})])
        store.db.execute_sql("UPDATE runs SET state = 'running' WHERE id = 'r'")
        store.register_worker("old", 1, "host")
        store.register_worker("new", 2, "host")
        store.claim_run("r", "old", lambda worker: True)
        store.insert_command("r", "pause", {"reason": "asked of old"}, "tester")
        assert pause_requested(queries.get_run("r"), "old") == "asked of old"
        store.claim_run("r", "new", lambda worker: True)  # old stopped before taking it
        assert pause_requested(queries.get_run("r"), "new") is None
        store.insert_command("r", "pause", {"reason": "asked of new"}, "tester")
        assert pause_requested(queries.get_run("r"), "new") == "asked of new"
        store.insert_command("r", "resume", {}, "tester")
        assert pause_requested(queries.get_run("r"), "new") is None
