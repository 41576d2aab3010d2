"""The event stream's tail, with follow / pause and a text filter.

It keeps the last few thousand lines (as text, not renderables) so that changing the filter
redraws from memory without going back to the store. Only the lines on screen are rendered,
each once until the width changes: Textual's RichLog renders every line as it is written
(about 0.3 ms a line here), which a first read of 200 events and a run writing hundreds of
events a second paid in full for a pane that shows ten of them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.format import COLOURS, clock, describe

if TYPE_CHECKING:
    from schemas.records import EventRecord
    from schemas.rows import EventRow

KEPT = 3_000
NULL_STYLE = Style()
_CACHED = 512
"""Rendered lines kept; the cache is emptied when it grows past this (a screen shows far fewer)."""


def event_line(event: EventRecord | EventRow) -> Text:
    text = Text(clock(event.ts) + " ", style="dim")
    to = event.data.get("to") if event.kind.endswith(".state") else None
    run = f"{event.run_id[:8]} " if event.run_id else ""
    text.append(run, style="dim")
    text.append(describe(event.kind, event.step_id, event.data).strip(),
                style=COLOURS.get(to, "") if isinstance(to, str) else "")
    return text


def _lines(text: Text) -> list[Text]:
    """The screen lines of one event's text (a message may hold line breaks)."""
    return text.split("\n", allow_blank=True) if "\n" in text.plain else [text]


class EventLog(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    EventLog {
        height: 1fr; scrollbar-size-vertical: 1;
        background: $surface; color: $foreground; overflow-y: scroll;
        &:focus { background-tint: $foreground 5%; }
    }
    """

    follow: reactive[bool] = reactive(True)
    """New lines scroll into view; off, the view stays where the user left it."""

    pattern: reactive[str] = reactive("")
    """Only lines containing this text (case-insensitive) are shown."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.kept: deque[Text] = deque(maxlen=KEPT)
        self.run_filter: str | None = None
        self._runs: deque[str | None] = deque(maxlen=KEPT)
        self.shown: deque[Text] = deque(maxlen=KEPT)
        """The screen lines that pass the filters, oldest first."""
        self._widest = 0
        self._placeholder = False
        self._rendered: dict[int, tuple[Text, Strip]] = {}
        self.renders = 0
        """Lines rendered so far (a line on screen is rendered once, then drawn from the cache)."""

    # -- content -----------------------------------------------------------------------------------

    def show_loading(self, text: str) -> None:
        """A dim line standing in until the first events come (``add``, even of none, clears it)."""
        self._reset()
        self._show([Text(text, style="dim")])
        self._placeholder = True

    def add(self, events: Iterable[EventRecord | EventRow]) -> None:
        if self._placeholder:
            self._placeholder = False
            self._reset()
        needle = self.pattern.lower()
        shown: list[Text] = []
        for event in events:
            if event.kind == "step.output":
                continue
            line = event_line(event)
            self.kept.append(line)
            self._runs.append(event.run_id)
            if self._passes(line, event.run_id, needle):
                shown.extend(_lines(line))
        if shown:
            self._show(shown)

    def _passes(self, line: Text, run_id: str | None, needle: str) -> bool:
        if self.run_filter is not None and run_id != self.run_filter:
            return False
        return not needle or needle in line.plain.lower()

    def _show(self, lines: list[Text]) -> None:
        """Add screen lines at the end: the view follows them, or stays on the lines it shows
        when lines at the top make way for them."""
        dropped = max(0, len(self.shown) + len(lines) - KEPT)
        self.shown.extend(lines)
        self._widest = max(self._widest, max(line.cell_len for line in lines))
        self.virtual_size = Size(self._widest, len(self.shown))
        if self.follow:
            self.scroll_end(animate=False, immediate=False, x_axis=False)
        elif dropped:
            self.scroll_to(y=max(0, self.scroll_offset.y - dropped), animate=False, immediate=True)
        self.refresh()

    def _reset(self) -> None:
        self.shown.clear()
        self._rendered.clear()
        self._widest = 0
        self.virtual_size = Size(0, 0)
        self.refresh()

    def _redraw(self) -> None:
        if self._placeholder:
            return  # nothing kept yet: the placeholder stays
        self._reset()
        needle = self.pattern.lower()
        lines = [part for line, run_id in zip(self.kept, self._runs, strict=True)
                 if self._passes(line, run_id, needle) for part in _lines(line)]
        if lines:
            self._show(lines)
        if self.follow:
            self.scroll_end(animate=False)

    # -- drawing -----------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        at = self.scroll_offset.y + y
        if not 0 <= at < len(self.shown):
            return Strip.blank(width, base)
        line = self.shown[at]
        cached = self._rendered.get(id(line))
        if cached is None or cached[0] is not line:
            if len(self._rendered) >= _CACHED:
                self._rendered.clear()
            self.renders += 1
            # A segment without a style breaks Textual's NO_COLOR filter: give each one (null draws alike).
            segments = [segment if segment.style is not None else Segment(segment.text, NULL_STYLE, segment.control)
                        for segment in line.render(self.app.console, end="")]
            cached = self._rendered[id(line)] = (line, Strip(segments))
        x = self.scroll_offset.x
        return cached[1].crop_extend(x, x + width, base).apply_style(base)

    def text_lines(self) -> list[str]:
        """The lines shown, as text (what a reader of the pane sees, scrolled or not)."""
        return [line.plain for line in self.shown]

    # -- behaviour ---------------------------------------------------------------------------------

    def watch_pattern(self, _pattern: str) -> None:
        self._redraw()

    def on_resize(self, _event: events.Resize) -> None:
        # The panes size to their content: when this one changes height while it follows, its
        # end stays in view (a resize alone keeps the old top line, so the newest lines fell off).
        if self.follow:
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.scroll_end(animate=False)

    def only_run(self, run_id: str | None) -> None:
        if run_id != self.run_filter:
            self.run_filter = run_id
            self._redraw()
