"""A review round end to end, through the real `uet` command, engine, sandbox and git: a patch
step whose tool is a stand-in for an agent (it reads its prompt file and does what the review
comments in it say) proposes a patch; a reviewer comments on one of its lines and requests
changes; the revision round's prompt carries the comment with its diff context; the new patch
supersedes the old one, passes its gate, is approved and applied; `uet patch show` lists the
rounds. A comment on a line outside the patch, and a request once the rounds are spent, are
refused with exit 2 and change nothing."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from engine.adapters.sandbox import probe
from tests.conftest import Project
from tests.review.standin import greet_project

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not probe().available, reason="needs bubblewrap")]



@pytest.fixture
def repo(project: Project, tmp_path: Path) -> Project:
    project.script("check.sh", "grep -q 'def greet' app.py\n")
    greet_project(project, tmp_path)
    project.write("ws.yaml", """
        name: greet
        steps:
          - id: edit
            tool: standin
            prompt: Add a greet function to app.py.
            produces: patch
            gate: check
            review: {max_rounds: 2}
          - id: note
            needs: [edit]
            run: [echo, noted]
        gates:
          check: [[sh, "{root}/check.sh"]]
    """)
    done = project.uet("run", "--plain", "ws.yaml", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return project


def patches(project: Project) -> dict[int, dict]:
    return {p["round"]: p for p in json.loads(project.uet("patches", "--json", check=True).stdout)}


def comments(project: Project) -> list[tuple]:
    with sqlite3.connect(project.db) as db:
        return db.execute("SELECT patch_id, path, line, body, submitted_at IS NOT NULL FROM patch_comments").fetchall()


def run_row(project: Project, run_id: str) -> tuple:
    with sqlite3.connect(project.db) as db:
        return db.execute("SELECT state, worker_id FROM runs WHERE id = ?", (run_id,)).fetchone()


def events(project: Project, kind: str) -> list[dict]:
    with sqlite3.connect(project.db) as db:
        return [json.loads(d) for (d,) in db.execute("SELECT data FROM events WHERE kind = ?", (kind,))]


def test_a_line_comment_is_revised_by_the_agent_approved_and_applied(repo: Project) -> None:
    first = patches(repo)[1]
    assert first["state"] == "gate_passed" and first["round_kind"] == "first"

    outside = repo.uet("patch", "request-changes", first["id"], "--comment", "no", "--file", "app.py", "--line", "9")
    assert outside.returncode == 2
    assert outside.stderr.strip().splitlines() == [
        "uet: line 9 of app.py is not in the patch; it shows lines 1-5 of app.py"]
    assert patches(repo)[1]["state"] == "gate_passed" and comments(repo) == []

    asked = repo.uet("patch", "request-changes", first["id"], "--comment", 'replace "hello" with "hello, world"',
                     "--file", "app.py", "--line", "5", "--plain", timeout=120)
    assert asked.returncode == 0, asked.stdout + asked.stderr
    rounds = patches(repo)
    old, new = rounds[1], rounds[2]
    assert old["state"] == "superseded" and old["superseded_by"] == new["id"]
    assert new["parent_id"] == old["id"] and new["round_kind"] == "revision" and new["state"] == "gate_passed"
    assert f"patch {new['id']} ✔ gate_passed: round 2 of patch {old['id']}" in asked.stdout
    assert comments(repo) == [(old["id"], "app.py", 5, 'replace "hello" with "hello, world"', 1)]
    [event] = events(repo, "review.round")
    assert (event["patch"], event["round"], event["comments"]) == (old["id"], 2, 1) and event["by"]

    prompt = (repo.root / ".uet" / "logs" / new["run_id"] / "edit.2.prompt.md").read_text()
    assert prompt.startswith("Add a greet function to app.py.")
    assert '1. On app.py:5:\n   replace "hello" with "hello, world"' in prompt
    assert '   > +    return "hello"' in prompt  # the diff line the comment points at
    assert "## Your previous round's patch" in prompt and "+def greet():" in prompt

    # Only the patch step ran again: the step after it keeps its one attempt.
    status = json.loads(repo.uet("status", new["run_id"], "--json", check=True).stdout)
    assert status["state"] == "succeeded"
    assert {s["id"]: s["attempts"] for s in status["steps"]} == {"edit": 2, "note": 1}

    diff = json.loads(repo.uet("patch", "show", new["id"], "--json", check=True).stdout)["diff"]
    assert '+    return "hello, world"' in diff and '"hello"\n' not in diff

    spent = repo.uet("patch", "request-changes", new["id"], "--comment", "once more")
    assert spent.returncode == 2
    assert spent.stderr.strip() == (f"uet: patch {new['id']} is round 2 of 2 (review.max_rounds of step edit); "
                                    "approve it, reject it or raise review.max_rounds")
    assert patches(repo)[2]["state"] == "gate_passed" and len(comments(repo)) == 1

    shown = repo.uet("patch", "show", new["id"], check=True).stdout
    assert f"round 1 of 2  first     {old['id']}  ⇢ superseded" in shown
    assert f"→ round 2 of 2  revision  {new['id']}  ✔ gate_passed" in shown
    assert "changes requested by " in shown and "on app.py:5:" in shown and 'replace "hello" with "hello, world"' in shown
    listed = repo.uet("patches", check=True).stdout
    assert "2/2" in listed and "1/2" in listed

    repo.uet("patch", "approve", new["id"], check=True)
    repo.uet("patch", "apply", new["id"], check=True)
    assert (repo.root / "app.py").read_text() == 'import sys\n\n\ndef greet():\n    return "hello, world"\n'


def test_a_draft_goes_with_the_request_and_a_detached_round_runs_in_the_background(repo: Project) -> None:
    first = patches(repo)[1]
    drafted = repo.uet("patch", "comment", first["id"], "--comment", 'replace "hello" with "hi"', "--file",
                       "app.py", "--line", "5", check=True)
    assert "draft comment #1" in drafted.stdout
    assert comments(repo) == [(first["id"], "app.py", 5, 'replace "hello" with "hi"', 0)]
    asked = repo.uet("patch", "request-changes", first["id"], "--detach", check=True)
    assert "started in the background" in asked.stdout
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and run_row(repo, first["run_id"]) != ("succeeded", None):
        time.sleep(0.2)  # the background engine ends the run and lets it go
    assert run_row(repo, first["run_id"]) == ("succeeded", None)
    new = patches(repo)[2]
    assert new["state"] == "gate_passed" and patches(repo)[1]["superseded_by"] == new["id"]
    assert comments(repo)[0][4] == 1  # the draft was submitted with the request
    assert '+    return "hi"' in json.loads(repo.uet("patch", "show", new["id"], "--json", check=True).stdout)["diff"]
