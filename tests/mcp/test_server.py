"""`uet mcp` through the SDK's own client over stdio, against a real `uet mcp` process in a git
project: the tools it lists (approve absent), a bad workstream's problems with line and column,
a detached run followed to its end, a step's log cut to its last lines, a patch listed, shown and
sent back with a comment (its revision round runs), the refusals (paths outside the project,
approve without the opt-in), each call an event naming the client; then, with the project's
opt-in, approve and apply. One server process serves all but the opt-in test."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from engine.adapters.sandbox import probe
from tests.conftest import REPO, Project, wait_for
from tests.engine.patch_repos import git

mcp = pytest.importorskip("mcp")
from mcp import ClientSession, StdioServerParameters, stdio_client  # noqa: E402
from mcp.types import Implementation  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not probe().available, reason="needs bubblewrap")]

CLIENT = "pytest-assistant"
TOOLS = {"profiles_list", "profile_show", "workstream_validate", "bootstrap_preview", "run_start", "run_status",
         "step_log", "run_cancel", "run_pause", "run_resume", "patches_list", "patch_show", "patch_request_changes"}


class Client:
    """An MCP client session with ``uet mcp`` on its own event loop thread, called synchronously."""

    def __init__(self, root: Path, log: Path, name: str = CLIENT) -> None:
        self.root, self.log, self.name = root, log, name
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.session: ClientSession | None = None
        self.ready = self.loop.create_future()
        self.stop = asyncio.Event()
        self.main = asyncio.run_coroutine_threadsafe(self._serve(), self.loop)
        asyncio.run_coroutine_threadsafe(asyncio.wait_for(asyncio.shield(self.ready), 60), self.loop).result(70)

    async def _serve(self) -> None:
        params = StdioServerParameters(command=sys.executable, args=["-m", "tui.cli", "mcp"], cwd=self.root,
                                       env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
        try:
            with open(self.log, "a") as errlog:
                async with stdio_client(params, errlog=errlog) as (read, write), \
                        ClientSession(read, write, client_info=Implementation(name=self.name, version="1")) as s:
                    await s.initialize()
                    self.session = s
                    self.ready.set_result(True)
                    await self.stop.wait()
        except BaseException as exc:
            if not self.ready.done():
                self.ready.set_exception(exc)
            raise

    def _do(self, make: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(make(self.session), self.loop).result(120)

    def tools(self) -> set[str]:
        return {t.name for t in self._do(lambda s: s.list_tools()).tools}

    def call(self, tool: str, **arguments: Any) -> tuple[bool, Any]:
        """(is_error, the result: structured content, else the text)."""
        result = self._do(lambda s: s.call_tool(tool, arguments))
        text = "".join(c.text for c in result.content if c.type == "text")
        if result.is_error:
            return True, text
        if result.structured_content is not None:
            structured = result.structured_content
            return False, structured.get("result", structured) if set(structured) == {"result"} else structured
        return False, json.loads(text)

    def ok(self, tool: str, **arguments: Any) -> Any:
        failed, value = self.call(tool, **arguments)
        assert not failed, value
        return value

    def refused(self, tool: str, **arguments: Any) -> str:
        failed, value = self.call(tool, **arguments)
        assert failed, value
        return value

    def read(self, uri: str) -> str:
        return self._do(lambda s: s.read_resource(uri)).contents[0].text

    def resources(self) -> set[str]:
        return {str(r.uri) for r in self._do(lambda s: s.list_resources()).resources}

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.main.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


EDIT = """\
if [ -n "$UET_FEEDBACK" ]; then
    grep -q 'say hello, world' "$UET_FEEDBACK" || exit 4
    sed -i 's/"hello"/"hello, world"/' app.py
else
    printf '\\n\\ndef greet():\\n    return "hello"\\n' >> app.py
