"""A run resumes where it ran: one that ran detached goes on in a new background engine (the
command returns at once, another process executes it), unless ``--foreground`` takes it over."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pytest

from tests.conftest import Project, wait_for

pytestmark = pytest.mark.slow

GATED = """
    name: gated
    steps:
      - id: first
        run: sh -c 'while [ ! -e go ]; do sleep 0.05; done'
      - id: second
        needs: [first]
        run: sh -c 'while [ ! -e go2 ]; do sleep 0.05; done'
      - id: third
        needs: [second]
        run: "true"
"""


def _run(project: Project, run_id: str) -> dict:
    with closing(sqlite3.connect(project.db)) as conn:
        conn.row_factory = sqlite3.Row
        row = dict(conn.execute("SELECT state, worker_id, spec FROM runs WHERE id = ?", (run_id,)).fetchone())
        pid = conn.execute("SELECT pid FROM workers WHERE id = ?", (row["worker_id"],)).fetchone()
    return {**row, "spec": json.loads(row["spec"]), "pid": pid[0] if pid else None}


def test_a_paused_detached_run_resumes_detached_and_foreground_takes_it_over(project: Project) -> None:
    workstream = project.write("ws.yaml", GATED)
    started = project.uet("run", "--detach", str(workstream), check=True)
    run_id = started.stdout.strip()
    first_pid = wait_for(lambda: _run(project, run_id)["pid"], what="the background engine")
    assert _run(project, run_id)["spec"]["detached"] is True
    assert "pause requested" in project.uet("pause", run_id, check=True).stdout
    (project.root / "go").touch()
    wait_for(lambda: _run(project, run_id)["state"] == "paused" and _run(project, run_id)["worker_id"] is None,
             what="the run to pause and its engine to let go")

    resume = project.spawn("resume", run_id)
    out, err = resume.communicate(timeout=60)  # returns while the run waits for go2: it runs elsewhere
    assert resume.returncode == 0, err
    assert out.strip() == run_id and "running in the background" in err
    row = wait_for(lambda: (r := _run(project, run_id))["pid"] and r, what="the new background engine")
    assert row["state"] == "running" and row["pid"] not in (resume.pid, first_pid)

    # --foreground takes it over: pause it again, then resume it here, where it finishes
    project.uet("pause", run_id, check=True)
    (project.root / "go2").touch()
    wait_for(lambda: _run(project, run_id)["state"] == "paused" and not _run(project, run_id)["pid"],
             what="the second pause")
    here = project.uet("resume", run_id, "--foreground", "--plain", check=True)
    assert "running in the background" not in here.stderr and "third" in here.stdout
    row = _run(project, run_id)
    assert (row["state"], row["spec"]["detached"]) == ("succeeded", False)
