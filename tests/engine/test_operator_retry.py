"""An operator's retry or resume gives a failed step its whole retry policy again.

The runner counts attempts against ``max_attempts`` from a base that reopening moves to the
attempts already made; without that, a step that used up its attempts would get one more
try at most instead of a fresh set.
"""

from __future__ import annotations

import sqlite3

from tests.conftest import Project

WORKSTREAM = """
    name: stubborn
    steps:
      - id: s
        run: sh -c 'echo try >> tries; exit 1'
        retry: {max_attempts: 2, backoff: 10ms}
"""


def tries(project: Project) -> int:
    return (project.root / "tries").read_text(encoding="utf-8").count("try")


def attempts(project: Project, run_id: str) -> list[tuple[int, str]]:
    with sqlite3.connect(project.db) as conn:
        return conn.execute("SELECT number, state FROM attempts WHERE run_id = ? AND step_id = 's' "
                            "ORDER BY number", (run_id,)).fetchall()


def test_retry_and_resume_each_give_a_failed_step_its_attempts_again(project: Project) -> None:
    # The command's breaker stays closed, so every attempt runs at once instead of after a probe.
    project.write(".uet/router.yaml", "breaker: {consecutive_failures: 50, window: 50, min_calls: 50}\ntools: {}\n")
    project.write("ws.yaml", WORKSTREAM)
    first = project.uet("run", "--plain", "ws.yaml")
    assert first.returncode == 1, first.stdout + first.stderr
    run_id = project.runs()[0]["id"]
    assert tries(project) == 2

    retried = project.uet("retry", "--plain", run_id, "s")
    assert retried.returncode == 1, retried.stdout + retried.stderr
    assert tries(project) == 4, "uet retry gives the step max_attempts (2) more attempts"
    assert "attempt 4" in retried.stdout and "(2 of 2 attempts used)" in retried.stdout

    resumed = project.uet("resume", "--plain", run_id)
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    assert tries(project) == 6, "uet resume reopens the failed step with 2 more attempts too"
    assert attempts(project, run_id) == [(n, "failed") for n in range(1, 7)]
    status = project.status(run_id)
    assert status["state"] == "failed"
    assert [(s["id"], s["state"], s["attempts"]) for s in status["steps"]] == [("s", "failed", 6)]
