"""The Claude Code family: its command line, its parser on recorded real output and on garbage,
and the real CLI (2.1.197) run with the driver's invocation against the scripted Anthropic API.

The fixtures were recorded by running this module (``python -m tests.agents.test_claude``),
which runs the same scripts as the slow tests and keeps the CLI's stdout; see
``fixtures/README.md``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.agents.base import MAX_LINE_CHARS, MAX_MESSAGE_CHARS, AgentResult, Task
from engine.agents.claude import ALLOWED_TOOLS, DRIVER, MAX_PENDING, ClaudeParser
from engine.agents.jsonlines import MAX_JSON_LINE
from tests.agents.cliruns import (
    Ran,
    git_repo,
    parse_with,
    plain_task,
    recorded,
    run_agent,
    task_for,
    uet_with,
)
from tests.agents.clis import PINS
from tests.agents.fakeapi.anthropic import Script, ToolCall, install
from tests.agents.fakeapi.base import FakeAPI
from tests.conftest import Project
from tests.engine.patch_repos import git

VERSION = PINS["claude"].version
FIXTURES = Path(__file__).parent / "fixtures"
MODEL = "claude-sonnet-4-5"
PROMPT = "Change the greeting in hello.py to 'hello, world' and run it."
FINAL = "Updated the greeting in hello.py."
KEY = {"ANTHROPIC_API_KEY": "sk-ant-fake"}


def claude() -> Path:
    return PINS["claude"].install()


def edit_script(repo: Path, error: bool = False) -> Script:
    """Read hello.py, edit it, run it (a command ``acceptEdits`` alone refuses), then answer."""
    path = str(repo / "hello.py")
    return Script(calls=[ToolCall("Read", {"file_path": path}),
                         ToolCall("Edit", {"file_path": path, "old_string": "hello", "new_string": "hello, world"}),
                         ToolCall("Bash", {"command": "python3 hello.py", "description": "Run the script"})],
                  final=FINAL, error=error)


def run_case(base: Path, *, error: bool = False, edits: bool = True, merge_stderr: bool = True,
             args: tuple[str, ...] = ()) -> tuple[Ran, Script, Path]:
    repo = git_repo(base / "repo")
    script = edit_script(repo, error=error)
    with FakeAPI() as api:
        install(api, script)
        task = task_for(repo, base / "home", PROMPT, model=MODEL, base_url=api.url, edits=edits, args=args)
        ran = run_agent(DRIVER, claude(), task, KEY, merge_stderr=merge_stderr)
    return ran, script, repo


def parse(lines: list[str]) -> tuple[list[str], AgentResult]:
    return parse_with(DRIVER, lines)


def fixture(case: str) -> list[str]:
    return recorded("claude", VERSION, case)


def diff(repo: Path) -> str:
    return subprocess.run(["git", "-C", str(repo), "diff"], capture_output=True, text=True, check=True).stdout


# -- the command line ------------------------------------------------------------------------


def task(**fields: object) -> Task:
    return plain_task(**fields)


def test_invocation_for_an_editing_step() -> None:
    inv = DRIVER.invocation(task(model="claude-opus-4-1", base_url="http://127.0.0.1:9/v1/", args=("--bare",)))
    argv = inv.argv
    assert argv[:2] == ["claude", "-p"]
    assert argv[argv.index("--output-format") + 1] == "stream-json" and "--verbose" in argv
    assert argv[argv.index("--permission-mode") + 1] == "acceptEdits"
    assert f"--allowedTools={ALLOWED_TOOLS}" in argv and "Bash(pytest:*)" in ALLOWED_TOOLS
    assert argv[argv.index("--model") + 1] == "claude-opus-4-1"
    assert "--no-session-persistence" in argv and argv[-1] == "--bare"
    assert inv.stdin == "/w/prompt.txt"
    assert inv.env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9"  # Claude Code adds /v1/messages
    for name in ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "DISABLE_AUTOUPDATER", "DISABLE_TELEMETRY",
                 "DISABLE_ERROR_REPORTING"):
        assert inv.env[name] == "1"
    assert int(inv.env["CLAUDE_CODE_MAX_RETRIES"]) <= 3


def test_invocation_for_a_plan_step() -> None:
    inv = DRIVER.invocation(task(edits=False))
    assert inv.argv[inv.argv.index("--permission-mode") + 1] == "plan"
    assert not any(arg.startswith("--allowedTools") for arg in inv.argv)
    assert "--model" not in inv.argv and "ANTHROPIC_BASE_URL" not in inv.env


# -- the parser on recorded output -----------------------------------------------------------


def test_edit_fixture() -> None:
    readable, result = parse(fixture("edit"))
    assert result.message == FINAL and result.error is None and result.malformed == 0
    # Four requests of 1200 input + 300 cache read + 100 cache creation, 80 output each.
    assert (result.usage.tokens_in, result.usage.tokens_out, result.usage.tokens_cached) == (6400, 320, 1200)
    assert result.usage.usd == pytest.approx(0.02106)
    assert result.usage.model == MODEL
    assert result.session_id and result.denied == []
    assert readable == [f"claude {VERSION}: model {MODEL}, permissions acceptEdits", "tool: read hello.py",
                        "tool: edit hello.py", "run: python3 hello.py (exit 0)", f"assistant: {FINAL}",
                        "tokens: 6.4k in, 320 out (1.2k cached), $0.0211"]


def test_api_error_fixture() -> None:
    readable, result = parse(fixture("api-error"))
    assert result.error is not None and "401" in result.error and "Invalid API key" in result.error
    assert result.usage.tokens_in == 0 and result.usage.usd == 0
    assert any(line.startswith("error: API error 401") for line in readable)


def test_plan_denied_fixture() -> None:
    readable, result = parse(fixture("plan-denied"))
    assert result.error is None and result.message == FINAL
    assert result.denied == ["Edit hello.py", "Bash python3 hello.py"]
    assert "denied: Edit hello.py" in readable
    assert any(line.startswith("tool failed: Edit hello.py: Cannot write") for line in readable)
    assert result.usage.tokens_in == 6400


def test_turn_limit_fixture() -> None:
    readable, result = parse(fixture("turn-limit"))
    assert result.error == "stopped at its turn limit after 3 turns"
    assert result.usage.tokens_in == 3200 and result.usage.usd == pytest.approx(0.01053)
    assert "error: stopped at its turn limit after 3 turns" in readable


def test_live_usage_before_the_result() -> None:
    parser = DRIVER.parser()
    lines = fixture("edit")
    for line in lines[:-1]:
        parser.feed(line)
        if '"type":"assistant"' in line:
            parser.feed(line)  # a message of two blocks comes as two lines with one id
    live = parser.usage()
    assert live.tokens_in == 6400 and live.usd is None  # each request's start, counted once
    parser.feed(lines[-1])
    assert parser.usage().usd == pytest.approx(0.02106)


# -- the parser on garbage -------------------------------------------------------------------


GARBAGE = ["", "   ", "plain text from stderr", "{", "{not json}", "[1, 2]", "{}", '{"type": 5}', "null",
           '{"type": "assistant", "message": "text"}', '{"type": "assistant", "message": {"content": "x"}}',
           '{"type": "assistant", "message": {"content": [5, null, {"type": "tool_use", "input": 3}]}}',
           '{"type": "user", "message": {"content": [{"type": "tool_result", "tool_use_id": 7, "is_error": true}]}}',
           '{"type": "system", "subtype": "init", "model": [], "cwd": 1}',
           '{"type": "result", "usage": [], "modelUsage": 3, "permission_denials": {"a": 1}}',
           '{"type": "result", "is_error": "yes", "usage": {"input_tokens": "many"}, "total_cost_usd": "free"}',
           '{"type": "result", "usage": {"input_tokens": 1e400, "output_tokens": -5}}',
           '{"a":' * 100_000 + "1" + "}" * 100_000, '{"n": ' + "9" * 5000 + "}", "\x00\xff{\u202e"]


def test_garbage_never_raises_and_is_counted() -> None:
    parser = ClaudeParser()
    for line in GARBAGE:
        out = parser.feed(line)
        assert all(isinstance(x, str) and len(x) <= MAX_LINE_CHARS for x in out)
        parser.usage()
    result = parser.finish("/nonexistent")
    # "{", "{not json}", the deep nesting and the 5000-digit number do not parse; "[1, 2]" and "null"
    # do not start like an object (stderr text); the rest are objects of odd shapes.
    assert result.malformed == 4
    assert result.usage.tokens_in == 1e400 + 0  # as found, for the engine to bound


def test_no_result_line_is_an_error() -> None:
    parser = ClaudeParser()
    parser.feed("Error: something broke before the stream began")
    result = parser.finish("/nonexistent")
    assert result.error and "without a result" in result.error and "something broke" in result.error


def test_huge_input_is_bounded() -> None:
    parser = ClaudeParser()
    out = parser.feed("{" + "x" * (MAX_JSON_LINE + 1))
    assert parser.malformed == 1 and len(out) == 1 and len(out[0]) < 100
    huge = "y" * (MAX_MESSAGE_CHARS * 3)
    out = parser.feed(json.dumps({"type": "assistant", "message": {"content": [{"type": "text", "text": huge}]}}))
    assert len(out[0]) <= MAX_LINE_CHARS
    for n in range(MAX_PENDING * 4):
        parser.feed(json.dumps({"type": "assistant", "message": {"id": f"m{n}", "content": [
            {"type": "tool_use", "id": f"t{n}", "name": "Bash", "input": {"command": "z" * 2000}}]}}))
    assert len(parser.pending) <= MAX_PENDING
    denials = [{"tool_name": "Bash", "tool_input": {"command": "q" * 2000}}] * 5000
    parser.feed(json.dumps({"type": "result", "is_error": False, "result": huge, "permission_denials": denials}))
    result = parser.finish("/nonexistent")
    assert result.message is not None and len(result.message) == MAX_MESSAGE_CHARS
    assert len(result.denied) <= 100 and all(len(d) <= MAX_LINE_CHARS for d in result.denied)
    parser.feed(json.dumps({"type": "result", "usage": {"input_tokens": "7" * 1_000_000, "output_tokens": [1] * 10**5}}))
    usage = parser.finish("/nonexistent").usage
    assert usage.tokens_in == "7" * 100 and usage.tokens_out == "<list>"  # as found, cut


# -- the real CLI against the scripted API ---------------------------------------------------


@pytest.mark.slow
def test_real_claude_edits_the_file(tmp_path: Path) -> None:
    ran, script, repo = run_case(tmp_path)
    assert '+print("hello, world")' in diff(repo)
    result = ran.result
    assert result.error is None and result.message == FINAL and result.denied == []
    totals = script.totals()
    assert script.served == 4
    assert result.usage.tokens_in == (totals["input_tokens"] + totals["cache_read_input_tokens"]
                                      + totals["cache_creation_input_tokens"])
    assert result.usage.tokens_out == totals["output_tokens"]
    assert result.usage.tokens_cached == totals["cache_read_input_tokens"]
    assert result.usage.usd is not None and result.usage.usd > 0 and result.usage.model == MODEL
    assert "run: python3 hello.py (exit 0)" in ran.readable  # the allow-list let the test run


@pytest.mark.slow
def test_real_claude_refused_key_is_an_error(tmp_path: Path) -> None:
    ran, script, repo = run_case(tmp_path, error=True)
    assert ran.result.error is not None and "401" in ran.result.error
    assert diff(repo) == "" and script.served == 0


@pytest.mark.slow
def test_real_claude_plan_step_cannot_edit(tmp_path: Path) -> None:
    ran, _, repo = run_case(tmp_path, edits=False)
    assert diff(repo) == ""
    assert ran.result.denied[0] == "Edit hello.py" and ran.result.error is None


# -- through UET: a patch step routed to a claude tool ---------------------------------------


@pytest.mark.slow
def test_uet_runs_claude_in_a_patch_step(project: Project) -> None:
    project.write("hello.py", 'print("hello")\n')
    project.write(".gitignore", ".uet/\n")
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "start")
    script = Script(calls=[ToolCall("Read", {"file_path": "{cwd}/hello.py"}),
                           ToolCall("Edit", {"file_path": "{cwd}/hello.py", "old_string": "hello",
                                             "new_string": "hello, world"})], final=FINAL)
    with FakeAPI() as api:
        install(api, script)
        project.write(".uet/router.yaml", f"""
            tools:
              fake-claude:
                agent: claude
                base_url: {api.url}
                model: {MODEL}
                env_passthrough: [ANTHROPIC_API_KEY]
                capabilities: [code_edit]
        """)
        ws = project.write("ws.yaml", f"""
            name: greet
            steps:
              - id: edit
                kind: code_edit
                tool: fake-claude
                produces: patch
                prompt: "{PROMPT}"
        """)
        done = uet_with(project, claude(), KEY, "run", "--plain", str(ws))
    assert done.returncode == 0, done.stdout + done.stderr
    [patch] = json.loads(project.uet("patches", "--json", check=True).stdout)
    assert [f["path"] for f in patch["files"]] == ["hello.py"]
    assert '+print("hello, world")' in project.uet("patch", "show", patch["id"], check=True).stdout
    run = patch["run_id"]
    status = json.loads(project.uet("status", run, "edit", "--json", check=True).stdout)
    [attempt] = status["attempts"]
    assert status["output"] == FINAL
    totals = script.totals()
    assert attempt["tokens_in"] == (totals["input_tokens"] + totals["cache_read_input_tokens"]
                                    + totals["cache_creation_input_tokens"])
    assert attempt["tokens_out"] == totals["output_tokens"] and attempt["usd"] > 0
    assert attempt["output"] == FINAL and attempt["model"] == MODEL
    costs = project.uet("costs", run, check=True).stdout
    [by_tool] = [line for line in costs.splitlines() if line.strip().startswith("fake-claude")]
    assert f"{attempt['tokens_in']:,}" in by_tool and f"${attempt['usd']:.4f}" in by_tool


def record() -> None:
    """Run the three cases once more and write their stdout as the fixtures."""
    base = Path("/tmp/uet-fixture")
    for case, options in (("edit", {}), ("api-error", {"error": True}), ("plan-denied", {"edits": False}),
                          ("turn-limit", {"args": ("--max-turns", "2")})):
        shutil.rmtree(base, ignore_errors=True)
        ran, _, _ = run_case(base, merge_stderr=False, **options)  # type: ignore[arg-type]
        (FIXTURES / f"claude-{VERSION}-{case}.jsonl").write_text(ran.output)
        print(case, ran.returncode, ran.result, file=sys.stderr)
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    record()
