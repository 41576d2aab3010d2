"""Codex CLI (``codex exec``) as an agent family: its command line, its config and its JSONL parser.

Codex reads its settings from ``$CODEX_HOME/config.toml``; the attempt's home gets one that
names a model provider of UET's own: the task's address (or OpenAI's), the Responses API, the
key from ``OPENAI_API_KEY`` (so a user's ordinary key works), no request or stream retries (a
refused key fails in a second; UET retries attempts itself), analytics, plugin sync, update
checks and model discovery off. The prompt goes on stdin (``-``).

``--json`` prints one event per line: ``thread.started`` (the session), ``item.started`` and
``item.completed`` for each ``agent_message``, ``command_execution``, ``file_change``,
``reasoning`` or non-fatal ``error`` item, then ``turn.completed`` with the turn's usage or
``turn.failed`` with its error; top-level ``error`` lines report failed requests. The final
message is the last ``agent_message``; the usage is the sum of the ``turn.completed`` lines.
Codex reports no cost and no model name: the tool's price table prices the tokens. It exits 0
when a command or edit failed, so failures are read from the stream, not the exit code.

Lines that start like JSON and do not parse are counted as ``malformed``; other text (the
CLI's stderr, merged in: warnings and logs) is passed to the log as it is.
"""

from __future__ import annotations

import json
import shlex
from typing import Any
from urllib.parse import urlsplit

from engine.agents.base import MAX_MESSAGE_CHARS, AgentResult, Invocation, Task, Usage, clip
from engine.agents.jsonlines import LineReader, add, number, usage_line

CODEX_HOME = ".codex"
OPENAI = "https://api.openai.com/v1"
KEY_VARIABLE = "OPENAI_API_KEY"
#: Switched off in the config: each reaches a host of its own at start (plugin sync, the
#: update check, the model list), none is needed to run one task.
FEATURES_OFF = ("plugins", "remote_plugin", "in_app_updates", "api_key_model_discovery")
CHANGE_WORDS = {"update": "edit", "add": "add", "delete": "delete"}

#: Codex reports no cost; a project's router can add ``prices`` for its model.
DEFINITION: dict[str, Any] = {}


def _base_url(url: str | None) -> str:
    """Codex appends ``/responses`` to the provider's address: a bare host gets OpenAI's ``/v1``."""
    if not url:
        return OPENAI
    url = url.rstrip("/")
    return url + "/v1" if urlsplit(url).path in ("", "/") else url


def _toml(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value)


def config(task: Task) -> str:
    lines = [
        'model_provider = "uet"',
        "",
        "[model_providers.uet]",
        'name = "UET"',
        f"base_url = {_toml(_base_url(task.base_url))}",
        f"env_key = {_toml(KEY_VARIABLE)}",
        'wire_api = "responses"',
        "request_max_retries = 0",
        "stream_max_retries = 0",
        "",
        "[analytics]",
        "enabled = false",
        "",
        "[features]",
        *(f"{feature} = false" for feature in FEATURES_OFF),
    ]
    return "\n".join(lines) + "\n"


class CodexDriver:
    family = "codex"
    executable = "codex"

    def invocation(self, task: Task) -> Invocation:
        # The agent runs inside UET's bubblewrap sandbox, which is what contains it. Codex's own
        # sandbox (workspace-write, and read-only too) runs every command under a bwrap of its
        # own, which cannot nest in ours: each command failed with "Creating new namespace
        # failed" and every edit with "Failed to write file". So Codex's sandbox and approvals
        # are off, for plan steps as well (their changes are discarded with the scratch copy).
        argv = [self.executable, "exec", "--json", "--skip-git-repo-check", "--ephemeral",
                "--dangerously-bypass-approvals-and-sandbox"]
        if task.model:
            argv += ["--model", task.model]
        argv += [*task.args, "-"]
        home = f"{task.home.rstrip('/')}/{CODEX_HOME}"
        return Invocation(argv=argv, env={"CODEX_HOME": home}, stdin=task.prompt_file,
                          files={f"{CODEX_HOME}/config.toml": config(task)})

    def parser(self) -> CodexParser:
        return CodexParser()


