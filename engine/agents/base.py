"""The contract between the engine and an agent family.

The engine renders the step's prompt, makes the attempt an empty home of its own and a prompt
file, and asks the family's ``Driver`` for an ``Invocation``: the command line, the variables
to add, the file to give as stdin (never an open pipe: some agents read stdin whenever it is
not a terminal) and the config files to write into the home first. While the agent runs, each
line it prints goes to the family's ``StreamParser``, which turns it into readable lines for the
step's log and keeps the usage so far; when it has exited, ``finish`` gives the
``AgentResult``: the final message (the step's output), the usage, and the error the agent
reported even when it exited 0.

Everything a parser reads is untrusted: it must never raise on any line (a line that should be
JSON and is not is counted in ``malformed``), must keep bounded state whatever the agent
prints (a message is kept up to ``MAX_MESSAGE_CHARS``), and leaves numbers as found; the
engine bounds them before they are recorded (``engine.toolvalues``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

#: The most of an agent's final message kept as the step's output; the log has the rest.
MAX_MESSAGE_CHARS = 256 * 1024
#: The longest readable line a parser emits for the log (a tool call's arguments are cut).
MAX_LINE_CHARS = 500


@dataclass(frozen=True)
class Task:
    """One attempt's task, as the engine prepared it."""

    prompt: str  # the rendered prompt
    prompt_file: str  # absolute path of a file holding exactly ``prompt`` (readable by the agent)
    home: str  # absolute path of the attempt's own home: empty at start, writable, HOME for the agent
    workdir: str  # where the agent works: the step's scratch copy (its {root}), absolute
    context: tuple[str, ...] = ()  # files in scope, relative to ``workdir``
    model: str | None = None
    base_url: str | None = None  # the model API's address, when not the provider's own
    args: tuple[str, ...] = ()  # the tool's extra arguments, appended as they are
    edits: bool = True  # whether the step may change files (``produces: patch``)


@dataclass(frozen=True)
class Invocation:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # added to the tool's environment; HOME is the task's home
    stdin: str | None = None  # path of a file given as stdin; None: /dev/null
    files: dict[str, str] = field(default_factory=dict)  # path relative to the home -> text, written before start


@dataclass
class Usage:
    tokens_in: int | None = None  # input tokens, cached ones included
    tokens_out: int | None = None
    tokens_cached: int | None = None  # the part of tokens_in read from a cache
    usd: float | None = None  # only when the agent reported it (else the tool's price table prices it)
    model: str | None = None


@dataclass
class AgentResult:
    message: str | None  # the agent's final message: the step's output
    usage: Usage
    session_id: str | None = None
    error: str | None = None  # what the agent reported as its failure (API error, turn limit, ...)
    malformed: int = 0  # lines that should have been JSON and were not
    denied: list[str] = field(default_factory=list)  # actions the agent's own permissions refused


class StreamParser(Protocol):
    def feed(self, line: str) -> list[str]:
        """One line the agent printed (without its newline): the readable lines it becomes in
        the step's log (none for a line with nothing to show)."""
        ...

    def usage(self) -> Usage:
        """The usage reported so far (for the live cost); totals, not the last increment."""
        ...

    def finish(self, home: str) -> AgentResult:
        """After the agent exited: its result. ``home`` is the attempt's home, for what the
        agent wrote there (aider's analytics log)."""
        ...


class Driver(Protocol):
    family: str  # claude | codex | gemini | aider | opencode
    executable: str  # the program on PATH

    def invocation(self, task: Task) -> Invocation: ...

    def parser(self) -> StreamParser: ...


def clip(text: str, limit: int = MAX_LINE_CHARS) -> str:
    """One readable line: newlines folded, cut to ``limit`` with an ellipsis."""
    text = " ".join(text.split("\n")).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
