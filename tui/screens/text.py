"""A read-only text to read and scroll."""

from __future__ import annotations

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
    TextScreen #text-body { height: 1fr; }
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
        self.query_one("#text-body").focus()
