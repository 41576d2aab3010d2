"""Applying (or reverting) a patch: a plain confirm, with committing as a second key."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label


class ApplyScreen(ModalScreen[str | None]):
    """``y`` or Enter goes ahead, ``c`` goes ahead and commits, ``n`` or Esc does nothing.

    Applying writes the working tree, which git can undo (``R`` reverts), so a confirm is
    enough; the commit is a key of its own rather than a word to type."""

    BINDINGS = [
        Binding("y,enter", "answer('go')", "Yes", id="apply.yes"),
        Binding("c", "answer('commit')", "Yes, and commit", id="apply.commit"),
        Binding("n,escape", "answer('')", "No", id="apply.no"),
    ]
    DEFAULT_CSS = """
    ApplyScreen { align: center middle; }
    ApplyScreen > Vertical { width: 64; max-width: 95%; height: auto; border: double $warning; padding: 0 1;
                             background: $surface; }
    ApplyScreen Label { width: 1fr; }
    """

    def __init__(self, question: str, verb: str = "apply") -> None:
        super().__init__()
        self.question = question
        self.verb = verb

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, markup=False)
            yield Label(f"y/Enter {self.verb} · c {self.verb} and commit · n/Esc go back", markup=False,
                        classes="keys")

    def action_answer(self, choice: str) -> None:
        self.dismiss(choice or None)
