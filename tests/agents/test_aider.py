"""aider as an agent: the reader on real recorded output, the command line, and real aider
(installed from PyPI into the test cache) editing a file in a git repository against the
scripted chat completions server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.agents import aider
from engine.agents.aider import (
    ANALYTICS_LOG,
    CHAT_HISTORY,
    DRIVER,
    PRICE_CACHE,
    AiderParser,
    last_answer,
)
from engine.agents.base import MAX_LINE_CHARS, MAX_MESSAGE_CHARS, AgentResult, Task
from tests.agents.cliruns import GIT, git_repo, run_agent, task_for, uet_with
from tests.agents.clis import PINS
from tests.agents.fakeapi.base import FakeAPI
from tests.agents.fakeapi.chat import ChatScript, edit_block, last_user_text
from tests.conftest import Project

FIXTURES = Path(__file__).parent / "fixtures"
VERSION = PINS["aider"].version
REPLY = edit_block("hello.py", 'print("hello")\n', 'print("hello, world")\n')
PROMPT = 'Make hello.py print "hello, world".\n'


def fixture_lines(case: str) -> list[str]:
    return (FIXTURES / f"aider-{VERSION}-{case}.txt").read_text().split("\n")


def parse(lines: list[str], home: Path) -> tuple[list[str], AgentResult]:
    parser = DRIVER.parser()
    readable = [out for line in lines for out in parser.feed(line)]
    return readable, parser.finish(str(home))


def home_with_logs(tmp_path: Path) -> Path:
    """A home holding the chat history and analytics log aider wrote in the recorded edit."""
    home = tmp_path / "home"
    (home / CHAT_HISTORY).parent.mkdir(parents=True)
    shutil.copy(FIXTURES / f"aider-{VERSION}-edit.chat.md", home / CHAT_HISTORY)
    shutil.copy(FIXTURES / f"aider-{VERSION}-edit.analytics.jsonl", home / ANALYTICS_LOG)
    return home


# The reader on recorded output


def test_recorded_edit_reads_answer_usage_and_the_edit(tmp_path: Path) -> None:
    readable, result = parse(fixture_lines("edit"), home_with_logs(tmp_path))
    assert result.error is None
    assert result.message == REPLY.strip()
    assert (result.usage.tokens_in, result.usage.tokens_out) == (1200, 80)
    assert result.usage.usd == pytest.approx(0.0048)
    assert result.usage.model == "openai/mock-model"
    assert "tool: edit hello.py" in readable
    assert "tokens: 1.2k in, 80 out, $0.0048" in readable
    assert "assistant: I will make the change." in readable
    assert not any("Tokens:" in line or "<<<<<<<" in line for line in readable if line.startswith("assistant:"))


def test_recorded_edit_without_logs_reads_stdout(tmp_path: Path) -> None:
    """No analytics log or chat history in the home: the answer and the rounded usage come
    from what aider printed, the token/cost lines left out of the answer."""
    _, result = parse(fixture_lines("edit"), tmp_path)
    assert result.error is None
    assert result.message == REPLY.strip()
    assert (result.usage.tokens_in, result.usage.tokens_out, result.usage.usd) == (1200, 80, 0.0048)


def test_analytics_log_wins_over_printed_tokens(tmp_path: Path) -> None:
    """aider rounds what it prints (1.2k); the log holds the exact counts of every reply."""
    home = home_with_logs(tmp_path)
    event = {"event": "message_send", "properties": {"main_model": "openai/mock-model", "prompt_tokens": 1234,
                                                     "completion_tokens": 56, "cost": 0.01, "total_cost": 0.0148}}
    with open(home / ANALYTICS_LOG, "a") as log:
        log.write(json.dumps(event) + "\n")
    _, result = parse(fixture_lines("edit"), home)
    assert (result.usage.tokens_in, result.usage.tokens_out) == (1200 + 1234, 80 + 56)
    assert result.usage.usd == pytest.approx(0.0148)


def test_model_comes_from_the_banner_not_the_redacted_log(tmp_path: Path) -> None:
    """aider's analytics log names a model it knows no price of ``openai/REDACTED``; the price
    table is keyed by the real name, which aider's banner prints."""
    home = home_with_logs(tmp_path)
    log = (home / ANALYTICS_LOG).read_text().replace('"main_model": "openai/mock-model"',
                                                     '"main_model": "openai/REDACTED"')
    (home / ANALYTICS_LOG).write_text(log)
    _, result = parse(fixture_lines("edit"), home)
    assert result.usage.model == "openai/mock-model"
    _, result = parse([line for line in fixture_lines("edit") if not line.startswith("Model:")], home)
    assert result.usage.model is None


