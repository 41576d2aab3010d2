"""A read-only text to read and scroll.

No scrollbars: under NO_COLOR their tracks vanish and their thumbs read as stray glyphs inside
the text (``▅▅`` at a line's end, ``▌`` on the last row). The text's bottom border says which
lines show, of how many, and whether some lines are wider than the view.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Header, Static, TextArea

from tui.widgets.footer import KeysFirstFooter


class TextScreen(Screen[None]):
    """A read-only text to read and scroll: a preview, a resolved profile."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="profiles.text.back")]
    DEFAULT_CSS = """
    TextScreen #text-summary { height: auto; padding: 0 1; }
    TextScreen #text-body { height: 1fr; scrollbar-size: 0 0; }
    """

    def __init__(self, summary: str, text: str, language: str | None = None) -> None:
        super().__init__()
        self.summary = summary
        self.text = text
        self.language = language

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Static(self.summary, id="text-summary", markup=False)
        yield TextArea(self.text, read_only=True, soft_wrap=False, language=self.language, id="text-body")
        yield KeysFirstFooter()

    def on_mount(self) -> None:
        area = self.query_one("#text-body", TextArea)
        area.focus()
        self.watch(area, "scroll_y", self._say_where, init=False)
        self.call_after_refresh(self._say_where)

    def on_resize(self, _event: events.Resize) -> None:
        self.call_after_refresh(self._say_where)

    def _say_where(self) -> None:
        """``lines 1-19 of 120 · → wider lines``: what the scrollbars said."""
        area = self.query_one("#text-body", TextArea)
        lines = area.document.line_count
        shown = area.scrollable_content_region
        top = round(area.scroll_offset.y)
        where = f"lines {min(lines, top + 1)}-{min(lines, top + shown.height)} of {lines}"
        wide = area.virtual_size.width > shown.width
        area.border_subtitle = where + (" · ←→ wider lines" if wide else "")
