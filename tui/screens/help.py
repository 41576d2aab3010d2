"""Every key binding of the screen underneath, with its id for the keymap."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Label

from tui.widgets.line_table import Column, LineTable

COLUMNS = [Column("KEY", 10, right=True), Column("ACTION", 16), Column("ID", 22), Column("WHAT IT DOES", 10, grow=True)]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 110; max-width: 100%; height: 90%; border: double $accent;
                            background: $surface; padding: 0 1; }
    HelpScreen LineTable { height: 1fr; }
    """

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        rows = []
        seen: set[str] = set()
        for active in sorted(self.under.active_bindings.values(), key=lambda a: a.binding.description):
            binding = active.binding
            name = binding.id or binding.action
            if not binding.description or name in seen:
                continue
            seen.add(name)
            rows.append((name, (self.app.get_key_display(binding), binding.description, binding.id or "-",
                                binding.tooltip or "")))
        with Vertical():
            yield Label("Keys of this screen · ctrl+p finds any action by name · remap by ID in "
                        "~/.config/uet/config.yaml (keymap:)", markup=False)
            table = LineTable(COLUMNS, id="keys")
            table.set_rows(rows)
            yield table
            yield Label("j/k or arrows move · Enter opens · Esc goes back · Tab moves between panes", markup=False)

    def on_mount(self) -> None:
        self.query_one(LineTable).focus()

    def action_close(self) -> None:
        self.dismiss(None)
