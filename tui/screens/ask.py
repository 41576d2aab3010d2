"""A small question with an optional written answer (a reason, an override)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class AskScreen(ModalScreen[str | None]):
    """Dismissed with the text typed (maybe empty) on Enter, or None on Esc."""

    BINDINGS = [Binding("escape", "dismiss_none", "Back", id="ask.back")]
    DEFAULT_CSS = """
    AskScreen { align: center middle; }
    AskScreen > Vertical { width: 70; max-width: 95%; height: auto; border: double $warning; padding: 0 1;
                           background: $surface; }
    AskScreen Label { width: 1fr; margin-bottom: 1; }
    """

    def __init__(self, question: str, hint: str, required: bool = False) -> None:
        super().__init__()
        self.question = question
        self.hint = hint
        self.required = required

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, markup=False)
            yield Input(placeholder=self.hint)

    @on(Input.Submitted)
    def answer(self, message: Input.Submitted) -> None:
        if self.required and not message.value.strip():
            self.notify("this needs a written answer", severity="warning")
            return
        self.dismiss(message.value.strip())

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
