"""aider as a UET agent: its command line, and a reader of the plain text it prints.

aider has no structured output and exits 0 on every failure it meets (a refused key, an
unreachable API, an edit it could not apply), so the reader judges the attempt from what aider
printed: litellm's error lines, the reflection limit, an edit block that matched nothing with no
edit applied. (An answer that proposes no edit at all is the engine's "no change".) The exact
usage is in the ``--analytics-log`` file the command line puts in the attempt's home (its
``message_send`` events, written even with analytics off); the "Tokens: … Cost: …" lines are
the fallback, rounded as aider prints them. The message is the model's last answer as the chat
history file in the home holds it (on stdout aider's own notes look like the answer's lines).

The command keeps everything aider writes in the home (chat and input history, the analytics
log), commits nothing, and turns off what would reach the network besides the model's API
(update check, analytics, URL scraping, the browser): aider's price list is a cache file in
the home that it takes as fresh, so it never downloads litellm's list from GitHub and prices
the model from litellm's own copy (``LITELLM_LOCAL_MODEL_COST_MAP``). A cost of 0 means aider
knew no price: the usage then carries no dollars and the tool's price table prices it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from engine.agents.base import MAX_MESSAGE_CHARS, AgentResult, Invocation, Task, Usage, clip
from engine.agents.jsonlines import add, usage_line

#: The model when neither the step nor the tool names one (aider's alias for Claude Sonnet).
DEFAULT_MODEL = "sonnet"
#: Where the command line puts aider's own files, relative to the attempt's home.
CHAT_HISTORY = ".aider-uet/chat.md"
INPUT_HISTORY = ".aider-uet/input"
ANALYTICS_LOG = ".aider-uet/analytics.jsonl"
#: aider's copy of litellm's price list: present and fresh, so aider does not download it.
PRICE_CACHE = ".aider/caches/model_prices_and_context_window.json"
#: The events read from the analytics log at most (one per model reply; aider stops far sooner).
MAX_EVENTS = 10_000
#: The log's bytes read at most.
MAX_LOG_BYTES = 16 * 1024 * 1024

#: A key aider accepts when the API is a local address and no key was passed through.
PLACEHOLDER_KEY = "uet-no-key"

FLAGS = (
    "--yes-always", "--no-auto-commits", "--no-dirty-commits", "--no-gitignore", "--no-auto-lint",
    "--no-auto-test", "--no-check-update", "--no-show-release-notes", "--no-analytics",
    "--no-show-model-warnings", "--no-detect-urls", "--no-suggest-shell-commands", "--no-pretty",
    "--no-fancy-input", "--disable-playwright", "--map-tokens", "0", "--no-restore-chat-history",
)

#: The first line of a failure aider reports and carries on from (it exits 0 after it).
_ERRORS = re.compile(r"^(litellm\.\w+(Error|Exception)\b|aider: error: |Only \d+ reflections allowed, stopping|"
                     r"Empty response received from LLM)")
_TOKENS = re.compile(r"^Tokens: (?P<sent>[\d.,]+[kKmM]?) sent(?:, (?P<write>[\d.,]+[kKmM]?) cache write)?"
                     r"(?:, (?P<hit>[\d.,]+[kKmM]?) cache hit)?, (?P<received>[\d.,]+[kKmM]?) received\.")
_COST = re.compile(r"Cost: \$(?P<message>[\d.]+) message, \$(?P<session>[\d.]+) session\.")
_APPLIED = re.compile(r"^Applied edit to (?P<path>.+)$")
#: aider's banner names the model it talks to (the analytics log hides a model it knows no
#: price of as ``openai/REDACTED``).
_MODEL = re.compile(r"^(?:Main )?[Mm]odel: (?P<model>\S+) with ")
_FAILED_EDIT = re.compile(r"^# \d+ SEARCH/REPLACE blocks? failed to match")
#: What aider prints itself (not the model's answer): its banner, notes and edit feedback.
_CHATTER = (
    "Aider v", "Model:", "Main model:", "Weak model:", "Editor model:", "Git repo:", "Repo-map:",
    "Added ", "Warning:", "Warning for ", "Use /help", "Cur working dir:", "Git working dir:", "Note:",
    "Commit ", "Can't ", "Creating empty file", "https://", "Did you mean", "Dropping ",
    "You can skip this check", "Update git name", "Update git email", "The LLM did not conform",
    "The API provider", "Newer aider version", "Run pip install", "Has it been deleted",
    "# The other ", "Don't re-send them.", "Just reply with fixed versions",
)
#: The last line of aider's feedback on edits that failed to match.
_FEEDBACK_END = "The SEARCH section must exactly match"
#: The most lines of one answer, or of one error, kept while aider prints them.
MAX_LINES = 20_000


def _count(text: str | None) -> int | None:
    """``1.2k`` -> 1200, as aider abbreviates token counts."""
    if not text:
        return None
    text = text.replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    try:
        return round(float(text.rstrip("kKmM")) * scale)
    except ValueError:
        return None


def _read_tail(path: str, limit: int) -> str | None:
    """The last ``limit`` bytes of a file as text, or None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def last_answer(chat: str) -> str | None:
    """The model's last answer in aider's chat history file: the lines that are neither the
    user's (``#### ``) nor aider's own (``> `` … two spaces), which aider writes as markdown."""
    runs: list[list[str]] = [[]]
    for line in chat.split("\n"):
        own = (line.startswith("> ") or line == ">") and line.endswith("  ")
        if own or line.startswith("#### ") or line.startswith("# aider chat started at "):
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append(line)
    answers = ["\n".join(run).strip() for run in runs]
    answers = [answer for answer in answers if answer]
    return answers[-1][:MAX_MESSAGE_CHARS] if answers else None


