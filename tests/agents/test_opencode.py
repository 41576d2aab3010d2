"""OpenCode as an agent: the reader on real recorded JSON events, the command line and its
config file, and the installed CLI (npm, into the test cache) reading and editing a file
against the scripted chat completions server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.agents.base import MAX_LINE_CHARS, MAX_MESSAGE_CHARS, AgentResult, Task
from engine.agents.opencode import CONFIG, DRIVER, ENV, PLACEHOLDER_KEY, OpenCodeParser
from tests.agents.cliruns import (
    Ran,
    git_repo,
    parse_with,
    plain_task,
    recorded,
    run_agent,
    task_for,
)
from tests.agents.clis import PINS
from tests.agents.fakeapi.base import FakeAPI
from tests.agents.fakeapi.chat import ChatScript, ToolCall

FIXTURES = Path(__file__).parent / "fixtures"
VERSION = PINS["opencode"].version
FINAL = "Updated the greeting in hello.py."
PROMPT = 'Make hello.py print "hello, world".\n'


def opencode() -> Path:
    return PINS["opencode"].install()


def parse(lines: list[str]) -> tuple[list[str], AgentResult]:
    return parse_with(DRIVER, lines)


def fixture(case: str) -> list[str]:
    return recorded("opencode", VERSION, case)


def task(**fields: object) -> Task:
    return plain_task(**{"prompt": PROMPT, "prompt_file": "/p/prompt.txt", "home": "/h", "workdir": "/w", **fields})


# The reader on recorded output


def test_edit_fixture() -> None:
    readable, result = parse(fixture("edit"))
    assert result.error is None and result.malformed == 0
    assert result.message == FINAL
    # Three steps of 1200 input tokens (300 of them cached; OpenCode's "input" leaves them out).
    assert (result.usage.tokens_in, result.usage.tokens_out, result.usage.tokens_cached) == (3600, 240, 900)
    assert result.usage.usd is None  # no price in the config: OpenCode reports 0
    assert result.session_id and result.session_id.startswith("ses_")
    tools = [line for line in readable if line.startswith("tool: ")]
    assert [line.split()[1] for line in tools] == ["read", "edit"] and tools[1].endswith("/hello.py")
    assert f"assistant: {FINAL}" in readable
    assert readable.count("tokens: 1.2k in, 80 out (300 cached)") == 3


def test_api_error_fixture() -> None:
    readable, result = parse(fixture("api-error"))
    assert result.error is not None and result.error.startswith("APIError: Incorrect API key provided")
    assert result.message is None
    assert any(line.startswith("error: APIError") for line in readable)


def test_no_step_finished_is_an_error() -> None:
    _, result = parse([line for line in fixture("edit") if '"type":"step_finish"' not in line])
    assert result.error is not None and "no step" in result.error


def test_priced_steps_are_summed() -> None:
    lines = [json.dumps({"type": "step_finish", "sessionID": "s", "part": {
        "cost": 0.25, "tokens": {"input": 10, "output": 2, "reasoning": 1, "cache": {"read": 5, "write": 3}}}})] * 2
    readable, result = parse(lines)
    assert (result.usage.tokens_in, result.usage.tokens_out, result.usage.tokens_cached) == (36, 6, 10)
    assert result.usage.usd == 0.5
    assert readable[0] == "tokens: 18 in, 3 out (5 cached), $0.2500"


def test_a_command_shows_its_exit_once() -> None:
    call = {"type": "tool", "tool": "bash", "callID": "c1",
            "state": {"status": "completed", "input": {"command": "pytest -q"}, "metadata": {"exit": 0}}}
    line = json.dumps({"type": "tool_use", "part": call})
    readable, _ = parse([line, line])
    assert readable == ["run: pytest -q (exit 0)"]


def test_a_tool_taken_away_is_denied() -> None:
    """A step that may not edit has no edit tool; a call to it comes back as OpenCode's
    "invalid" tool (the line as OpenCode 1.18.33 printed it, abridged)."""
    line = json.dumps({"type": "tool_use", "sessionID": "s", "part": {
        "type": "tool", "tool": "invalid", "callID": "call_0", "state": {
            "status": "completed", "input": {"tool": "edit", "error": "Model tried to call unavailable tool 'edit'. "
                                             "Available tools: glob, grep, invalid, read, skill, task, todowrite, "
                                             "webfetch."}, "title": "Invalid Tool"}}})
    readable, result = parse([line])
    assert result.denied == ["edit: Model tried to call unavailable tool 'edit'. Available tools: glob, grep, invalid, "
                             "read, skill, task, todowrite, webfetch."]
    assert readable[0].startswith("tool denied: edit: ")


# Untrusted output


def test_garbage_never_raises_and_is_counted() -> None:
    huge = json.dumps({"type": "text", "part": {"text": "y" * (3 * MAX_MESSAGE_CHARS)}})
    lines = ["{oops", '{"type": "text", "part": []}', '{"type": "tool_use", "part": {"state": 5, "tool": 3}}',
             '{"type": "step_finish", "part": {"tokens": {"input": "lots", "cache": 7}, "cost": "x"}}',
             '{"type": "error", "error": [1]}', '{"type": "error"}', "plain words", "\x00", huge,
             *[json.dumps({"type": "tool_use", "part": {"callID": n, "state": {"status": "completed"}}})
               for n in range(3000)]]
    parser = OpenCodeParser()
    readable = [out for line in lines for out in parser.feed(line)]
    readable += parser.feed(None)  # type: ignore[arg-type]
    result = parser.finish("/nonexistent")
    assert result.malformed == 1
    assert all(len(line) <= MAX_LINE_CHARS for line in readable)
    assert result.message is not None and len(result.message) <= MAX_MESSAGE_CHARS
    assert len(parser.shown) <= 1000
    assert result.usage.tokens_in == "lots"  # passed on as found, for the engine to report
    assert result.error == "opencode reported an error"


# The command line


def test_invocation_with_a_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    inv = DRIVER.invocation(task(model="mock-model", base_url="http://127.0.0.1:9/v1/", args=("--log-level", "WARN")))
    assert inv.argv == ["opencode", "run", "--format", "json", "-m", "uet/mock-model", "--log-level", "WARN"]
    assert inv.stdin == "/p/prompt.txt"  # the prompt is not on the command line
    assert inv.env["OPENCODE_CONFIG"] == f"/h/{CONFIG}"
    assert all(inv.env[name] == "1" for name in ENV)
    config = json.loads(inv.files[CONFIG])
    provider = config["provider"]["uet"]
    assert provider["options"] == {"baseURL": "http://127.0.0.1:9/v1", "apiKey": PLACEHOLDER_KEY}
    assert list(provider["models"]) == ["mock-model"]
    assert config["permission"]["edit"] == "allow" and config["permission"]["bash"] == "allow"


def test_invocation_without_edits_or_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real")
    inv = DRIVER.invocation(task(model="openai/gpt-5", edits=False))
    assert inv.argv[inv.argv.index("-m") + 1] == "openai/gpt-5"
    config = json.loads(inv.files[CONFIG])
    assert "provider" not in config
    assert config["permission"]["edit"] == "deny" and config["permission"]["bash"] == "deny"
    assert json.loads(DRIVER.invocation(task(base_url="http://x/v1")).files[CONFIG])["provider"]["uet"][
        "options"]["apiKey"] == "{env:OPENAI_API_KEY}"


def assert_flags_known(helptext: str) -> None:
    argv = DRIVER.invocation(task(base_url="http://x")).argv
    flags = {part for part in argv if part.startswith("-")}
    assert argv[1] == "run" and "opencode run" in helptext
    assert flags and [flag for flag in sorted(flags) if f" {flag} " not in helptext and f" {flag}," not in helptext] == []
    assert '"json"' in helptext


def test_recorded_help_lists_every_flag_the_driver_uses() -> None:
    assert_flags_known((FIXTURES / f"opencode-{VERSION}-help.txt").read_text())


# The installed CLI


def run_help(home: Path) -> str:
    """``opencode run --help`` (its flags are the subcommand's); the CLI prints it on stderr."""
    done = subprocess.run([opencode(), "run", "--help"], capture_output=True, text=True, timeout=120, check=True,
                          cwd=home, env={**os.environ, "HOME": str(home), **ENV}, stdin=subprocess.DEVNULL)
    return done.stdout + done.stderr


@pytest.mark.slow
def test_installed_opencode_still_lists_every_flag_the_driver_uses(tmp_path: Path) -> None:
    assert_flags_known(run_help(tmp_path))


def run_case(base: Path, *, error: bool = False) -> tuple[Ran, ChatScript, Path]:
    repo = git_repo(base / "repo")
    script = ChatScript(final=FINAL, status=401 if error else 200, cached_tokens=300, calls=[
        ToolCall("read", {"filePath": str(repo / "hello.py")}),
        ToolCall("edit", {"filePath": str(repo / "hello.py"), "oldString": 'print("hello")',
                          "newString": 'print("hello, world")'})])
    with FakeAPI() as api:
        script.attach(api)
        t = task_for(repo, base / "home", PROMPT, base_url=api.url + "/v1", model="mock-model")
        ran = run_agent(DRIVER, opencode(), t, {})
    return ran, script, repo


@pytest.mark.slow
def test_real_opencode_edits_the_file(tmp_path: Path) -> None:
    ran, script, repo = run_case(tmp_path)
    assert (repo / "hello.py").read_text() == 'print("hello, world")\n', ran.output
    assert ran.result.error is None and ran.result.message == FINAL
    # Every request but the title's (which offers no tools) is a step OpenCode reports.
    steps = len(script.reported) - 1
    assert (ran.result.usage.tokens_in, ran.result.usage.tokens_out, ran.result.usage.tokens_cached) == (
        steps * 1200, steps * 80, steps * 300)


def record() -> None:
    """Re-record the fixtures (``python -m tests.agents.test_opencode``): stdout and stderr
    merged, as the engine reads them, and the installed CLI's ``run --help``."""
    base = Path("/tmp/uet-fixture")
    for case, error in (("edit", False), ("api-error", True)):
        shutil.rmtree(base, ignore_errors=True)
        ran, _, _ = run_case(base, error=error)
        (FIXTURES / f"opencode-{VERSION}-{case}.jsonl").write_text(ran.output)
        print(case, ran.returncode, ran.result, file=sys.stderr)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir()
    (FIXTURES / f"opencode-{VERSION}-help.txt").write_text(run_help(base))
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    record()
