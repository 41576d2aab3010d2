"""StepLog: a step's log that says so when there is nothing in it.

An empty pane reads as "still loading" or "broken"; a step that has not written anything yet
(or has no attempt) shows a dim placeholder instead, until the first line arrives.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widgets import Log

NO_OUTPUT = "no output yet"


class StepLog(Log):
    """A ``Log`` with a placeholder line while it holds no lines."""

    def __init__(self, *, placeholder: str = NO_OUTPUT, max_lines: int | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(highlight=False, max_lines=max_lines, id=id, classes=classes)
        self._placeholder = placeholder

    @property
    def placeholder(self) -> str:
        return self._placeholder

    @placeholder.setter
    def placeholder(self, text: str) -> None:
        self._placeholder = text
        self.refresh()

    def render_line(self, y: int) -> Strip:
        if self.line_count:
            return super().render_line(y)
        width = self.size.width
        if y:
            return Strip.blank(width, self.rich_style)
        style = self.rich_style + Style(dim=True, italic=True)
        return Strip([Segment(self._placeholder, style)]).adjust_cell_length(width, self.rich_style)
