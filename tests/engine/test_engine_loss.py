"""Engine loss through the real ``uet`` command: after ``kill -9`` of the engine, what it left
running is found by the marker in each child's environment and ended (by ``uet resume`` before
it starts anything, by ``uet cancel`` with no engine), and the crash does not spend the step's
retries, up to a bound for a step that keeps killing its engine."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from engine.runner import MAX_ENGINE_LOSSES
from tests.conftest import Project, pid_dead, wait_for

pytestmark = pytest.mark.slow

# The first attempt leaves helpers that no process group holds: one in its own session (the
# marker finds it), a daemon (fork, setsid, fork) and one in the attempt's group that ignores
# SIGTERM; then it waits for the engine to die. A later attempt records which of them it saw
# alive when it started, and succeeds.
HOSTILE = """
import os, signal, subprocess, sys, time
from pathlib import Path

number = sys.argv[1]
pids = Path("pids")


def alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


if number != "1":
    seen = [pid for pid in map(int, pids.read_text().split()) if alive(pid)]
    Path(f"seen.{number}").write_text(repr(seen))
    sys.exit(0)
kids = [subprocess.Popen(["sleep", "300"], start_new_session=True).pid,
        subprocess.Popen([sys.executable, "-c", "import signal, time; "
                          "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"]).pid]
if os.fork() == 0:
    os.setsid()
    if os.fork():
        os._exit(0)
    pids.with_name("daemon").write_text(str(os.getpid()))
    time.sleep(300)
    os._exit(0)
while not pids.with_name("daemon").exists():
    time.sleep(0.01)
kids.append(int(pids.with_name("daemon").read_text()))
pids.write_text(" ".join(map(str, [os.getpid(), *kids])))
print("ready", flush=True)
time.sleep(300)
"""


def db_query(project: Project, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(project.db) as conn:
        return conn.execute(sql, params).fetchall()


def survivors(pids: list[int], within: float = 10.0) -> list[int]:
    """Poll until the pids are gone; return (and kill) those left at the deadline."""
    deadline = time.monotonic() + within
    alive = [pid for pid in pids if not pid_dead(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in alive if not pid_dead(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    return alive


def start_and_kill(project: Project) -> tuple[str, list[int]]:
    """Run the hostile step with no retry policy; kill -9 the engine once its helpers run."""
    project.write("hostile.py", HOSTILE)
    workstream = project.write("ws.yaml", """
        name: lost
        steps:
          - id: hostile
            run: python3 hostile.py {attempt}
          - id: after
            needs: [hostile]
            run: sh -c 'echo ran >> after.count'
    """)
    engine, run_id = project.start(workstream)
    wait_for(lambda: project.read("pids"), what="the step's helpers to start")
    pids = [int(p) for p in project.read("pids").split()]
    engine.send_signal(signal.SIGKILL)
    engine.communicate(timeout=10)
    assert [pid for pid in pids if pid_dead(pid)] == [], "the helpers outlive their killed engine"
    return run_id, pids


def test_resume_ends_the_dead_engines_children_first_and_finishes_a_step_without_retries(project: Project) -> None:
    run_id, pids = start_and_kill(project)
    # As if the engine died before the attempt's pid was committed: only the marker is left.
    db_query(project, "UPDATE attempts SET pid = NULL")

    resumed = project.uet("resume", "--plain", run_id, timeout=60)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert survivors(pids) == []
    assert project.read("seen.2") == "[]", "the second attempt ran beside the first one's processes"
    assert project.status(run_id)["state"] == "succeeded"
    assert project.read("after.count") == "ran"
    attempts = db_query(project, "SELECT number, state, error FROM attempts WHERE step_id = 'hostile' "
                                 "ORDER BY number")
    assert attempts == [(1, "crashed", "the engine running this attempt was lost"), (2, "succeeded", None)]
    ended = db_query(project, "SELECT json_extract(data, '$.count') FROM events WHERE kind = 'run.orphans_ended'")
    assert ended and ended[0][0] >= len(pids)


def test_cancel_with_no_engine_ends_every_process_the_dead_engine_left(project: Project) -> None:
    run_id, pids = start_and_kill(project)
    started = time.monotonic()
    cancel = project.uet("cancel", run_id, timeout=30)
    took = time.monotonic() - started
    assert cancel.returncode == 0, cancel.stdout + cancel.stderr
    assert "no engine was running it" in cancel.stdout
    # The command returns once they are gone: nothing to wait for.
    assert [pid for pid in pids if not pid_dead(pid)] == [], f"survivors after {took:.2f}s"
    assert project.status(run_id)["state"] == "canceled"


# Attempts up to KILLS wait until their attempt is recorded (the pid committed), then kill their
# engine; later attempts fail.
KILLER = """
import os, signal, sqlite3, sys, time
run, step, number, kills = sys.argv[1:]
with open("attempts.log", "a") as log:
    log.write(number + "\\n")
