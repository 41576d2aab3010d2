"""The Codex CLI family: its command line and config, its parser on recorded real output and on
garbage, and the real CLI (0.171.0) run with the driver's invocation against the scripted
Responses API.

The fixtures were recorded by running this module (``python -m tests.agents.test_codex``),
which runs the same scripts as the slow tests and keeps the CLI's stdout; see
``fixtures/README.md``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from engine.agents.base import MAX_LINE_CHARS, MAX_MESSAGE_CHARS, AgentResult, Task
from engine.agents.codex import DRIVER, FEATURES_OFF, CodexParser
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
from tests.agents.fakeapi.base import FakeAPI
from tests.agents.fakeapi.responses import MODEL, Script, ToolCall, install
from tests.conftest import Project
from tests.engine.patch_repos import git

VERSION = PINS["codex"].version
FIXTURES = Path(__file__).parent / "fixtures"
PROMPT = "Change the greeting in hello.py to 'hello, world' and run it."
FINAL = "Updated the greeting in hello.py."
KEY = {"OPENAI_API_KEY": "sk-fake"}
PATCH = '*** Begin Patch\n*** Update File: hello.py\n@@\n-print("hello")\n+print("hello, world")\n*** End Patch\n'


def codex() -> Path:
    return PINS["codex"].install()


def edit_script(error: bool = False) -> Script:
    """Look at hello.py, patch it, run it, then answer."""
    return Script(calls=[ToolCall.exec("cat hello.py"), ToolCall.patch(PATCH), ToolCall.exec("python3 hello.py")],
                  final=FINAL, error=error)


def run_case(base: Path, *, error: bool = False, merge_stderr: bool = True) -> tuple[Ran, Script, Path]:
    repo = git_repo(base / "repo")
    script = edit_script(error=error)
    with FakeAPI() as api:
        install(api, script)
        task = task_for(repo, base / "home", PROMPT, model=MODEL, base_url=api.url)
        ran = run_agent(DRIVER, codex(), task, KEY, merge_stderr=merge_stderr)
    return ran, script, repo


def parse(lines: list[str]) -> tuple[list[str], AgentResult]:
    return parse_with(DRIVER, lines)


def fixture(case: str) -> list[str]:
    return recorded("codex", VERSION, case)


def diff(repo: Path) -> str:
    return subprocess.run(["git", "-C", str(repo), "diff"], capture_output=True, text=True, check=True).stdout


# -- the command line and the config ---------------------------------------------------------


def task(**fields: object) -> Task:
    return plain_task(**fields)


def test_invocation() -> None:
    inv = DRIVER.invocation(task(model="gpt-5.5", base_url="http://127.0.0.1:9", args=("-c", "x=1")))
    argv = inv.argv
    assert argv[:4] == ["codex", "exec", "--json", "--skip-git-repo-check"]
    assert "--dangerously-bypass-approvals-and-sandbox" in argv and "--sandbox" not in argv
    assert argv[argv.index("--model") + 1] == "gpt-5.5"
    assert argv[-3:] == ["-c", "x=1", "-"]  # the prompt comes on stdin
    assert inv.stdin == "/w/prompt.txt"
    assert inv.env == {"CODEX_HOME": "/w/home/.codex"}
    config = tomllib.loads(inv.files[".codex/config.toml"])
    provider = config["model_providers"][config["model_provider"]]
    assert provider["base_url"] == "http://127.0.0.1:9/v1"  # Codex adds /responses
    assert provider["env_key"] == "OPENAI_API_KEY" and provider["wire_api"] == "responses"
    assert provider["request_max_retries"] == 0 and provider["stream_max_retries"] == 0
    assert config["analytics"]["enabled"] is False
    assert all(config["features"][name] is False for name in FEATURES_OFF)


def test_config_addresses() -> None:
    def address(url: str | None) -> str:
        config = tomllib.loads(DRIVER.invocation(task(base_url=url)).files[".codex/config.toml"])
        return config["model_providers"][config["model_provider"]]["base_url"]

    assert address(None) == "https://api.openai.com/v1"
    assert address("https://proxy.example/openai/v1/") == "https://proxy.example/openai/v1"
    assert address('http://h/"x\\y\n') == 'http://h/"x\\y\n'  # quoted as TOML, not broken


def test_plan_step_is_the_same_command() -> None:
    assert DRIVER.invocation(task(edits=False)).argv == DRIVER.invocation(task()).argv
    assert "--model" not in DRIVER.invocation(task()).argv


# -- the parser on recorded output -----------------------------------------------------------


def test_edit_fixture() -> None:
    readable, result = parse(fixture("edit"))
    assert result.message == FINAL and result.error is None and result.malformed == 0
    # Four requests of 1200 input (300 of them cached) and 80 output each.
    assert (result.usage.tokens_in, result.usage.tokens_out, result.usage.tokens_cached) == (4800, 320, 1200)
    assert result.usage.usd is None and result.session_id
    assert readable[0] == "run: cat hello.py (exit 0)"
    assert readable[1].startswith("tool: edit /") and readable[1].endswith("/repo/hello.py")
    assert readable[2:] == ["run: python3 hello.py (exit 0)", f"assistant: {FINAL}",
                            "tokens: 4.8k in, 320 out (1.2k cached)"]


def test_api_error_fixture() -> None:
    readable, result = parse(fixture("api-error"))
    assert result.error is not None and "401 Unauthorized" in result.error
    assert result.message is None and result.usage.tokens_in is None
    assert readable[-1].startswith("error: unexpected status 401")


def test_turns_are_summed() -> None:
    parser = CodexParser()
    turn = {"type": "turn.completed", "usage": {"input_tokens": 100, "cached_input_tokens": 40, "output_tokens": 7}}
    for _ in range(3):
        parser.feed(json.dumps(turn))
    assert parser.usage().tokens_in == 300
    parser.feed(json.dumps({"type": "item.completed", "item": {"type": "agent_message", "text": "first"}}))
    parser.feed(json.dumps({"type": "item.completed", "item": {"type": "agent_message", "text": "last"}}))
    result = parser.finish("/nonexistent")
    assert (result.usage.tokens_in, result.usage.tokens_out, result.usage.tokens_cached) == (300, 21, 120)
    assert result.message == "last" and result.error is None


def test_a_failed_turn_is_the_error_even_after_a_completed_one() -> None:
    parser = CodexParser()
    parser.feed('{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1}}')
    parser.feed('{"type":"turn.failed","error":{"message":"stream disconnected"}}')
    assert parser.finish("/nonexistent").error == "stream disconnected"


def test_no_turn_is_an_error() -> None:
    parser = CodexParser()
    parser.feed('{"type":"thread.started","thread_id":"t"}')
    parser.feed("2026-01-01T00:00:00Z ERROR codex_core: the network is gone")
    result = parser.finish("/nonexistent")
    assert result.error and "without finishing" in result.error and "network is gone" in result.error


# -- the parser on garbage -------------------------------------------------------------------


GARBAGE = ["", "plain stderr text", "{", "{bad", "[]", "{}", '{"type": []}', '{"type": "item.completed"}',
           '{"type": "item.completed", "item": {"type": "file_change", "changes": [1, {"kind": 5}]}}',
           '{"type": "item.completed", "item": {"type": "command_execution", "command": ["x"], "exit_code": "0"}}',
           '{"type": "item.completed", "item": {"type": "command_execution", "command": "\'unclosed"}}',
           '{"type": "item.completed", "item": {"type": "agent_message", "text": 5}}',
           '{"type": "turn.failed", "error": "flat"}', '{"type": "error"}',
           '{"type": "turn.completed", "usage": {"input_tokens": "lots", "output_tokens": true}}',
           '{"type": "turn.completed", "usage": {"input_tokens": 3}}', '{"type": "turn.completed", "usage": 9}',
           '{"a":' * 100_000 + "1" + "}" * 100_000, '{"n": ' + "9" * 5000 + "}", "\x00\xff{"]


def test_garbage_never_raises_and_is_counted() -> None:
    parser = CodexParser()
    for line in GARBAGE:
        out = parser.feed(line)
        assert all(isinstance(x, str) and len(x) <= MAX_LINE_CHARS for x in out)
        parser.usage()
    result = parser.finish("/nonexistent")
    assert result.malformed == 4  # "{", "{bad", the deep nesting and the 5000-digit number
    assert result.usage.tokens_in == "lots"  # as found, for the engine to report
    assert result.error == "the turn failed"


def test_huge_input_is_bounded() -> None:
    parser = CodexParser()
    out = parser.feed("{" + "x" * (MAX_JSON_LINE + 1))
    assert parser.malformed == 1 and len(out) == 1 and len(out[0]) < 100
    huge = "y" * (MAX_MESSAGE_CHARS * 3)
    out = parser.feed(json.dumps({"type": "item.completed", "item": {"type": "agent_message", "text": huge}}))
    assert len(out) == 1 and len(out[0]) <= MAX_LINE_CHARS
    changes = [{"path": "p" * 1000, "kind": "update"}] * 10_000
    out = parser.feed(json.dumps({"type": "item.completed", "item": {"type": "file_change", "changes": changes}}))
    assert len(out) <= 20
    out = parser.feed(json.dumps({"type": "item.completed", "item": {
        "type": "command_execution", "command": "/bin/bash -lc '" + "z" * 1_000_000 + "'", "exit_code": 0}}))
    assert len(out[0]) <= MAX_LINE_CHARS
    for n in range(1000):
        parser.feed(f"stderr line {n}")
    assert len(parser.tail) <= 5
    parser.feed(json.dumps({"type": "turn.completed", "usage": {"input_tokens": "7" * 1_000_000,
                                                               "output_tokens": {str(n): n for n in range(10**5)}}}))
    result = parser.finish("/nonexistent")
    assert result.message is not None and len(result.message) == MAX_MESSAGE_CHARS
    assert result.usage.tokens_in == "7" * 100 and result.usage.tokens_out == "<dict>"  # as found, cut


# -- the real CLI against the scripted API ---------------------------------------------------


@pytest.mark.slow
def test_real_codex_edits_the_file(tmp_path: Path) -> None:
    ran, script, repo = run_case(tmp_path)
    assert '+print("hello, world")' in diff(repo)
    result = ran.result
    assert result.error is None and result.message == FINAL
    totals = script.totals()
    assert script.served == 4
    assert (result.usage.tokens_in, result.usage.tokens_out, result.usage.tokens_cached) == (
        totals["input_tokens"], totals["output_tokens"], totals["cached_tokens"])
    assert "run: python3 hello.py (exit 0)" in ran.readable


@pytest.mark.slow
def test_real_codex_refused_key_is_an_error(tmp_path: Path) -> None:
    ran, script, repo = run_case(tmp_path, error=True)
    assert ran.result.error is not None and "401" in ran.result.error
    assert diff(repo) == "" and script.served == 0


# -- through UET: a patch step routed to a codex tool ----------------------------------------


@pytest.mark.slow
def test_uet_runs_codex_in_a_patch_step(project: Project) -> None:
    project.write("hello.py", 'print("hello")\n')
    project.write(".gitignore", ".uet/\n")
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "start")
    script = Script(calls=[ToolCall.exec("cat hello.py"), ToolCall.patch(PATCH)], final=FINAL)
    with FakeAPI() as api:
        install(api, script)
        project.write(".uet/router.yaml", f"""
            tools:
              fake-codex:
                agent: codex
                base_url: {api.url}
                model: {MODEL}
                env_passthrough: [OPENAI_API_KEY]
                capabilities: [code_edit]
        """)
        ws = project.write("ws.yaml", f"""
            name: greet
            steps:
              - id: edit
                kind: code_edit
                tool: fake-codex
                produces: patch
                prompt: "{PROMPT}"
        """)
        done = uet_with(project, codex(), KEY, "run", "--plain", str(ws))
    assert done.returncode == 0, done.stdout + done.stderr
    [patch] = json.loads(project.uet("patches", "--json", check=True).stdout)
    assert [f["path"] for f in patch["files"]] == ["hello.py"]
    assert '+print("hello, world")' in project.uet("patch", "show", patch["id"], check=True).stdout
    run = patch["run_id"]
    status = json.loads(project.uet("status", run, "edit", "--json", check=True).stdout)
    [attempt] = status["attempts"]
    assert status["output"] == FINAL and attempt["output"] == FINAL
    totals = script.totals()
    assert (attempt["tokens_in"], attempt["tokens_out"], attempt["tokens_cached"]) == (
        totals["input_tokens"], totals["output_tokens"], totals["cached_tokens"])
    costs = project.uet("costs", run, check=True).stdout
    [by_tool] = [line for line in costs.splitlines() if line.strip().startswith("fake-codex")]
    assert f"{attempt['tokens_in']:,}" in by_tool


def record() -> None:
    """Run the two cases once more and write their stdout as the fixtures."""
    base = Path("/tmp/uet-fixture")
    for case, options in (("edit", {}), ("api-error", {"error": True})):
        shutil.rmtree(base, ignore_errors=True)
        ran, _, _ = run_case(base, merge_stderr=False, **options)
        (FIXTURES / f"codex-{VERSION}-{case}.jsonl").write_text(ran.output)
        print(case, ran.returncode, ran.result, file=sys.stderr)
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    record()