def test_recorded_api_error_is_an_error_though_aider_exits_0(tmp_path: Path) -> None:
    readable, result = parse(fixture_lines("api-error"), tmp_path)
    assert result.error is not None and result.error.startswith("litellm.AuthenticationError")
    assert "Incorrect API key provided" in result.error and "not able to authenticate" in result.error
    assert result.message is None
    assert any(line.startswith("error: litellm.AuthenticationError") for line in readable)


def test_recorded_reflection_limit_is_an_error(tmp_path: Path) -> None:
    readable, result = parse(fixture_lines("no-match"), tmp_path)
    assert result.error == "Only 3 reflections allowed, stopping."
    assert (result.usage.tokens_in, result.usage.tokens_out) == (4 * 1200, 4 * 80)
    # The last answer, not aider's feedback on it.
    assert result.message is not None and result.message.startswith("I will make the change.")
    assert not any("SearchReplaceNoExactMatch" in line for line in readable)


def test_failed_match_without_reflection_limit_is_an_error(tmp_path: Path) -> None:
    lines = fixture_lines("no-match")
    cut = next(i for i, line in enumerate(lines) if line.startswith("The SEARCH section must"))
    _, result = parse(lines[: cut + 1], tmp_path)
    assert result.error is not None and "failed to match" in result.error


def test_an_error_aider_retried_past_is_not_the_result(tmp_path: Path) -> None:
    lines = ["litellm.APIConnectionError: APIConnectionError: OpenAIException - Connection error.",
             "Retrying in 0.2 seconds...", *fixture_lines("edit")]
    _, result = parse(lines, tmp_path)
    assert result.error is None and result.usage.tokens_in == 1200


def test_answer_comes_from_the_chat_history_when_there(tmp_path: Path) -> None:
    """On stdout the model's answer and aider's notes look alike (an answer line "Added …" reads
    as aider's); the chat history file tells them apart."""
    (tmp_path / CHAT_HISTORY).parent.mkdir(parents=True)
    (tmp_path / CHAT_HISTORY).write_text("#### Add a greeting.  \n\nAdded a greeting.\nDone.\n\n"
                                         "> Tokens: 10 sent, 2 received.  \n")
    _, result = parse(["Added hello.py to the chat.", "", "Added a greeting.", "Done.",
                       "Tokens: 10 sent, 2 received."], tmp_path)
    assert result.message == "Added a greeting.\nDone."


def test_chat_history_answer_is_the_last_reply() -> None:
    chat = (FIXTURES / f"aider-{VERSION}-edit.chat.md").read_text()
    assert last_answer(chat) == REPLY.strip()
    assert last_answer(chat + "\n> Tokens: 1 sent, 1 received.  \n#### again  \n\nSecond answer.\n\n") == (
        "Second answer.")
    assert last_answer("") is None


# Untrusted output


GARBAGE = ["", "\x00\x01\x02", "Tokens: lots sent, many received.", "Tokens: 1e9k sent, 2 received.",
           "Applied edit to ", "litellm.", "{\"event\": 1}", "```", "```", "\ud800", "Tokens: 9,999,999m sent, "
           "1k received. Cost: $99999999999999999999.9 message, $1e400 session.", "> " * 1000]


def test_garbage_never_raises_and_stays_bounded(tmp_path: Path) -> None:
    parser = AiderParser()
    huge = "x" * (4 * MAX_MESSAGE_CHARS)
    outputs = []
    for line in [*GARBAGE, huge, *([huge[:10_000]] * 200), None, 12, b"bytes"]:
        outputs += parser.feed(line)  # type: ignore[arg-type]
    assert all(len(line) <= MAX_LINE_CHARS for line in outputs)
    result = parser.finish(str(tmp_path))
    assert result.message is None or len(result.message) <= MAX_MESSAGE_CHARS
    assert len(parser.reply) <= aider.MAX_LINES