class AiderParser:
    """Reads aider's plain output: its answers, the edits applied, failures and the usage."""

    def __init__(self, model: str | None = None) -> None:
        self.model = model
        self.reply: list[str] = []  # the answer being printed: the lines since aider last spoke
        self.reply_chars = 0
        self.fenced = False  # inside a code fence of the answer (not shown line by line)
        self.message: str | None = None  # the last complete answer seen on stdout
        self.tokens_in = 0
        self.tokens_out = 0
        self.tokens_cached = 0
        self.usd: float | None = None
        self.reported = False
        self.applied = 0
        self.error: list[str] | None = None  # the failure being printed, line by line
        self.error_open = False
        self.failed_edit = False
        self.feedback = False  # inside aider's feedback on a failed edit (its text, not the model's)
        self.malformed = 0

    def _keep(self, line: str) -> None:
        if self.reply_chars < MAX_MESSAGE_CHARS and len(self.reply) < MAX_LINES:
            line = line[: MAX_MESSAGE_CHARS - self.reply_chars]
            self.reply.append(line)
            self.reply_chars += len(line) + 1

    def _drop_reply(self) -> None:
        self.reply, self.reply_chars, self.fenced = [], 0, False

    def _close_reply(self) -> None:
        text = "\n".join(self.reply).strip()
        if text:
            self.message = text
        self._drop_reply()

    def feed(self, line: str) -> list[str]:
        if not isinstance(line, str):
            return []
        line = line.rstrip("\r\n")
        stripped = line.strip()
        if stripped.startswith("Retrying in "):
            self.error, self.error_open = None, False  # aider tries again: the failure before is not the result
            return [clip(f"aider: {stripped}")]
        if self.error_open:
            if stripped and not stripped.startswith("https://") and len(self.error or ()) < 20:
                (self.error or []).append(stripped[:2000])
                return []
            self.error_open = False
        tokens = _TOKENS.match(stripped)
        if tokens:
            return self._tokens(tokens, stripped)
        model = _MODEL.match(stripped)
        if model:
            self.model = model["model"][:200]
        applied = _APPLIED.match(stripped)
        if applied:
            self._drop_reply()
            self.applied += 1
            return [clip(f"tool: edit {applied['path']}")]
        if _ERRORS.match(stripped):
            self._close_reply()
            self.error, self.error_open = [stripped[:2000]], True
            return [clip(f"error: {stripped}")]
        if _FAILED_EDIT.match(stripped):
            self.failed_edit = self.feedback = True
            self._drop_reply()
            return [clip(f"aider: {stripped}")]
        if self.feedback:
            self.feedback = not stripped.startswith(_FEEDBACK_END)
            return []
        if stripped.startswith(_CHATTER):
            self._drop_reply()
            return [clip(f"aider: {stripped}")]
        self._keep(line)
        if stripped.startswith("```"):
            self.fenced = not self.fenced
            return []
        return [clip(f"assistant: {stripped}")] if stripped and not self.fenced else []

    def _tokens(self, tokens: re.Match[str], stripped: str) -> list[str]:
        self._close_reply()
        sent, received = _count(tokens["sent"]) or 0, _count(tokens["received"]) or 0
        self.tokens_in += sent
        self.tokens_out += received
        self.tokens_cached += _count(tokens["hit"]) or 0
        self.reported = True
        cost = _COST.search(stripped)
        if cost:
            self.usd = float(cost["session"])
        return [usage_line(Usage(tokens_in=sent, tokens_out=received, usd=float(cost["message"]) if cost else None))]

    def usage(self) -> Usage:
        if not self.reported:
            return Usage(model=self.model)
        return Usage(tokens_in=self.tokens_in, tokens_out=self.tokens_out, tokens_cached=self.tokens_cached,
                     usd=self.usd or None, model=self.model)

    def _logged(self, home: str) -> Usage | None:
        """The exact usage from the analytics log's ``message_send`` events, or None without any."""
        text = _read_tail(os.path.join(home, ANALYTICS_LOG), MAX_LOG_BYTES)
        if text is None:
            return None
        usage = Usage(model=self.model)
        events = 0
        for raw in text.splitlines():
            try:
                entry = json.loads(raw)
            except (ValueError, RecursionError):
                self.malformed += 1
                continue
            if not isinstance(entry, dict) or entry.get("event") != "message_send":
                continue
            props = entry.get("properties")
            if not isinstance(props, dict):
                continue
            events += 1
            usage.tokens_in = add(usage.tokens_in, props.get("prompt_tokens"))
            usage.tokens_out = add(usage.tokens_out, props.get("completion_tokens"))
            usage.usd = add(usage.usd, props.get("cost"))
            logged = props.get("main_model")
            if self.model is None and isinstance(logged, str) and not logged.endswith("/REDACTED"):
                usage.model = logged[:200]
            if events >= MAX_EVENTS:
                break
        if not events:
            return None
        if usage.usd == 0:
            usage.usd = None  # aider knew no price
        return usage

    def finish(self, home: str) -> AgentResult:
        self._close_reply()
        usage = self._logged(home) or self.usage()
        chat = _read_tail(os.path.join(home, CHAT_HISTORY), 4 * MAX_MESSAGE_CHARS)
        message = (last_answer(chat) if chat else None) or self.message
        error = " ".join(self.error) if self.error else None
        if error is None and self.failed_edit and not self.applied:
            error = "aider could not apply its edit: a SEARCH/REPLACE block failed to match"
        if error is None and message is None and not self.reported:
            error = "aider printed no answer"
        return AgentResult(message=message, usage=usage, error=clip(error, 2000) if error else None,
                           malformed=self.malformed)


