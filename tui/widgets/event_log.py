"""The event stream's tail, with follow / pause and a text filter.

It keeps the last few thousand lines (as text, not renderables) so that changing the filter
redraws from memory without going back to the store.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.reactive import reactive
from textual.widgets import RichLog

from tui.format import COLOURS, clock, describe

if TYPE_CHECKING:
    from schemas.records import EventRecord

KEPT = 3_000


def event_line(event: EventRecord) -> Text:
    text = Text(clock(event.ts) + " ", style="dim")
    to = event.data.get("to") if event.kind.endswith(".state") else None
    run = f"{event.run_id[:8]} " if event.run_id else ""
    text.append(run, style="dim")
    text.append(describe(event.kind, event.step_id, event.data).strip(),
                style=COLOURS.get(to, "") if isinstance(to, str) else "")
    return text


class EventLog(RichLog):
    DEFAULT_CSS = """
    EventLog { height: 1fr; scrollbar-size-vertical: 1; }
    """

    follow: reactive[bool] = reactive(True)
    """New lines scroll into view; off, the view stays where the user left it."""

    pattern: reactive[str] = reactive("")
    """Only lines containing this text (case-insensitive) are shown."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(max_lines=KEPT, wrap=False, markup=False, auto_scroll=True, id=id, classes=classes)
        self.kept: deque[Text] = deque(maxlen=KEPT)
        self.run_filter: str | None = None
        self._runs: deque[str | None] = deque(maxlen=KEPT)
        self._placeholder = False

    def show_loading(self, text: str) -> None:
        """A dim line standing in until the first events come (``add``, even of none, clears it)."""
        self.clear()
        self.write(Text(text, style="dim"), scroll_end=False)
        self._placeholder = True

    def add(self, events: Iterable[EventRecord]) -> None:
        if self._placeholder:
            self._placeholder = False
            self.clear()
        needle = self.pattern.lower()
        for event in events:
            if event.kind == "step.output":
                continue
            line = event_line(event)
            self.kept.append(line)
            self._runs.append(event.run_id)
            if self._shown(line, event.run_id, needle):
                self.write(line, scroll_end=self.follow)

    def _shown(self, line: Text, run_id: str | None, needle: str) -> bool:
        if self.run_filter is not None and run_id != self.run_filter:
            return False
        return not needle or needle in line.plain.lower()

    def _redraw(self) -> None:
        if self._placeholder:
            return  # nothing kept yet: the placeholder stays
        self.clear()
        needle = self.pattern.lower()
        for line, run_id in zip(self.kept, self._runs, strict=True):
            if self._shown(line, run_id, needle):
                self.write(line, scroll_end=False)
        if self.follow:
            self.scroll_end(animate=False)

    def watch_pattern(self, _pattern: str) -> None:
        self._redraw()

    def on_resize(self, _event: events.Resize) -> None:
        # The panes size to their content: when this one changes height while it follows, its
        # end stays in view (a resize alone keeps the old top line, so the newest lines fell off).
        if self.follow:
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)

    def watch_follow(self, follow: bool) -> None:
        self.auto_scroll = follow
        if follow:
            self.scroll_end(animate=False)

    def only_run(self, run_id: str | None) -> None:
        if run_id != self.run_filter:
            self.run_filter = run_id
            self._redraw()