def test_garbage_logs_in_the_home_never_raise(tmp_path: Path) -> None:
    home = tmp_path
    (home / CHAT_HISTORY).parent.mkdir(parents=True)
    (home / CHAT_HISTORY).write_bytes(b"\xff\xfe" + b"y" * (5 * MAX_MESSAGE_CHARS))
    (home / ANALYTICS_LOG).write_text("\n".join([
        "not json", "[1, 2]", "null", '{"event": "message_send"}', '{"event": "message_send", "properties": 3}',
        json.dumps({"event": "message_send", "properties": {"prompt_tokens": "9", "completion_tokens": -4,
                                                            "cost": "free", "main_model": ["x"]}}),
        json.dumps({"event": "message_send", "properties": {"prompt_tokens": 7, "completion_tokens": 2,
                                                            "cost": float("nan")}}),
    ]))
    result = AiderParser().finish(str(home))
    assert result.malformed == 1
    # A count that is no number is passed on as found, for the engine to report.
    assert (result.usage.tokens_in, result.usage.tokens_out, result.usage.usd) == ("9", -4 + 2, "free")
    assert result.message is not None and len(result.message) <= MAX_MESSAGE_CHARS


# The command line


def task(tmp_path: Path, **fields: object) -> Task:
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Make greet() return 'hello, world'.\n")
    values: dict[str, object] = {"prompt": prompt.read_text(), "prompt_file": str(prompt),
                                 "home": str(tmp_path / "home"), "workdir": str(tmp_path / "repo"),
                                 "context": ("hello.py",)}
    values.update(fields)
    return Task(**values)  # type: ignore[arg-type]


