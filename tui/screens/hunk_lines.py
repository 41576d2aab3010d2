"""Choosing lines inside one hunk, as lazygit stages lines: two nearby edits share a hunk, and
here each ``+`` or ``-`` line is taken or left on its own. The lines are numbered as
``uet patch hunks --lines`` numbers them; what is chosen goes to ``engine.patches.lines``."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Label

from engine.patches.diffs import Hunk
from engine.patches.lines import changed_lines
from tui.widgets.line_table import Column, LineTable

COLUMNS = [Column("", 3), Column("#", 4, right=True), Column("LINE", 20, grow=True)]


class HunkLinesScreen(ModalScreen[set[int] | None]):
    """The lines of one hunk; space takes or leaves the highlighted change, ``a`` approves
    the chosen lines as a new patch, Esc goes back without choosing."""

    BINDINGS = [
        Binding("space", "toggle", "Take line", id="lines.toggle", tooltip="Take or leave the highlighted + or - line"),
        Binding("a", "approve", "Approve lines", id="lines.approve",
                tooltip="Approve the chosen lines as a new patch (gated again); the rest is rejected"),
        Binding("escape", "back", "Back", id="lines.back", tooltip="Back to the diff, choosing nothing"),
    ]
    DEFAULT_CSS = """
    HunkLinesScreen { align: center middle; }
    HunkLinesScreen > #lines { width: 100%; height: 1fr; border: round $accent; }
    HunkLinesScreen > Label { width: 100%; height: auto; padding: 0 1; background: $surface; }
    """

    def __init__(self, path: str, hunk: Hunk) -> None:
        super().__init__()
        self.path = path
        self.hunk = hunk
        self.changes = set(changed_lines(hunk))
        self.chosen: set[int] = set()

    def compose(self) -> ComposeResult:
        yield LineTable(COLUMNS, id="lines", cells=self._cells)
        yield Label(self._hint(), id="hint", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#lines", LineTable)
        table.border_title = f"{self.path} · hunk {self.hunk.id} {self.hunk.header}"
        table.set_rows([(str(n), n) for n in range(1, len(self.hunk.lines) + 1)])
        first = min(self.changes, default=None)
        if first is not None:
            table.move_to(str(first))
        table.focus()

    def _cells(self, number: int) -> tuple[str, str, str]:
        line = self.hunk.lines[number - 1]
        mark = "[x]" if number in self.chosen else "[ ]" if number in self.changes else ""
        return mark, str(number), line.replace("\t", "    ")

    def _hint(self) -> str:
        taken = len(self.chosen)
        return (f"{taken} of {len(self.changes)} changed line(s) taken · space take/leave · a approve them "
                "(a - left becomes context, a + left is dropped) · Esc back")

    def action_toggle(self) -> None:
        table = self.query_one("#lines", LineTable)
        key = table.cursor_key
        if key is None or int(key) not in self.changes:
            self.notify("only a + or - line can be taken", severity="warning")
            return
        self.chosen.symmetric_difference_update({int(key)})
        table.update_rows([(key, int(key))])
        self.query_one("#hint", Label).update(self._hint())

    def action_approve(self) -> None:
        if not self.chosen:
            self.notify("take at least one line first (space)", severity="warning")
            return
        self.dismiss(set(self.chosen))

    def action_back(self) -> None:
        self.dismiss(None)