def command_text(command: Any) -> str:
    """The command as the agent wrote it: Codex wraps it in ``/bin/bash -lc '…'``."""
    if not isinstance(command, str):
        return "?"
    if len(command) < 10_000:
        try:
            words = shlex.split(command)
        except ValueError:
            return command
        if len(words) == 3 and words[0].endswith("sh") and words[1] in ("-lc", "-c"):
            return words[2]
    return command


class CodexParser(LineReader):
    def __init__(self) -> None:
        super().__init__()
        self.session_id: str | None = None
        self.message: str | None = None
        self.totals = Usage()
        self.turns = 0  # turn.completed lines read
        self.failure: str | None = None  # turn.failed's error
        self.last_error: str | None = None  # the last top-level error line

    def on_event(self, event: dict[str, Any]) -> list[str]:
        kind = event.get("type")
        if kind == "thread.started" and isinstance(event.get("thread_id"), str):
            self.session_id = event["thread_id"][:200]
        elif kind == "item.completed" and isinstance(event.get("item"), dict):
            return self._item(event["item"])
        elif kind == "turn.completed":
            return self._turn(event.get("usage"))
        elif kind == "turn.failed":
            error = event.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            self.failure = clip(message if isinstance(message, str) else "the turn failed", 2000)
            return [clip(f"error: {self.failure}")]
        elif kind == "error":
            message = event.get("message")
            self.last_error = clip(message if isinstance(message, str) else "error", 2000)
            return [clip(f"warning: {self.last_error}")]
        return []

    def _item(self, item: dict[str, Any]) -> list[str]:
        kind = item.get("type")
        if kind == "agent_message" and isinstance(item.get("text"), str):
            self.message = item["text"][:MAX_MESSAGE_CHARS]
            return [clip(f"assistant: {item['text']}")]
        if kind == "reasoning" and isinstance(item.get("text"), str):
            return [clip(f"thinking: {item['text']}")]
        if kind == "command_execution":
            code = item.get("exit_code")
            status = f"exit {code}" if number(code) else str(item.get("status"))[:40]
            return [clip(f"run: {command_text(item.get('command'))} ({status})")]
        if kind == "file_change":
            changes = item.get("changes") if isinstance(item.get("changes"), list) else []
            failed = " (failed)" if item.get("status") == "failed" else ""
            return [clip(f"tool: {CHANGE_WORDS.get(change.get('kind'), 'change')} {change.get('path')}{failed}")
                    for change in changes[:20] if isinstance(change, dict)]
        if kind == "error":
            return [clip(f"warning: {item.get('message')}")]
        if isinstance(kind, str) and kind not in ("agent_message", "reasoning"):
            return [clip(f"tool: {kind}")]
        return []

    def _turn(self, usage: Any) -> list[str]:
        self.turns += 1
        if not isinstance(usage, dict):
            return []
        total = self.totals
        total.tokens_in = add(total.tokens_in, usage.get("input_tokens"))
        total.tokens_out = add(total.tokens_out, usage.get("output_tokens"))
        total.tokens_cached = add(total.tokens_cached, usage.get("cached_input_tokens"))
        return [usage_line(total)]

    def usage(self) -> Usage:
        t = self.totals
        return Usage(t.tokens_in, t.tokens_out, t.tokens_cached, None, None)

    def finish(self, home: str) -> AgentResult:
        error = self.failure
        if error is None and self.turns == 0:
            said = self.last_error or self.said()
            error = clip(f"codex ended without finishing its turn (last output: {said})", 2000)
        return AgentResult(message=self.message, usage=self.usage(), session_id=self.session_id, error=error,
                           malformed=self.malformed)


DRIVER = CodexDriver()