@dataclass(frozen=True)
class AiderDriver:
    family: str = "aider"
    executable: str = "aider"

    def invocation(self, task: Task) -> Invocation:
        home = task.home
        argv = [self.executable, "--model", task.model or DEFAULT_MODEL]
        # COLUMNS: aider wraps what it prints at the terminal's width, 80 without one.
        env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "1000"}
        if task.base_url:
            argv += ["--openai-api-base", task.base_url]
            if not os.environ.get("OPENAI_API_KEY"):
                env["OPENAI_API_KEY"] = PLACEHOLDER_KEY
        # A step that may not edit asks in aider's ask mode, its files given read-only.
        edit_format, file_flag = ("diff", "--file") if task.edits else ("ask", "--read")
        argv += ["--edit-format", edit_format, *FLAGS,
                 "--chat-history-file", os.path.join(home, CHAT_HISTORY),
                 "--input-history-file", os.path.join(home, INPUT_HISTORY),
                 "--analytics-log", os.path.join(home, ANALYTICS_LOG),
                 "--no-stream", "--message-file", task.prompt_file,
                 *(part for path in task.context for part in (file_flag, path)), *task.args]
        # A price list that holds one entry reads as fresh and complete: no download.
        files = {PRICE_CACHE: json.dumps({"sample_spec": {"mode": "chat"}}) + "\n"}
        return Invocation(argv=argv, env=env, files=files)

    def parser(self) -> AiderParser:
        return AiderParser()


DRIVER = AiderDriver()
DEFINITION: dict[str, object] = {}