def test_invocation_keeps_aider_files_in_the_home_and_reads_the_prompt_file(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    t = task(tmp_path, model="openai/mock-model", base_url="http://127.0.0.1:9/v1", args=("--verbose",))
    inv = DRIVER.invocation(t)
    argv = inv.argv
    assert argv[:3] == ["aider", "--model", "openai/mock-model"]
    assert argv[argv.index("--message-file") + 1] == t.prompt_file
    assert argv[argv.index("--openai-api-base") + 1] == "http://127.0.0.1:9/v1"
    assert argv[argv.index("--edit-format") + 1] == "diff"
    for flag in ("--chat-history-file", "--input-history-file", "--analytics-log"):
        assert argv[argv.index(flag) + 1].startswith(t.home + os.sep)
    assert argv[-3:] == ["--file", "hello.py", "--verbose"]
    assert "--no-auto-commits" in argv and "--no-stream" in argv and "--no-check-update" in argv
    assert inv.env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert inv.env["OPENAI_API_KEY"]  # aider refuses to start without one
    assert PRICE_CACHE in inv.files
    assert t.prompt not in " ".join(argv)


def test_invocation_keeps_the_key_passed_through_and_asks_when_not_editing(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real")
    inv = DRIVER.invocation(task(tmp_path, base_url="http://127.0.0.1:9/v1", edits=False))
    assert "OPENAI_API_KEY" not in inv.env
    assert inv.argv[inv.argv.index("--model") + 1] == aider.DEFAULT_MODEL
    assert inv.argv[inv.argv.index("--edit-format") + 1] == "ask"
    assert inv.argv[-2:] == ["--read", "hello.py"]


# Real aider


@pytest.fixture(scope="module")
def aider_exe() -> Path:
    return PINS["aider"].install()


def real_task(tmp_path: Path, base_url: str, *args: str) -> Task:
    repo = git_repo(tmp_path / "repo")
    return task_for(repo, tmp_path / "home", PROMPT, model="openai/mock-model", base_url=base_url,
                    context=("hello.py",), args=args)


PRICED = {"openai/mock-model": {"max_input_tokens": 128000, "max_output_tokens": 4096, "litellm_provider": "openai",
                                "mode": "chat", "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05}}


@pytest.mark.slow
def test_real_aider_edits_the_file_and_reports_the_server_usage(tmp_path: Path, aider_exe: Path) -> None:
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps(PRICED))
    script = ChatScript(final=REPLY, prompt_tokens=1234, completion_tokens=56)
    with FakeAPI() as api:
        script.attach(api)
        t = real_task(tmp_path, api.url + "/v1", "--model-metadata-file", str(meta))
        ran = run_agent(DRIVER, aider_exe, t, {})
    repo = Path(t.workdir)
    assert ran.returncode == 0, ran.output
    assert (repo / "hello.py").read_text() == 'print("hello, world")\n'
    assert ran.result.error is None, ran.output
    assert ran.result.message == REPLY.strip()
    assert "tool: edit hello.py" in ran.readable
    assert len(script.reported) == 1
    assert (ran.result.usage.tokens_in, ran.result.usage.tokens_out) == (1234, 56)
    assert ran.result.usage.usd == pytest.approx(1234 * 3e-06 + 56 * 1.5e-05)
    # The prompt reached the model; aider's files stayed in the home, none in the repository.
    assert "Make hello.py print" in api.requests[-1].body.decode()
    status = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"], cwd=repo,
                            capture_output=True, text=True, check=True).stdout
    assert status.splitlines() == [" M hello.py"]


@pytest.mark.slow
def test_real_aider_without_prices_downloads_no_price_list(tmp_path: Path, aider_exe: Path) -> None:
    """The price list cache the command line writes is taken as fresh (aider rewrites it after
    any download, "{}" when the download fails); a model aider knows no price of costs None."""
    script = ChatScript(final=REPLY)
    with FakeAPI() as api:
        script.attach(api)
        t = real_task(tmp_path, api.url + "/v1")
        ran = run_agent(DRIVER, aider_exe, t, {})
    assert ran.result.error is None, ran.output
    assert (Path(t.home) / PRICE_CACHE).read_text() == DRIVER.invocation(t).files[PRICE_CACHE]
    assert (ran.result.usage.tokens_in, ran.result.usage.tokens_out, ran.result.usage.usd) == (1200, 80, None)


@pytest.mark.slow
def test_real_aider_refused_key_is_an_error_despite_exit_0(tmp_path: Path, aider_exe: Path) -> None:
    script = ChatScript(final=REPLY, status=401)
    with FakeAPI() as api:
        script.attach(api)
        t = real_task(tmp_path, api.url + "/v1")
        ran = run_agent(DRIVER, aider_exe, t, {})
    assert ran.returncode == 0
    assert ran.result.error is not None and "AuthenticationError" in ran.result.error
    assert (Path(t.workdir) / "hello.py").read_text() == 'print("hello")\n'


@pytest.mark.slow
def test_installed_aider_knows_every_flag_the_driver_uses(tmp_path: Path, aider_exe: Path) -> None:
    helptext = subprocess.run([aider_exe, "--help"], capture_output=True, text=True, check=True,
                              env={**os.environ, "HOME": str(tmp_path)}).stdout
    flags = {part for part in DRIVER.invocation(task(tmp_path, base_url="http://x", edits=True)).argv
             + DRIVER.invocation(task(tmp_path, edits=False)).argv if part.startswith("--")}
    assert flags and not [flag for flag in sorted(flags) if flag not in helptext]


# Through UET: plan -> implement (a patch, gated) -> review, each on the last one's output


PLAN_OUTPUT = "PLAN-7: print the whole greeting from hello.py."
REVIEW_OUTPUT = "REVIEW-9: the change matches the plan."


def git(root: Path, *args: str) -> None:
    subprocess.run([*GIT, "-C", str(root), *args], check=True, capture_output=True)


@pytest.mark.slow
def test_uet_runs_a_workstream_of_aider_steps(project: Project, aider_exe: Path) -> None:
    project.write("hello.py", 'print("hello")\n')
    project.write("check_hello.py", """
        import subprocess, sys
        out = subprocess.run([sys.executable, "hello.py"], capture_output=True, text=True).stdout
        open("gate-ran.txt", "w").write(out)
        sys.exit(0 if out == "hello, world\\n" else 1)
    """)
    project.write(".gitignore", ".uet/\n")
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "start")
    script = ChatScript(final="unexpected request", rules=[
        ("Review the change", REVIEW_OUTPUT), ("Implement this plan", REPLY), ("Plan this change", PLAN_OUTPUT)])
    with FakeAPI() as api:
        script.attach(api)
        project.write(".uet/router.yaml", f"""
            tools:
              aider-fake:
                agent: aider
                executable: aider
                network: true
                base_url: {api.url}/v1
                model: openai/mock-model
                capabilities: [plan, code_edit, review]
                prices:
                  openai/mock-model: {{input: 3.0, output: 15.0}}
        """)
        ws = project.write("ws.yaml", """
            name: greet
            gates:
              tests:
                - [python3, check_hello.py]
            steps:
              - id: plan
                kind: plan
                tool: aider-fake
                prompt: "Plan this change: hello.py should greet the whole world."
                context: [hello.py]
              - id: implement
                kind: code_edit
                tool: aider-fake
                needs: [plan]
                produces: patch
                gate: tests
                prompt: "Implement this plan: {steps.plan.output}"
                context: [hello.py]
              - id: review
                kind: review
                tool: aider-fake
                needs: [implement]
                prompt: "Review the change. The plan: {steps.plan.output} What was done: {steps.implement.output}"
                context: [hello.py]
        """)
        done = uet_with(project, aider_exe, {}, "run", "--plain", str(ws))
    assert done.returncode == 0, done.stdout + done.stderr
    [patch] = json.loads(project.uet("patches", "--json", check=True).stdout)
    assert [f["path"] for f in patch["files"]] == ["hello.py"]
    shown = project.uet("patch", "show", patch["id"], check=True).stdout
    assert '+print("hello, world")' in shown
    assert patch["state"] == "gate_passed", shown
    run = patch["run_id"]
    outputs = {"plan": PLAN_OUTPUT, "implement": REPLY.strip(), "review": REVIEW_OUTPUT}
    for step, output in outputs.items():
        status = json.loads(project.uet("status", run, step, "--json", check=True).stdout)
        [attempt] = status["attempts"]
        assert status["output"] == output and attempt["output"] == output, attempt
        assert (attempt["tokens_in"], attempt["tokens_out"], attempt["model"]) == (1200, 80, "openai/mock-model")
        assert attempt["usd"] == pytest.approx((1200 * 3.0 + 80 * 15.0) / 1e6), attempt
    costs = json.loads(project.uet("costs", run, "--json", check=True).stdout)
    assert costs["total"]["unpriced"] == 0, costs
    assert (costs["total"]["tokens_in"], costs["total"]["tokens_out"]) == (3 * 1200, 3 * 80)
    assert costs["total"]["usd"] == pytest.approx(3 * (1200 * 3.0 + 80 * 15.0) / 1e6)
    # Every step's prompt reached the model with the output of the step before it.
    asked = [last_user_text(request.json().get("messages") or []) for request in api.requests
             if request.path.endswith("/chat/completions")]
    assert len(asked) == 3
    assert PLAN_OUTPUT in asked[1]
    assert REPLY.strip() in asked[2] and PLAN_OUTPUT in asked[2]


def record(out: Path = FIXTURES) -> None:
    """Re-record the fixtures (``python -m tests.agents.test_aider``): the cases above, what
    aider printed and, for the edit, the analytics log and chat history it wrote in the home."""
    root = Path("/tmp/uet-fixture")
    cases = {"edit": ChatScript(final=REPLY), "api-error": ChatScript(final=REPLY, status=401),
             "no-match": ChatScript(final=edit_block("hello.py", 'print("nope")\n', 'print("x")\n'))}
    for case, script in cases.items():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        (root / "meta.json").write_text(json.dumps(PRICED))
        with FakeAPI() as api:
            script.attach(api)
            t = real_task(root, api.url + "/v1", "--model-metadata-file", str(root / "meta.json"))
            ran = run_agent(DRIVER, PINS["aider"].install(), t, {})
        (out / f"aider-{VERSION}-{case}.txt").write_text(ran.output)
        if case == "edit":
            shutil.copy(Path(t.home) / ANALYTICS_LOG, out / f"aider-{VERSION}-edit.analytics.jsonl")
            shutil.copy(Path(t.home) / CHAT_HISTORY, out / f"aider-{VERSION}-edit.chat.md")


if __name__ == "__main__":
    record()
