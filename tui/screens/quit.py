"""Quitting while this app executes runs: hand them over, cancel them, or stay."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label


class QuitScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("d", "choose('detach')", "Detach", id="quit.detach"),
        Binding("c", "choose('cancel')", "Cancel runs", id="quit.cancel"),
        Binding("escape,s", "choose(None)", "Stay", id="quit.stay"),
    ]
    DEFAULT_CSS = """
    QuitScreen { align: center middle; }
    QuitScreen > Vertical { width: 64; max-width: 95%; height: auto; border: double $warning; padding: 0 1;
                            background: $surface; }
    """

    def __init__(self, runs: int, running_steps: int) -> None:
        super().__init__()
        self.runs = runs
        self.running_steps = running_steps

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.runs} run(s) are executing in this app ({self.running_steps} step(s) running now).",
                        markup=False)
            yield Label("")
            yield Label("d  detach: running steps finish, then a background engine goes on", markup=False)
            yield Label("c  cancel the runs, then quit", markup=False)
            yield Label("s  stay (Esc)", markup=False)

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)
