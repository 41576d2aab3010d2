"""Claude Code (``claude -p``) as an agent family: its command line and its stream-json parser.

The prompt goes on stdin; ``--output-format stream-json --verbose`` prints one JSON object per
line: ``system/init`` (session, model, permission mode, working directory), ``assistant`` and
``user`` messages (tool calls and their results), then one ``result`` line that holds the
totals (``usage``, ``total_cost_usd``, ``modelUsage``), the final message, ``is_error`` and
``permission_denials``. Only that line is authoritative: the usage in ``assistant`` lines is each
request's start (one output token), good only for the live estimate before the result arrives.

Claude Code exits 0 when its permissions silently refused an edit, and 1 with ``is_error`` on an
API failure or the turn limit; the parser reports both (``denied``, ``error``), the exit code is
not read. Lines that start like JSON and do not parse are counted as ``malformed``; other text
(the CLI's stderr, merged in) is passed to the log as it is.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from engine.agents.base import MAX_MESSAGE_CHARS, AgentResult, Invocation, Task, Usage, clip
from engine.agents.jsonlines import LineReader, add, as_found, number, usage_line

#: Edits in the working copy are accepted; shell commands are not, except these, which a patch
#: step needs to check its own work. UET's sandbox, not this list, is what contains the agent
#: (a ``python`` allowed here can run anything), so the list only keeps Claude Code from
#: refusing a test run.
ALLOWED_COMMANDS = ("python", "python3", "pytest", "ruff", "mypy", "uv run", "npm test", "npm run", "npx",
                    "node", "go test", "go build", "go vet", "cargo test", "cargo build", "cargo check",
                    "cargo clippy", "make", "git diff", "git status", "git log", "ls", "cat")
ALLOWED_TOOLS = ",".join(f"Bash({command}:*)" for command in ALLOWED_COMMANDS)
MAX_TURNS = 50
#: Claude Code retries a refused request for minutes by default; UET retries attempts itself.
MAX_RETRIES = 2
MAX_DENIED = 100
MAX_ARGS_CHARS = 2 * 1024  # a tool call's arguments, read before clipping
MAX_PENDING = 256
EDIT_TOOLS = {"Edit": "edit", "MultiEdit": "edit", "Write": "write", "NotebookEdit": "edit"}
EXIT_CODE = re.compile(r"Exit code (\d+)")

#: Claude Code prices its usage itself (``total_cost_usd``): no price table.
DEFINITION: dict[str, Any] = {}


def _base_url(url: str) -> str:
    """Claude Code appends ``/v1/messages`` itself: an address given with ``/v1`` loses it."""
    url = url.rstrip("/")
    return url[:-3] if url.endswith("/v1") else url


class ClaudeDriver:
    family = "claude"
    executable = "claude"

    def invocation(self, task: Task) -> Invocation:
        argv = [self.executable, "-p", "--output-format", "stream-json", "--verbose",
                "--permission-mode", "acceptEdits" if task.edits else "plan",
                "--max-turns", str(MAX_TURNS), "--no-session-persistence"]
        if task.edits:
            argv.append(f"--allowedTools={ALLOWED_TOOLS}")
        if task.model:
            argv += ["--model", task.model]
        argv += list(task.args)
        env = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
               "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1", "CLAUDE_CODE_MAX_RETRIES": str(MAX_RETRIES)}
        if task.base_url:
            env["ANTHROPIC_BASE_URL"] = _base_url(task.base_url)
        return Invocation(argv=argv, env=env, stdin=task.prompt_file)

    def parser(self) -> ClaudeParser:
        return ClaudeParser()


def text_of(content: Any) -> str:
    """A tool result's or message's text: a string, or the text blocks of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(block["text"] for block in content[:50]
                        if isinstance(block, dict) and isinstance(block.get("text"), str))
    return ""


@dataclass(frozen=True)
class Outcome:
    """What the ``result`` line said."""

    message: str | None
    usage: Usage
    error: str | None
    denied: list[str]


