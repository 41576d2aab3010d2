"""OpenCode as a UET agent: its command line, its config file, and a reader of its JSON events.

``opencode run --format json`` prints one JSON event a line, each with the session's id and a
``part``: ``step_start``, ``text`` (the assistant's text, whole), ``tool_use`` (a tool call with
its state), ``step_finish`` (that step's tokens and cost: the only place usage is read, summed
over steps), and ``error`` when the session failed. OpenCode prices the tokens itself from the
model's ``cost`` in its config, when the config has one.

The config file (``OPENCODE_CONFIG``, in the attempt's home) declares where the model is: a
tool's ``base_url`` becomes a provider of UET's own (``uet``, OpenAI-compatible) holding the
tool's model, and the model is ``uet/<model>``; without one, the model is OpenCode's own
``provider/model`` name. Permissions: a step that edits may edit and run commands; one that
does not may neither. The variables turn off the update check, model list download, sharing,
LSP downloads, default plugins and reading Claude Code's files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from engine.agents.base import MAX_MESSAGE_CHARS, AgentResult, Invocation, Task, Usage, clip
from engine.agents.jsonlines import LineReader, add, usage_line

CONFIG = ".config/uet-opencode.json"
#: The provider a tool's base_url becomes.
PROVIDER = "uet"
DEFAULT_MODEL = "anthropic/claude-sonnet-4-5"
PLACEHOLDER_KEY = "uet-no-key"
ENV = {
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "OPENCODE_DISABLE_SHARE": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    "OPENCODE_DISABLE_CLAUDE_CODE": "1",
    "OPENCODE_DISABLE_EXTERNAL_SKILLS": "1",
}
#: The most tool calls whose start was shown (so a call's later states are not shown again).
MAX_CALLS = 1000


def model_name(task: Task) -> str:
    if task.base_url:
        model = task.model or "default"
        return f"{PROVIDER}/{model.split('/', 1)[1] if model.startswith(PROVIDER + '/') else model}"
    return task.model or DEFAULT_MODEL


def config(task: Task) -> dict[str, Any]:
    allow = "allow" if task.edits else "deny"
    data: dict[str, Any] = {
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": False,
        "share": "disabled",
        "permission": {"edit": allow, "bash": allow, "webfetch": "allow", "external_directory": "deny"},
    }
    if task.base_url:
        model = model_name(task).split("/", 1)[1]
        key = os.environ.get("OPENAI_API_KEY") and "{env:OPENAI_API_KEY}" or PLACEHOLDER_KEY
        data["provider"] = {PROVIDER: {
            "npm": "@ai-sdk/openai-compatible",
            "name": "UET",
            "options": {"baseURL": task.base_url.rstrip("/"), "apiKey": key},
            "models": {model: {"name": model}},
        }}
    return data


def _tool_text(part: dict[str, Any]) -> str:
    tool = part.get("tool")
    state = part.get("state") if isinstance(part.get("state"), dict) else {}
    args = state.get("input") if isinstance(state.get("input"), dict) else {}
    name = tool if isinstance(tool, str) else "tool"
    for key in ("filePath", "path", "command", "pattern", "url"):
        value = args.get(key)
        if isinstance(value, str):
            if key == "command":
                return f"run: {value}"
            verb = "edit" if name in ("edit", "write", "patch", "multiedit") else name
            return f"tool: {verb} {value}"
    return f"tool: {name}"


class OpenCodeParser(LineReader):
    def __init__(self) -> None:
        super().__init__()
        self.session_id: str | None = None
        self.text: str | None = None  # the last text part
        self.total = Usage()
        self.steps = 0
        self.error: str | None = None
        self.shown: set[str] = set()
        self.denied: list[str] = []

    def on_event(self, event: dict[str, Any]) -> list[str]:
        if isinstance(event.get("sessionID"), str) and self.session_id is None:
            self.session_id = event["sessionID"][:200]
        kind = event.get("type")
        part = event.get("part") if isinstance(event.get("part"), dict) else {}
        if kind == "text":
            text = part.get("text")
            if isinstance(text, str) and text.strip():
                self.text = text[:MAX_MESSAGE_CHARS]
                return [clip(f"assistant: {text}")]
            return []
        if kind == "tool_use":
            return self._tool(part)
        if kind == "step_finish":
            return self._step(part)
        if kind == "error":
            self.error = clip(self._error_text(event.get("error")), 2000)
            return [clip(f"error: {self.error}")]
        return []

    def _tool(self, part: dict[str, Any]) -> list[str]:
        state = part.get("state") if isinstance(part.get("state"), dict) else {}
        status = state.get("status")
        call = part.get("callID") or part.get("id")
        key = f"{call}:{status}"
        if key in self.shown or len(self.shown) >= MAX_CALLS:
            return []
        self.shown.add(key)
        args = state.get("input") if isinstance(state.get("input"), dict) else {}
        if part.get("tool") == "invalid" and isinstance(args.get("tool"), str):
            # A tool the permissions took away (a step that may not edit has no edit or bash).
            text = clip(f"{args['tool']}: {args.get('error') if isinstance(args.get('error'), str) else 'unavailable'}")
            if len(self.denied) < MAX_CALLS:
                self.denied.append(text)
            return [clip(f"tool denied: {text}")]
        text = _tool_text(part)
        if status == "error":
            error = state.get("error")
            return [clip(f"{text} failed: {error if isinstance(error, str) else 'error'}")]
        if status == "completed" and text.startswith("run: "):
            metadata = state.get("metadata") if isinstance(state.get("metadata"), dict) else {}
            exit_code = metadata.get("exit")
            return [clip(f"{text} (exit {exit_code})" if isinstance(exit_code, int) else text)]
        return [clip(text)] if status == "completed" else []

    def _step(self, part: dict[str, Any]) -> list[str]:
        tokens = part.get("tokens") if isinstance(part.get("tokens"), dict) else {}
        cache = tokens.get("cache") if isinstance(tokens.get("cache"), dict) else {}
        # OpenCode's input leaves out the cached tokens; the contract's tokens_in holds them.
        step_in = add(tokens.get("input"), cache.get("read"), cache.get("write"))
        step_out = add(tokens.get("output"), tokens.get("reasoning"))
        self.total.tokens_in = add(self.total.tokens_in, step_in)
        self.total.tokens_out = add(self.total.tokens_out, step_out)
        self.total.tokens_cached = add(self.total.tokens_cached, cache.get("read"))
        self.total.usd = add(self.total.usd, part.get("cost"))
        self.steps += 1
        cost = part.get("cost")
        return [usage_line(Usage(tokens_in=step_in, tokens_out=step_out, tokens_cached=cache.get("read"),
                                 usd=cost if cost else None))]

    @staticmethod
    def _error_text(error: Any) -> str:
        if isinstance(error, dict):
            data = error.get("data") if isinstance(error.get("data"), dict) else {}
            message = data.get("message") or error.get("message")
            name = error.get("name")
            if isinstance(message, str):
                return f"{name}: {message}" if isinstance(name, str) else message
            if isinstance(name, str):
                return name
        return str(error)[:2000] if error is not None else "opencode reported an error"

    def usage(self) -> Usage:
        usage = Usage(**vars(self.total))
        if usage.usd == 0:
            usage.usd = None  # OpenCode knew no price
        return usage

    def finish(self, home: str) -> AgentResult:
        error = self.error
        if error is None and self.steps == 0:
            error = f"opencode finished no step (its last words: {self.said()})"
        return AgentResult(message=self.text.strip() if self.text else None, usage=self.usage(),
                           session_id=self.session_id, error=error, malformed=self.malformed,
                           denied=list(self.denied))


@dataclass(frozen=True)
class OpenCodeDriver:
    family: str = "opencode"
    executable: str = "opencode"

    def invocation(self, task: Task) -> Invocation:
        argv = [self.executable, "run", "--format", "json", "-m", model_name(task), *task.args]
        env = {**ENV, "OPENCODE_CONFIG": os.path.join(task.home, CONFIG)}
        return Invocation(argv=argv, env=env, stdin=task.prompt_file,
                          files={CONFIG: json.dumps(config(task), indent=2) + "\n"})

    def parser(self) -> OpenCodeParser:
        return OpenCodeParser()


DRIVER = OpenCodeDriver()
DEFINITION: dict[str, object] = {}
