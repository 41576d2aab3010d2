"""Writing a review comment: what it is about (the line under the cursor, its hunk, its file or
the whole patch; up and down choose) and what it says. The answer is a draft for the screen that
asked to record; nothing is written here."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

MAX_CHARS = 4_000


@dataclass(frozen=True)
class Scope:
    """One thing a comment can be about; ``label`` says it in words."""

    label: str
    path: str | None = None
    line: int | None = None
    hunk: int | None = None


@dataclass(frozen=True)
class Written:
    scope: Scope
    body: str


class CommentScreen(ModalScreen[Written | None]):
    """Dismissed with the scope and the text on Enter, or None on Esc."""

    BINDINGS = [
        Binding("escape", "dismiss_none", "Back", id="comment.back"),
        Binding("up", "scope(-1)", "About", id="comment.scope_up", tooltip="Comment on a smaller or larger part"),
        Binding("down", "scope(1)", "About", id="comment.scope_down", tooltip="Comment on a smaller or larger part",
                show=False),
    ]
    DEFAULT_CSS = """
    CommentScreen { align: center middle; }
    CommentScreen > Vertical { width: 74; max-width: 95%; height: auto; border: double $accent; padding: 0 1;
                               background: $surface; }
    CommentScreen #scopes { margin-bottom: 1; }
    CommentScreen Label { width: 1fr; }
    """

    def __init__(self, title: str, scopes: list[Scope], chosen: int = 0) -> None:
        super().__init__()
        self.title_text = title
        self.scopes = scopes
        self.chosen = max(0, min(chosen, len(scopes) - 1))

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, markup=False)
            yield Static(self._scopes_text(), id="scopes")
            yield Input(placeholder="the comment; Enter saves it as a draft", max_length=MAX_CHARS)
            yield Label("↑/↓ what it is about · Enter save draft · Esc back", markup=False)

    def on_mount(self) -> None:
        self.query_one(Vertical).border_title = "Comment"

    def _scopes_text(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for n, scope in enumerate(self.scopes):
            here = n == self.chosen
            text.append(("▶ (•) " if here else "  ( ) ") + scope.label + ("\n" if n < len(self.scopes) - 1 else ""),
                        style="bold" if here else "")
        return text

    def action_scope(self, step: int) -> None:
        self.chosen = (self.chosen + step) % len(self.scopes)
        self.query_one("#scopes", Static).update(self._scopes_text())

    @on(Input.Submitted)
    def save(self, message: Input.Submitted) -> None:
        body = message.value.strip()
        if not body:
            self.notify("write the comment first", severity="warning")
            return
        self.dismiss(Written(self.scopes[self.chosen], body))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