fi
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("mcp") / "proj"
    (root / ".uet").mkdir(parents=True)
    project = Project(root)
    project.write("app.py", "import sys\n")
    project.write(".gitignore", ".uet/\n")
    project.script("edit.sh", EDIT)
    project.script("check.sh", "grep -q 'def greet' app.py\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    project.write(".uet/router.yaml", """
        tools:
          editor:
            command: [sh, "{root}/edit.sh"]
    """)
    project.write(".uet/workstreams/greet.yaml", """
        name: greet
        steps:
          - id: count
            run: [sh, -c, "i=1; while [ $i -le 300 ]; do echo line $i; i=$((i+1)); done"]
          - id: edit
            tool: editor
            needs: [count]
            produces: patch
            gate: check
            review: {max_rounds: 2}
        gates:
          check: [[sh, "{root}/check.sh"]]
    """)
    return project


@pytest.fixture(scope="module")
def client(repo: Project) -> Iterator[Client]:
    session = Client(repo.root, repo.root.parent / "server.log")
    yield session
    session.close()


def events(project: Project) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(project.db)) as db:
        return [{"run": run, **json.loads(data)} for run, data in
                db.execute("SELECT run_id, data FROM events WHERE kind = 'mcp.call' ORDER BY seq")]


def until_over(client: Client, run: str) -> dict[str, Any]:
    return wait_for(lambda: (s := client.ok("run_status", run=run))["state"] in ("succeeded", "failed", "canceled")
                    and s, timeout=120, interval=0.2, what=f"run {run} to end")


def test_the_tools_offered_leave_approve_and_apply_out(client: Client) -> None:
    assert client.tools() == TOOLS
    assert {"uet://workstreams/greet.yaml", "uet://router", "uet://profiles/generic",
            "uet://schemas/workstream.v1.json"} <= client.resources()
    assert "produces: patch" in client.read("uet://workstreams/greet.yaml")
    assert json.loads(client.read("uet://schemas/workstream.v1.json"))["$id"].endswith("workstream.v1.json")


def test_a_bad_workstream_comes_back_with_line_and_column(client: Client) -> None:
    answer = client.ok("workstream_validate", text="name: w\nsteps:\n  - id: a\n    run: [echo]\n    colour: red\n",
                       name="w.yaml")
    assert answer["valid"] is False
    [problem] = answer["problems"]
    assert (problem["file"], problem["line"], problem["column"], problem["field"]) == ("w.yaml", 5, 5,
                                                                                      "steps[0].colour")
    good = client.ok("workstream_validate", text="name: w\nsteps:\n  - id: a\n    run: [echo]\n")
    assert good == {"valid": True, "workstream": "w", "steps": ["a"], "warnings": []}


def test_a_run_is_started_followed_to_its_end_and_its_patch_sent_back(client: Client, repo: Project) -> None:
    run = client.ok("run_start", file=".uet/workstreams/greet.yaml")["run"]
    status = until_over(client, run)
    assert status["state"] == "succeeded", status
    assert [(s["id"], s["state"]) for s in status["steps"]] == [("count", "succeeded"), ("edit", "succeeded")]

    log = client.ok("step_log", run=run[:6], step="count", lines=3)
    assert log["log"] == "… 297 more lines above\nline 298\nline 299\nline 300\n"
    assert log["omitted_lines"] == 297 and log["attempt"] == 1

    [patch] = client.ok("patches_list", run=run)
    assert patch["state"] == "gate_passed" and patch["step_id"] == "edit"
    shown = client.ok("patch_show", patch=patch["id"])
    assert '+    return "hello"' in shown["diff"] and shown["diff_omitted_lines"] == 0
    assert [g["outcome"] for g in shown["gate_results"]] == ["succeeded"]
    cut = client.ok("patch_show", patch=patch["id"], max_lines=2)
    assert cut["diff"].endswith(f"… {cut['diff_omitted_lines']} more lines\n") and cut["diff_omitted_lines"] > 3

    sent = client.ok("patch_request_changes", patch=patch["id"], comment="say hello, world", file="app.py", line=5)
    assert sent["state"] == "changes_requested" and sent["revision_problem"] is None
    def revised() -> dict[int, dict[str, Any]] | None:
        rounds = {p["round"]: p for p in client.ok("patches_list", run=run)}
        return rounds if 2 in rounds and rounds[2]["state"] not in ("proposed", "gating") else None

    rounds = wait_for(revised, timeout=120, interval=0.2, what="the revision round's patch")
    until_over(client, run)
    assert rounds[1]["state"] == "superseded" and rounds[2]["state"] == "gate_passed"
    assert [p["id"] for p in client.ok("patches_list", state="superseded")] == [rounds[1]["id"]]
    assert "superseded" in client.refused("patches_list", state="done"), "the states are named"
    assert '"hello, world"' in client.ok("patch_show", patch=rounds[2]["id"])["diff"]

    said = [e for e in events(repo) if e["tool"] in ("run_start", "patch_request_changes")]
    assert [(e["who"], e["tool"], e["outcome"], e["run"]) for e in said] == [
        (f"mcp:{CLIENT}", "run_start", "done", run), (f"mcp:{CLIENT}", "patch_request_changes", "done", run)]
    with closing(sqlite3.connect(repo.db)) as db:
        [(by,)] = db.execute("SELECT DISTINCT by FROM patch_comments").fetchall()
    assert by == f"mcp:{CLIENT}"


def test_a_run_is_paused_resumed_and_canceled(client: Client, repo: Project) -> None:
    repo.write("slow.yaml", """
        name: slow
        steps:
          - id: one
            run: [sh, -c, "sleep 0.5"]
          - id: two
            needs: [one]
            run: [sleep, "60"]
    """)
    run = client.ok("run_start", file="slow.yaml")["run"]
    assert "pause" in client.ok("run_pause", run=run, reason="lunch")["message"]
    wait_for(lambda: client.ok("run_status", run=run)["state"] == "paused", timeout=60, interval=0.2,
             what="the pause")
    assert "resumed" in client.ok("run_resume", run=run)["message"]
    wait_for(lambda: client.ok("run_status", run=run, step="two")["state"] == "running", timeout=60, interval=0.2,
             what="step two to start")
    client.ok("run_cancel", run=run, reason="enough")
    status = until_over(client, run)
    assert (status["state"], [s["state"] for s in status["steps"]]) == ("canceled", ["succeeded", "canceled"])
    with closing(sqlite3.connect(repo.db)) as db:
        asked = db.execute("SELECT kind, created_by FROM commands WHERE run_id = ? ORDER BY id", (run,)).fetchall()
    assert (asked[-1][0], asked[-1][1]) == ("cancel", f"mcp:{CLIENT}")


def test_paths_outside_the_project_and_approve_are_refused(client: Client, repo: Project, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("name: x\nsteps:\n  - {id: a, run: [echo]}\n")
    (repo.root / "link.yaml").symlink_to(outside)
    runs = len(repo.run_ids())
    for path in ("../elsewhere.yaml", str(outside), "link.yaml"):
        message = client.refused("run_start", file=path)
        assert "outside the project" in message, message
    assert "outside the project" in client.refused("bootstrap_preview", path="..")
    assert len(repo.run_ids()) == runs

    [patch] = [p for p in client.ok("patches_list") if p["state"] == "gate_passed"]
    message = client.refused("patch_approve", patch=patch["id"])
    assert "patch_approve is not offered" in message and "mcp: {allow_approve: true}" in message
    assert client.ok("patch_show", patch=patch["id"])["state"] == "gate_passed"
    refused = [(e["tool"], e["outcome"]) for e in events(repo) if e["outcome"] == "refused"]
    assert refused == [("run_start", "refused")] * 3 + [("bootstrap_preview", "refused"), ("patch_approve", "refused")]


def test_with_the_projects_opt_in_a_client_approves_and_applies(repo: Project) -> None:
    manifest = repo.root / ".uet" / "project.yaml"
    manifest.write_text("mcp: {allow_approve: true}\n")
    other = Client(repo.root, repo.root.parent / "server2.log", name="approver")
    try:
        assert other.tools() == TOOLS | {"patch_approve", "patch_apply"}
        [patch] = [p for p in other.ok("patches_list") if p["state"] == "gate_passed"]
        assert other.ok("patch_approve", patch=patch["id"])["state"] == "approved"
        assert other.ok("patch_apply", patch=patch["id"])["state"] == "applied"
    finally:
        other.close()
        manifest.unlink()
    assert '"hello, world"' in (repo.root / "app.py").read_text()
    assert [e["who"] for e in events(repo) if e["tool"] in ("patch_approve", "patch_apply")][-2:] == [
        "mcp:approver", "mcp:approver"]
