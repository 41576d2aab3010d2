"""Gemini CLI as an agent: the reader on real recorded stream-json, the command line and its
settings file, and the installed CLI (npm, into the test cache) editing a file against the
scripted Gemini API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.agents.base import MAX_LINE_CHARS, MAX_MESSAGE_CHARS, AgentResult, Task
from engine.agents.gemini import DRIVER, PLACEHOLDER_KEY, SETTINGS, GeminiParser
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
from tests.agents.fakeapi.gemini import FunctionCall, GeminiScript

FIXTURES = Path(__file__).parent / "fixtures"
VERSION = PINS["gemini"].version
FINAL = "Updated the greeting in hello.py."
PROMPT = 'Make hello.py print "hello, world".\n'


def gemini() -> Path:
    return PINS["gemini"].install()


def parse(lines: list[str]) -> tuple[list[str], AgentResult]:
    return parse_with(DRIVER, lines)


def fixture(case: str) -> list[str]:
    return recorded("gemini", VERSION, case)


def task(**fields: object) -> Task:
    return plain_task(**{"prompt": PROMPT, "prompt_file": "/p/prompt.txt", "home": "/h", "workdir": "/w", **fields})


# The reader on recorded output


def test_edit_fixture() -> None:
    readable, result = parse(fixture("edit"))
    assert result.error is None and result.malformed == 0
    assert result.message == FINAL
    # Input tokens with the cached ones in them (the stream's "input" leaves them out).
    assert (result.usage.tokens_in, result.usage.tokens_out, result.usage.tokens_cached) == (2400, 160, 600)
    assert result.usage.usd is None and result.usage.model == "gemini-2.5-pro"
    assert result.session_id
    assert readable[0].startswith("tool: edit ") and readable[0].endswith("/hello.py")
    assert f"assistant: {FINAL}" in readable
    assert "tokens: 2.4k in, 160 out (600 cached)" in readable
    assert "Ripgrep is not available. Falling back to GrepTool." in readable  # stderr, merged in


def test_api_error_fixture() -> None:
    readable, result = parse(fixture("api-error"))
    assert result.error is not None and "401" in result.error and "UNAUTHENTICATED" in result.error
    assert result.message is None
    assert any(line.startswith("error: ") for line in readable)
    # The CLI's stderr (merged in) is shown as it is, not counted as broken JSON.
    assert result.malformed == 0 and any("Ripgrep" in line for line in readable)


def test_plan_denied_fixture() -> None:
    readable, result = parse(fixture("plan-denied"))
    assert result.error is None and result.message == FINAL
    [denied] = result.denied
    assert denied.startswith("replace: Access denied: plan path")
    assert any(line.startswith("tool denied: replace: Access denied") for line in readable)


def test_no_result_line_is_an_error() -> None:
    _, result = parse([line for line in fixture("edit") if '"type":"result"' not in line])
    assert result.error is not None and "no result" in result.error
    assert result.message == FINAL


def test_message_is_the_text_after_the_last_tool_call() -> None:
    lines = [json.dumps({"type": "message", "role": "assistant", "content": "Let me look.", "delta": True}),
             json.dumps({"type": "tool_use", "tool_name": "read_file", "tool_id": "t1",
                         "parameters": {"file_path": "/w/a.py"}}),
             json.dumps({"type": "tool_result", "tool_id": "t1", "status": "error",
                         "error": {"type": "x", "message": "no such file"}}),
             json.dumps({"type": "message", "role": "assistant", "content": "All ", "delta": True}),
             json.dumps({"type": "message", "role": "assistant", "content": "done.\nBye", "delta": True}),
             json.dumps({"type": "result", "status": "success", "stats": {"input_tokens": 5, "output_tokens": 2}})]
    readable, result = parse(lines)
    assert result.message == "All done.\nBye"
    assert readable == ["assistant: Let me look.", "tool: read_file /w/a.py", "tool failed: read_file: no such file",
                        "assistant: All done.", "assistant: Bye", "tokens: 5 in, 2 out"]


# Untrusted output


def test_garbage_never_raises_and_is_counted() -> None:
    huge = json.dumps({"type": "message", "role": "assistant", "content": "x" * (3 * MAX_MESSAGE_CHARS),
                       "delta": True})
    lines = ["{not json", "[1, 2]", '{"type": "result", "status": 3, "stats": []}', '{"type": "message", '
             '"role": "assistant", "content": 5}', '{"type": "tool_use", "tool_name": [], "parameters": "x"}',
             '{"type": "tool_result", "tool_id": {}, "status": null, "error": 7}', '{"type": "init", "model": 1}',
             '{"type": "result", "status": "success", "stats": {"input_tokens": "many", "output_tokens": -1}}',
             "\x00", *[json.dumps({"type": "tool_use", "tool_id": str(n)}) for n in range(3000)], huge]
    parser = GeminiParser()
    readable = [out for line in lines for out in parser.feed(line)]
    readable += parser.feed(None)  # type: ignore[arg-type]
    result = parser.finish("/nonexistent")
    assert result.malformed == 1  # "{not json"; "[1, 2]" does not start like JSON: shown as text
    assert all(len(line) <= MAX_LINE_CHARS for line in readable)
    assert result.message is not None and len(result.message) <= MAX_MESSAGE_CHARS
    assert len(parser.calls) <= 1000
    assert result.usage.tokens_in == "many"  # passed on as found, for the engine to report


# The command line


def test_invocation_for_an_editing_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    inv = DRIVER.invocation(task(model="gemini-2.5-pro", base_url="http://127.0.0.1:9/", args=("--debug",)))
    assert inv.argv == ["gemini", "-o", "stream-json", "--approval-mode", "auto_edit", "--skip-trust",
                        "-m", "gemini-2.5-pro", "--debug"]
    assert inv.stdin == "/p/prompt.txt"
    assert inv.env == {"GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9", "GEMINI_API_KEY": PLACEHOLDER_KEY}
    config = json.loads(inv.files[SETTINGS])
    assert config["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert config["telemetry"]["enabled"] is False and config["privacy"]["usageStatisticsEnabled"] is False
    assert config["general"]["disableAutoUpdate"] is True


def test_invocation_for_a_plan_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "real")
    inv = DRIVER.invocation(task(edits=False))
    assert inv.argv[inv.argv.index("--approval-mode") + 1] == "plan"
    assert "-m" not in inv.argv and inv.env == {}


def test_recorded_help_lists_every_flag_the_driver_uses() -> None:
    assert_flags_known((FIXTURES / f"gemini-{VERSION}-help.txt").read_text())


def assert_flags_known(helptext: str) -> None:
    argv = DRIVER.invocation(task(model="m", edits=True)).argv + DRIVER.invocation(task(edits=False)).argv
    flags = {part for part in argv if part.startswith("-")}
    assert flags and [flag for flag in sorted(flags) if f" {flag}" not in helptext] == []
    for mode in ("auto_edit", "plan", "stream-json"):
        assert f'"{mode}"' in helptext


# The installed CLI


@pytest.mark.slow
def test_installed_gemini_still_lists_every_flag_the_driver_uses(tmp_path: Path) -> None:
    done = subprocess.run([gemini(), "--help"], capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "HOME": str(tmp_path)}, stdin=subprocess.DEVNULL)
    assert_flags_known(done.stdout)


def run_case(base: Path, *, error: bool = False, edits: bool = True, merge_stderr: bool = True) -> tuple[Ran, GeminiScript, Path]:
    repo = git_repo(base / "repo")
    script = GeminiScript(final=FINAL, status=401 if error else 200, cached_tokens=300, calls=[FunctionCall("replace", {
        "file_path": str(repo / "hello.py"), "old_string": 'print("hello")', "new_string": 'print("hello, world")',
        "instruction": "Greet the whole world."})])
    with FakeAPI() as api:
        script.attach(api)
        t = task_for(repo, base / "home", PROMPT, base_url=api.url, model="gemini-2.5-pro", edits=edits)
        ran = run_agent(DRIVER, gemini(), t, {}, merge_stderr=merge_stderr)
    return ran, script, repo


@pytest.mark.slow
def test_real_gemini_edits_the_file(tmp_path: Path) -> None:
    ran, script, repo = run_case(tmp_path)
    assert (repo / "hello.py").read_text() == 'print("hello, world")\n', ran.output
    result = ran.result
    assert result.error is None and result.message == FINAL
    totals = script.totals()
    assert (result.usage.tokens_in, result.usage.tokens_out, result.usage.tokens_cached) == (
        totals["prompt_tokens"], totals["candidates_tokens"], totals["cached_tokens"])


@pytest.mark.slow
def test_real_gemini_refused_key_is_an_error(tmp_path: Path) -> None:
    ran, _, repo = run_case(tmp_path, error=True)
    assert ran.result.error is not None and "401" in ran.result.error
    assert (repo / "hello.py").read_text() == 'print("hello")\n'


@pytest.mark.slow
def test_real_gemini_plan_step_cannot_edit(tmp_path: Path) -> None:
    ran, _, repo = run_case(tmp_path, edits=False)
    assert (repo / "hello.py").read_text() == 'print("hello")\n'
    assert ran.result.error is None and ran.result.message == FINAL
    assert len(ran.result.denied) == 1 and ran.result.denied[0].startswith("replace: Access denied")


def record() -> None:
    """Re-record the fixtures (``python -m tests.agents.test_gemini``): stdout and stderr merged,
    as the engine reads them, and the installed CLI's --help."""
    base = Path("/tmp/uet-fixture")
    for case, error, edits in (("edit", False, True), ("api-error", True, True), ("plan-denied", False, False)):
        shutil.rmtree(base, ignore_errors=True)
        ran, _, _ = run_case(base, error=error, edits=edits)
        (FIXTURES / f"gemini-{VERSION}-{case}.jsonl").write_text(ran.output)
        print(case, ran.returncode, ran.result, file=sys.stderr)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir()
    done = subprocess.run([gemini(), "--help"], capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "HOME": str(base)}, stdin=subprocess.DEVNULL)
    (FIXTURES / f"gemini-{VERSION}-help.txt").write_text(done.stdout)
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    record()