class ClaudeParser(LineReader):
    def __init__(self) -> None:
        super().__init__()
        self.session_id: str | None = None
        self.model: str | None = None
        self.cwd: str | None = None
        self.last_text: str | None = None  # the last assistant text, for a run that ends without a result
        self.result: Outcome | None = None
        self.live = Usage()
        self.seen_message: str | None = None
        self.pending: OrderedDict[str, tuple[str, str]] = OrderedDict()  # tool_use id -> (tool, what)

    # -- feeding ---------------------------------------------------------------------------

    def on_event(self, event: dict[str, Any]) -> list[str]:
        kind = event.get("type")
        if isinstance(event.get("session_id"), str):
            self.session_id = event["session_id"][:200]
        if kind == "system" and event.get("subtype") == "init":
            return self._init(event)
        if kind == "assistant":
            return self._assistant(event.get("message"))
        if kind == "user":
            return self._user(event.get("message"))
        if kind == "result":
            return self._result(event)
        return []

    def _init(self, event: dict[str, Any]) -> list[str]:
        if isinstance(event.get("model"), str):
            self.model = event["model"][:200]
        if isinstance(event.get("cwd"), str):
            self.cwd = event["cwd"][:4096]
        mode = event.get("permissionMode")
        version = event.get("claude_code_version")
        return [clip(f"claude {version if isinstance(version, str) else '?'}: model {self.model or '?'}, "
                     f"permissions {mode if isinstance(mode, str) else '?'}")]

    def _path(self, value: Any) -> str:
        if not isinstance(value, str):
            return "?"
        if self.cwd and value.startswith(self.cwd.rstrip("/") + "/"):
            return value[len(self.cwd.rstrip("/")) + 1:]
        return value

    def _assistant(self, message: Any) -> list[str]:
        if not isinstance(message, dict):
            return []
        self._count(message)
        lines = []
        content = message.get("content")
        for block in content[:100] if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                self.last_text = block["text"][:MAX_MESSAGE_CHARS]
                lines.append(clip(f"assistant: {block['text']}"))
            elif block.get("type") == "tool_use":
                lines += self._tool_use(block)
        return lines

    def _count(self, message: dict[str, Any]) -> None:
        """The live estimate: each new request's input, as its start reported it."""
        ident = message.get("id")
        usage = message.get("usage")
        if ident == self.seen_message or not isinstance(usage, dict):
            return
        self.seen_message = ident if isinstance(ident, str) else None
        parts = [usage.get(k) for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")]
        if all(number(v) or v is None for v in [*parts, usage.get("output_tokens")]):
            self.live.tokens_in = add(self.live.tokens_in, *parts)
            self.live.tokens_out = add(self.live.tokens_out, usage.get("output_tokens"))
            self.live.tokens_cached = add(self.live.tokens_cached, usage.get("cache_read_input_tokens"))

    def _tool_use(self, block: dict[str, Any]) -> list[str]:
        name = block.get("name") if isinstance(block.get("name"), str) else "?"
        args = block.get("input") if isinstance(block.get("input"), dict) else {}
        if name == "Bash":
            command = args.get("command")
            what = command if isinstance(command, str) else "?"
            line = None  # said with its exit code when the result comes
        elif name in EDIT_TOOLS:
            what = self._path(args.get("file_path", args.get("notebook_path")))
            line = f"tool: {EDIT_TOOLS[name]} {what}"
        elif name == "Read":
            what = self._path(args.get("file_path"))
            line = f"tool: read {what}"
        else:
            try:
                what = json.dumps(args)[:MAX_ARGS_CHARS]
            except (TypeError, ValueError):
                what = "?"
            line = f"tool: {name} {what}"
        if isinstance(block.get("id"), str):
            self.pending[block["id"][:200]] = (name, clip(what))
            while len(self.pending) > MAX_PENDING:
                self.pending.popitem(last=False)
        return [clip(line)] if line else []

    def _user(self, message: Any) -> list[str]:
        content = message.get("content") if isinstance(message, dict) else None
        lines = []
        for block in content[:100] if isinstance(content, list) else []:
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            ident = block.get("tool_use_id")
            name, what = self.pending.pop(ident, ("?", "?")) if isinstance(ident, str) else ("?", "?")
            failed = block.get("is_error") is True
            result = text_of(block.get("content"))
            if name == "Bash":
                code = EXIT_CODE.match(result) if failed else None
                status = f"exit {code.group(1)}" if code else ("failed: " + result if failed else "exit 0")
                lines.append(clip(f"run: {what} ({status})"))
            elif failed:
                lines.append(clip(f"tool failed: {name} {what}: {result}"))
        return lines

    def _result(self, event: dict[str, Any]) -> list[str]:
        """The totals, the message, the error and the denials, read once; nothing else of the
        line is kept."""
        usage = event.get("usage") if isinstance(event.get("usage"), dict) else {}
        cache_read = as_found(usage.get("cache_read_input_tokens"))
        text = event.get("result")
        self.result = Outcome(
            message=text[:MAX_MESSAGE_CHARS] if isinstance(text, str) else self.last_text,
            usage=Usage(tokens_in=add(usage.get("input_tokens"), cache_read, usage.get("cache_creation_input_tokens")),
                        tokens_out=as_found(usage.get("output_tokens")), tokens_cached=cache_read,
                        usd=as_found(event.get("total_cost_usd")), model=self._model(event.get("modelUsage"))),
            error=self._error(event), denied=self._denied(event.get("permission_denials")))
        lines = [clip(f"denied: {entry}") for entry in self.result.denied]
        if self.result.error:
            lines.append(clip(f"error: {self.result.error}"))
        lines.append(usage_line(self.result.usage))
        return lines

    def _model(self, billed: Any) -> str | None:
        """The model the result billed (the costliest when several were used), else init's."""
        if not isinstance(billed, dict) or not billed:
            return self.model
        costs = [(entry.get("costUSD") if number(entry.get("costUSD")) else 0, name)
                 for name, entry in list(billed.items())[:50] if isinstance(entry, dict)]
        return max(costs)[1][:200] if costs else self.model

    def _denied(self, denials: Any) -> list[str]:
        denied = []
        for entry in denials[:MAX_DENIED] if isinstance(denials, list) else []:
            if not isinstance(entry, dict):
                continue
            tool = entry.get("tool_name") if isinstance(entry.get("tool_name"), str) else "?"
            args = entry.get("tool_input") if isinstance(entry.get("tool_input"), dict) else {}
            what = args.get("command", args.get("file_path", args.get("notebook_path", "")))
            denied.append(clip(f"{tool} {self._path(what) if isinstance(what, str) else ''}".strip()))
        return denied

    def _error(self, event: dict[str, Any]) -> str | None:
        subtype = event.get("subtype")
        if not (event.get("is_error") is True or (isinstance(subtype, str) and subtype.startswith("error"))):
            return None
        text = event.get("result")
        status = event.get("api_error_status")
        if isinstance(text, str) and text.strip():
            said = f"API error {status}: {text}" if isinstance(status, int) and str(status) not in text else text
            return clip(said, 2000)
        if subtype == "error_max_turns":
            turns = event.get("num_turns")
            return "stopped at its turn limit" + (f" after {turns} turns" if isinstance(turns, int) else "")
        return f"claude reported an error ({clip(str(subtype), 100)})"

    # -- results ---------------------------------------------------------------------------

    def usage(self) -> Usage:
        if self.result is not None:
            return self.result.usage
        return Usage(self.live.tokens_in, self.live.tokens_out, self.live.tokens_cached, None, self.model)

    def finish(self, home: str) -> AgentResult:
        if self.result is None:
            return AgentResult(message=self.last_text, usage=self.usage(), session_id=self.session_id,
                               error=clip(f"claude ended without a result (last output: {self.said()})", 2000),
                               malformed=self.malformed)
        return AgentResult(message=self.result.message, usage=self.result.usage, session_id=self.session_id,
                           error=self.result.error, malformed=self.malformed, denied=self.result.denied)


DRIVER = ClaudeDriver()
