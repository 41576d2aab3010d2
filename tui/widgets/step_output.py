"""StepOutput: what a step answered, in the run screen beside its log.

An attempt's ``output`` is what it answered: an agent's final message, the file its step
names, or the last block of what the tool printed (``engine.agents.task``). It can be 256 KiB,
so the pane shows at most the first ``MAX_LINES`` lines (and ``MAX_CHARS`` characters), then
says how much it left out and which command shows it whole. A label above the text says which
attempt the output is from (the latest attempt that has one) and where that attempt's prompt
file is. The text is a read-only ``TextArea``: wrapped to the pane, drawn line by line, and
scrolled, searched with the cursor and copied from like any text.

``shown_output`` chooses and cuts in the caller's worker thread (it reads the disk for the
prompt file); ``StepOutput.show`` only puts the result on screen, and keeps the reader's place
when a new read brings the same output again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from schemas.records import AttemptRecord
from tui.format import label

MAX_LINES = 2_000
#: Characters shown at most, whatever the lines: the store holds 256 KiB, an older or foreign
#: store may hold more.
MAX_CHARS = 256 * 1024
#: Control characters (a terminal escape, a carriage return) shown as a mark, never obeyed.
CONTROL = {c: "\ufffd" for c in [*range(0, 9), *range(11, 32), 127]}


@dataclass(frozen=True, slots=True)
class ShownOutput:
    """What the pane shows of one step: ``text`` (already cut), the lines left out, and where
    it comes from. ``attempt`` is None when no attempt has an output."""

    run_id: str
    step_id: str
    attempt: int | None = None
    attempts: int = 0
    state: str | None = None
    tool: str | None = None
    text: str = ""
    more: int = 0
    prompt: str | None = None
    #: The latest attempt, when it is not the one the output is from (it is running, or gave none).
    latest: tuple[int, str] | None = None


def _lines(text: str) -> int:
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def cut(text: str, max_lines: int = MAX_LINES, max_chars: int = MAX_CHARS) -> tuple[str, int]:
    """The first ``max_lines`` lines of ``text`` (and no more than ``max_chars`` characters),
    control characters replaced; and how many lines were left out (a line cut short by
    ``max_chars`` counts as shown). Windows line ends read as plain ones."""
    text = text.replace("\r\n", "\n")
    lines = text[:max_chars].split("\n", max_lines)
    if len(lines) > max_lines:
        lines.pop()  # what follows the last line shown
    shown = "\n".join(lines)
    more = _lines(text) - _lines(shown) if len(shown) < len(text) else 0
    return shown.translate(CONTROL), max(0, more)


def prompt_file(log_path: str | None) -> str | None:
    """The prompt file beside an attempt's log (``STEP.N.log`` -> ``STEP.N.prompt.md``), when
    it is there."""
    if not log_path or not log_path.endswith(".log"):
        return None
    path = log_path[: -len(".log")] + ".prompt.md"
    return path if os.path.isfile(path) else None


def shown_output(run_id: str, step_id: str, attempts: Sequence[AttemptRecord], root: str | None) -> ShownOutput:
    """The latest attempt's output that there is, cut, with its prompt file (relative to the
    run's root when under it). Reads the disk: call it from a worker thread."""
    if not attempts:
        return ShownOutput(run_id, step_id)
    latest = attempts[-1]
    source = next((a for a in reversed(attempts) if a.output is not None), None)
    about = source or latest
    prompt = prompt_file(about.log_path)
    if prompt is not None and root and prompt.startswith(root.rstrip("/") + "/"):
        prompt = os.path.relpath(prompt, root)
    text, more = cut(source.output or "") if source is not None else ("", 0)
    return ShownOutput(
        run_id, step_id, attempt=source.number if source else None, attempts=len(attempts),
        state=str(about.state.value if hasattr(about.state, "value") else about.state), tool=about.tool,
        text=text, more=more, prompt=prompt,
        latest=None if latest is about else (latest.number, str(getattr(latest.state, "value", latest.state))),
    )


class StepOutput(Vertical):
    """A label (which attempt, its prompt file) over the output's text, read-only."""

    DEFAULT_CSS = """
    StepOutput { height: 1fr; }
    StepOutput > #output-about { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    StepOutput > #output-text { height: 1fr; border: none; padding: 0 1; background: $surface; }
    StepOutput > #output-text:focus { border: none; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.shown: ShownOutput | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="output-about", markup=False)
        yield TextArea("", id="output-text", read_only=True, soft_wrap=True, show_line_numbers=False,
                       highlight_cursor_line=False)

    def show(self, shown: ShownOutput) -> None:
        """Show a step's output; the same output again keeps the place the reader scrolled to."""
        if shown == self.shown:
            return
        same_text = self.shown is not None and (self.shown.step_id, self.shown.attempt, self.shown.text) == \
            (shown.step_id, shown.attempt, shown.text)
        self.shown = shown
        self.query_one("#output-about", Static).update(self.about(shown))
        if not same_text:
            area = self.query_one("#output-text", TextArea)
            text = shown.text.rstrip("\n")  # a last line end is no line to scroll to
            if shown.more:
                text += f"\n\n… {shown.more:,} more lines; uet status {shown.run_id} {shown.step_id} shows it whole"
            area.load_text(text)
            area.scroll_home(animate=False)

    @staticmethod
    def about(shown: ShownOutput) -> str:
        """The label: which attempt the output is from, and its prompt file."""
        if shown.attempt is None:
            if not shown.attempts:
                head = "not run yet"
            elif shown.state == "running":
                head = f"no output yet: attempt {shown.attempts} is running"
            else:
                head = f"no output from {shown.attempts} attempt(s)"
        else:
            head = f"from attempt {shown.attempt} of {shown.attempts} · {label(shown.state or '?')}"
            if shown.tool:
                head += f" · {shown.tool}"
            if shown.latest is not None:
                head += f" (attempt {shown.latest[0]} {shown.latest[1]}, no output of its own)" \
                    if shown.latest[1] != "running" else f" (attempt {shown.latest[0]} is running)"
        return head + (f"\nprompt {shown.prompt}" if shown.prompt else "")
