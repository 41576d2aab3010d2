"""A revision round whose engine is lost goes on as a revision round: the engine running it is
killed while the stand-in agent works, `uet resume` ends the orphan and runs the step again from
the patch under review, told the same comments, and its patch supersedes that one."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from engine.adapters.sandbox import probe
from tests.conftest import Project
from tests.review.standin import greet_project

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not probe().available, reason="needs bubblewrap")]



def row(project: Project, sql: str, *args: object) -> tuple | None:
    with sqlite3.connect(project.db) as db:
        return db.execute(sql, args).fetchone()


def wait_for(what, seconds: float = 60):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("gave up waiting")


def test_a_revision_round_survives_the_loss_of_its_engine(project: Project, tmp_path: Path) -> None:
    greet_project(project, tmp_path, "{attempt}")
    project.write("ws.yaml", """
        name: greet
        steps:
          - id: edit
            tool: standin
            prompt: Add a greet function to app.py.
            produces: patch
    """)
    project.uet("run", "--plain", "ws.yaml", timeout=120, check=True)
    [first] = json.loads(project.uet("patches", "--json", check=True).stdout)
    run_id = first["run_id"]
    project.uet("patch", "request-changes", first["id"], "--comment", 'replace "hello" with "hi"', "--file",
                "app.py", "--line", "5", "--detach", check=True)
    wait_for(lambda: row(project, "SELECT pid FROM attempts WHERE step_id = 'edit' AND number = 2 AND "
                                  "state = 'running' AND pid IS NOT NULL"))
    (engine,) = row(project, "SELECT w.pid FROM runs AS r JOIN workers AS w ON w.id = r.worker_id WHERE r.id = ?",
                    run_id)
    os.kill(engine, signal.SIGKILL)

    resumed = project.uet("resume", run_id, "--plain", "--foreground", timeout=120)  # the run was detached
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    rounds = {p["round"]: p for p in json.loads(project.uet("patches", "--json", check=True).stdout)}
    assert rounds[1]["state"] == "superseded" and rounds[1]["superseded_by"] == rounds[2]["id"]
    assert rounds[2]["round_kind"] == "revision" and rounds[2]["attempt"] == 3
    assert '+    return "hi"' in json.loads(project.uet("patch", "show", rounds[2]["id"], "--json").stdout)["diff"]
    prompt = (project.root / ".uet" / "logs" / run_id / "edit.3.prompt.md").read_text()
    assert 'replace "hello" with "hi"' in prompt
    with sqlite3.connect(project.db) as db:
        again = [json.loads(d).get("again") for (d,) in db.execute("SELECT data FROM events WHERE kind = "
                                                                   "'review.round' ORDER BY seq")]
    assert again == [None, True]
