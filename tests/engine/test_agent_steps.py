"""Agent steps through the real engine, sandbox and git, with a stand-in for the agent CLI: a
small script that prints the lines Claude Code 2.1.197 really printed (the recorded fixtures in
tests/agents/fixtures) and edits a file or not. The family's real parser reads them; the real
CLIs run against a scripted model API in tests/agents/.

What is checked is how UET judges an agent: by its parsed result and its diff, never by its exit
code alone.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.adapters.sandbox import probe

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "agents" / "fixtures"
PY = sys.executable

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not probe().available, reason="needs bubblewrap")]

STANDIN = """\
import sys, pathlib
mode, fixture = sys.argv[1], sys.argv[2]
sys.stdin.read()  # the prompt
if mode in ("edit", "error-edit"):
    pathlib.Path("hello.py").write_text("print('hello, agent')\\n")
if mode == "garbage":
    print('{"type":"system","subtype":"init","session_id":"s1","model":"m"}')
    print("this is not json")
    print('{"type":"assistant", "message": [1, 2')
    sys.exit(0)
sys.stdout.write(pathlib.Path(fixture).read_text())
"""


def uet(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "tui.cli", *args], cwd=root, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"})


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def project(tmp_path: Path, mode: str, fixture: str, *, produces: bool = True) -> Path:
    root = tmp_path / "p"
    (root / ".uet").mkdir(parents=True)
    (root / "hello.py").write_text("print('hello')\n")
    (root / ".gitignore").write_text(".uet/\n")
    (root / "ws.yaml").write_text(
        "name: agent\nsteps:\n  - id: edit\n    tool: agent\n    prompt: Change the greeting\n"
        + ("    produces: patch\n" if produces else ""))
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    # The stand-in is installed like a program (its own prefix with a bin/), which is what the
    # sandbox shows of a folder it otherwise covers (/tmp, the home).
    prefix = tmp_path / "standin"
    (prefix / "bin").mkdir(parents=True)
    program = prefix / "bin" / "standin"
    program.write_text(f"#!{PY}\n" + STANDIN)
    program.chmod(0o755)
    (prefix / fixture).write_text((FIXTURES / fixture).read_text())
    (root / ".uet" / "router.yaml").write_text(
        f"tools:\n  agent:\n    agent: claude\n    command: [{program}, {mode}, {prefix / fixture}]\n")
    return root


def step(root: Path, sid: str = "edit") -> dict:
    run = json.loads(uet(root, "runs", "--json").stdout)[0]["id"]
    return json.loads(uet(root, "status", run, sid, "--json").stdout)


def warnings(root: Path) -> list[dict]:
    with sqlite3.connect(root / ".uet" / "uet.db") as db:
        rows = db.execute("SELECT data FROM events WHERE kind = 'attempt.warning'").fetchall()
    return [json.loads(data) for (data,) in rows]


def test_an_agent_edit_becomes_a_patch_with_its_answer_and_cost(tmp_path: Path) -> None:
    root = project(tmp_path, "edit", "claude-2.1.197-edit.jsonl")
    done = uet(root, "run", "ws.yaml", "--plain")
    assert done.returncode == 0, done.stdout + done.stderr
    doc = step(root)
    attempt = doc["attempts"][-1]
    assert doc["output"] == "Updated the greeting in hello.py."
    assert (attempt["tokens_in"], attempt["tokens_out"], attempt["tokens_cached"]) == (6400, 320, 1200)
    assert attempt["usd"] == pytest.approx(0.02106)
    assert attempt["model"] == "claude-sonnet-4-5"
    patches = json.loads(uet(root, "patches", "--json").stdout)
    assert len(patches) == 1 and "hello, agent" in uet(root, "patch", "show", patches[0]["id"]).stdout
    log = Path(attempt["log_path"]).read_text()
    assert "Updated the greeting in hello.py." in log and '"type":"result"' not in log  # readable, not raw
    raw = Path(attempt["log_path"][: -len(".log")] + ".raw.jsonl").read_text()
    assert '"type":"result"' in raw
    assert git(root, "status", "--porcelain") == ""  # the user's tree is untouched


def test_an_agent_that_changes_nothing_fails_with_no_change(tmp_path: Path) -> None:
    root = project(tmp_path, "quiet", "claude-2.1.197-edit.jsonl")
    done = uet(root, "run", "ws.yaml", "--plain")
    assert done.returncode == 1
    assert "no change: the agent ended without changing any file" in step(root)["reason"]


def test_an_agent_error_fails_the_attempt_though_it_exited_0(tmp_path: Path) -> None:
    root = project(tmp_path, "error-edit", "claude-2.1.197-api-error.jsonl")
    done = uet(root, "run", "ws.yaml", "--plain")
    assert done.returncode == 1
    doc = step(root)
    assert doc["attempts"][-1]["exit_code"] == 0
    assert "the agent reported a failure" in doc["reason"]
    assert json.loads(uet(root, "patches", "--json").stdout) == []  # its half-done edit is no patch


def test_malformed_lines_are_a_warning_and_leave_tokens_unknown(tmp_path: Path) -> None:
    root = project(tmp_path, "garbage", "claude-2.1.197-edit.jsonl")
    uet(root, "run", "ws.yaml", "--plain")
    attempt = step(root)["attempts"][-1]
    assert attempt["tokens_in"] is None and attempt["tokens_out"] is None and attempt["usd"] is None
    assert any(w["field"] == "stream" and "not the JSON" in w["reason"] for w in warnings(root))


def test_a_plan_step_s_edits_are_discarded_with_a_warning(tmp_path: Path) -> None:
    root = project(tmp_path, "edit", "claude-2.1.197-edit.jsonl", produces=False)
    done = uet(root, "run", "ws.yaml", "--plain")
    assert done.returncode == 0, done.stdout + done.stderr
    assert step(root)["output"] == "Updated the greeting in hello.py."
    assert any(w["field"] == "changes" and "discarded" in w["reason"] for w in warnings(root))
    assert json.loads(uet(root, "patches", "--json").stdout) == []
    assert (root / "hello.py").read_text() == "print('hello')\n"
