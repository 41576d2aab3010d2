"""Gemini CLI as a UET agent: its command line, its settings file, and a reader of its
stream-json output.

``gemini -o stream-json`` prints one JSON object a line: ``init`` (session and model),
``message`` (the user's prompt, then the assistant's text in ``delta`` pieces), ``tool_use`` and
``tool_result``, and a last ``result`` whose ``status`` says whether the turn succeeded and
whose ``stats`` hold the totals (the only place read for usage). Gemini CLI prices nothing: the
tool's price table prices the tokens.

The settings file in the attempt's home chooses the API-key login (without it the CLI stops
with "Invalid auth method selected."), and turns off telemetry, usage statistics and the
update check. A step that edits runs in ``auto_edit`` mode (file edits approved, shell
commands not); one that does not runs in ``plan`` mode, read-only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from engine.agents.base import (
    MAX_LINE_CHARS,
    MAX_MESSAGE_CHARS,
    AgentResult,
    Invocation,
    Task,
    Usage,
    clip,
)
from engine.agents.jsonlines import LineReader, usage_line

SETTINGS = ".gemini/settings.json"
#: A key the CLI accepts when the API is a local address and no key was passed through.
PLACEHOLDER_KEY = "uet-no-key"
#: The most tool calls remembered by id (for a result line to name its tool).
MAX_CALLS = 1000
MAX_DENIED = 100
#: Tool error types that mean the CLI's policy refused the call.
REFUSALS = ("permission_denied", "policy_violation", "tool_not_allowed")


def settings() -> dict[str, Any]:
    return {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
    }


def _args_text(args: Any) -> str:
    if not isinstance(args, dict):
        return ""
    for key in ("file_path", "absolute_path", "path", "command", "pattern", "dir_path"):
        value = args.get(key)
        if isinstance(value, str):
            return value
    return json.dumps(args)[:200] if len(args) else ""


class GeminiParser(LineReader):
    def __init__(self) -> None:
        super().__init__()
        self.session_id: str | None = None
        self.model: str | None = None
        self.parts: list[str] = []  # the assistant's text since the last tool call
        self.chars = 0
        self.pending = ""  # the assistant's line being streamed, shown once it ends
        self.final: Usage | None = None
        self.status: str | None = None
        self.error: str | None = None
        self.calls: dict[str, str] = {}
        self.denied: list[str] = []

    def on_event(self, event: dict[str, Any]) -> list[str]:
        kind = event.get("type")
        if kind == "init":
            if isinstance(event.get("session_id"), str):
                self.session_id = event["session_id"][:200]
            if isinstance(event.get("model"), str):
                self.model = event["model"][:200]
            return []
        if kind == "message":
            return self._message(event)
        shown = self._flush() if kind != "message" else []
        if kind == "tool_use":
            name = str(event.get("tool_name") or "tool")[:100]
            if isinstance(event.get("tool_id"), str) and len(self.calls) < MAX_CALLS:
                self.calls[event["tool_id"][:200]] = name
            self.parts, self.chars = [], 0
            verb = "edit" if name in ("replace", "write_file", "edit") else name
            return [*shown, clip(f"tool: {verb} {_args_text(event.get('parameters'))}")]
        if kind == "tool_result":
            name = self.calls.get(str(event.get("tool_id")), "tool")
            status = event.get("status")
            if status == "success":
                return shown
            error = event.get("error")
            message = error.get("message") if isinstance(error, dict) else error
            text = clip(f"{name}: {message if isinstance(message, str) else status}")
            # The approval mode refused it (plan mode: "Access denied: plan path …").
            kind = error.get("type") if isinstance(error, dict) else None
            refused = (isinstance(message, str) and message.startswith("Access denied")) or kind in REFUSALS
            if refused and len(self.denied) < MAX_DENIED:
                self.denied.append(text)
            return [*shown, f"tool {'denied' if refused else 'failed'}: {text}"[:MAX_LINE_CHARS]]
        if kind == "error":
            message = event.get("message")
            return [*shown, clip(f"warning: {message}")] if isinstance(message, str) else shown
        if kind == "result":
            return [*shown, *self._result(event)]
        return shown

    def _flush(self) -> list[str]:
        text, self.pending = self.pending.strip(), ""
        return [clip(f"assistant: {text}")] if text else []

    def _message(self, event: dict[str, Any]) -> list[str]:
        if event.get("role") != "assistant":
            return []
        content = event.get("content")
        if not isinstance(content, str):
            return []
        if not event.get("delta"):
            self.parts, self.chars = [], 0
        if self.chars < MAX_MESSAGE_CHARS:
            piece = content[: MAX_MESSAGE_CHARS - self.chars]
            self.parts.append(piece)
            self.chars += len(piece)
        self.pending += content[: 2 * MAX_LINE_CHARS]
        *done, self.pending = self.pending.split("\n")
        if len(self.pending) > MAX_LINE_CHARS:
            done.append(self.pending)
            self.pending = ""
        return [clip(f"assistant: {text}") for text in done if text.strip()]

    def _result(self, event: dict[str, Any]) -> list[str]:
        self.status = event.get("status") if isinstance(event.get("status"), str) else "unknown"
        stats = event.get("stats")
        if isinstance(stats, dict):
            # input_tokens holds the cached ones (``input`` is the rest).
            self.final = Usage(tokens_in=stats.get("input_tokens"), tokens_out=stats.get("output_tokens"),
                               tokens_cached=stats.get("cached"), model=self.model)
        out = []
        if self.status != "success":
            error = event.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            kind = error.get("type") if isinstance(error, dict) else None
            if not isinstance(message, str):
                message = f"gemini ended with status {self.status}"
            if isinstance(kind, str) and kind != "unknown":
                message = f"{kind}: {message}"
            self.error = clip(message, 2000)
            out.append(clip(f"error: {self.error}"))
        if self.final is not None:
            out.append(usage_line(self.final))
        return out

    def usage(self) -> Usage:
        return self.final or Usage(model=self.model)

    def finish(self, home: str) -> AgentResult:
        self._flush()
        message = "".join(self.parts).strip() or None
        error = self.error
        if self.status is None and error is None:
            error = f"gemini printed no result (its last words: {self.said()})"
        usage = self.usage()
        return AgentResult(message=message, usage=usage, session_id=self.session_id, error=error,
                           malformed=self.malformed, denied=list(self.denied))


@dataclass(frozen=True)
class GeminiDriver:
    family: str = "gemini"
    executable: str = "gemini"

    def invocation(self, task: Task) -> Invocation:
        argv = [self.executable, "-o", "stream-json", "--approval-mode", "auto_edit" if task.edits else "plan",
                "--skip-trust"]
        if task.model:
            argv += ["-m", task.model]
        env: dict[str, str] = {}
        if task.base_url:
            env["GOOGLE_GEMINI_BASE_URL"] = task.base_url.rstrip("/")
            if not (os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")):
                env["GEMINI_API_KEY"] = PLACEHOLDER_KEY
        return Invocation(argv=[*argv, *task.args], env=env, stdin=task.prompt_file,
                          files={SETTINGS: json.dumps(settings(), indent=2) + "\n"})

    def parser(self) -> GeminiParser:
        return GeminiParser()


DRIVER = GeminiDriver()
DEFINITION: dict[str, object] = {}