if int(number) > int(kills):
    sys.exit(1)
with sqlite3.connect(".uet/uet.db") as conn:
    while not conn.execute("SELECT pid FROM attempts WHERE run_id = ? AND step_id = ? AND number = ? "
                           "AND pid IS NOT NULL", (run, step, int(number))).fetchall():
        time.sleep(0.01)
os.kill(os.getppid(), signal.SIGKILL)
"""


def killer(project: Project, kills: int, retry: str = "") -> Path:
    project.write("killer.py", KILLER)
    return project.write("ws.yaml", f"""
        name: killer
        steps:
          - id: killer
            run: python3 killer.py {{run}} {{step}} {{attempt}} {kills}
            {retry}
    """)


def test_engine_loss_does_not_spend_the_steps_retries(project: Project) -> None:
    engine, run_id = project.start(killer(project, 1, "retry: {max_attempts: 2, backoff: 10ms}"))
    engine.communicate(timeout=60)
    assert engine.returncode == -signal.SIGKILL
    resumed = project.uet("resume", "--plain", run_id, timeout=60)
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    # The lost attempt is not one of the two the policy allows: two real failures follow it.
    attempts = db_query(project, "SELECT number, state FROM attempts ORDER BY number")
    assert attempts == [(1, "crashed"), (2, "failed"), (3, "failed")]
    assert "2 of 2 attempts used" in (project.status(run_id)["steps"][0].get("reason") or "")


def resume_until_the_bound(project: Project, run_id: str) -> None:
    """Resume a run whose step kills its engine each time: every resume but the last dies with
    its engine, the last fails the step (exit 1), and each resume made exactly one attempt."""
    for _ in range(MAX_ENGINE_LOSSES - 1):
        resumed = project.uet("resume", "--plain", run_id, timeout=60)
        assert resumed.returncode == -signal.SIGKILL, resumed.stdout + resumed.stderr
    final = project.uet("resume", "--plain", run_id, timeout=60)
    assert final.returncode == 1, final.stdout + final.stderr
    assert project.read("attempts.log").split() == [str(n) for n in range(1, MAX_ENGINE_LOSSES + 1)]


def test_a_step_that_keeps_killing_its_engine_fails_after_the_bound(project: Project) -> None:
    workstream = killer(project, 99)
    engine, run_id = project.start(workstream)
    engine.communicate(timeout=60)
    assert engine.returncode == -signal.SIGKILL
    resume_until_the_bound(project, run_id)
    step = project.status(run_id)["steps"][0]
    assert step["state"] == "failed"
    assert f"the engine was lost {MAX_ENGINE_LOSSES} times in a row" in (step.get("reason") or ""), step


def test_an_attempt_the_engine_died_before_recording_still_counts_as_a_loss(project: Project) -> None:
    # The step kills its engine at once, most often before the attempt's row is committed, and
    # stays behind: the resume finds it by its marker, ends it and counts the loss all the same.
    workstream = project.write("ws.yaml", """
        name: quick-killer
        steps:
          - id: quick
            run: sh -c 'echo {attempt} >> attempts.log; kill -9 $PPID; exec sleep 300'
    """)
    engine, run_id = project.start(workstream)
    engine.communicate(timeout=60)
    resume_until_the_bound(project, run_id)
    attempts = db_query(project, "SELECT number, state FROM attempts ORDER BY number")
    assert attempts == [(n, "crashed") for n in range(1, MAX_ENGINE_LOSSES + 1)]
    assert f"the engine was lost {MAX_ENGINE_LOSSES} times" in (project.status(run_id)["steps"][0].get("reason") or "")
    assert wait_for(lambda: not any(marked_by(run_id)), timeout=10, what="the last orphan to be ended") is True


def marked_by(run_id: str) -> list[int]:
    from engine.reaper import marker_of

    return [int(name) for name in os.listdir("/proc") if name.isdigit() and not pid_dead(int(name))
            and (marker_of(int(name)) or "").startswith(run_id + ":")]
