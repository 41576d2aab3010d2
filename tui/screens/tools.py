"""The Tools screen: every tool of the project's router, agents included, as ``uet tools`` lists
them (``engine.toolinfo``, worded by ``tui.tool_words``), with the highlighted one said whole
below the table and the notes on what is missing under it.

The rows come in two steps from a thread: first without versions (the router, PATH and the
store answer at once), then with them, once every program has answered or its time ran out;
until then the screen says "checking versions…". ``r`` looks again.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Static

from engine.errors import UetError
from engine.toolinfo import add_versions, tool_rows
from schemas.tools import ToolInfo
from store.errors import StoreError
from tui.cells import state_cell
from tui.tool_words import (
    breaker_cell,
    capabilities_cell,
    cost_cell,
    details,
    found_cell,
    median_cell,
    notes,
    success_cell,
)
from tui.widgets.footer import KeysFirstFooter
from tui.widgets.line_table import Column, LineTable

COLUMNS = [Column("TOOL", 10, grow=True), Column("SOURCE", 8), Column("VERSION", 10), Column("CAN DO", 10, grow=True),
           Column("BREAKER", 11), Column("OK%", 4, right=True), Column("MEDIAN", 6, right=True),
           Column("$/ATTEMPT", 9, right=True)]


def found_text(row: ToolInfo) -> Text:
    """Installed or not, as a glyph and a word; the colour only repeats it."""
    cell = found_cell(row)
    return Text(cell, style="green" if row.found else "red" if row.found is False else "dim")


def tool_cells(row: ToolInfo) -> tuple[Text | str, ...]:
    breaker = state_cell(row.breaker) if row.breaker else breaker_cell(row)
    return (row.name, row.source, found_text(row), capabilities_cell(row), breaker, success_cell(row),
            median_cell(row), cost_cell(row))


class ToolsScreen(Screen[None]):
    CSS_PATH = "tools.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="tools.back", tooltip="Back to the dashboard"),
        Binding("r", "refresh", "Refresh", id="tools.refresh",
                tooltip="Look again: the router file, PATH, the versions of changed programs, the store"),
    ]

    class ToolsRead(Message):
        """The rows, without versions yet (``checking``) or with them."""

        def __init__(self, rows: list[ToolInfo], checking: bool) -> None:
            super().__init__()
            self.rows = rows
            self.checking = checking

    class ToolsFailed(Message):
        """The router could not be read (its file is invalid): ``error`` says where."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.rows: dict[str, ToolInfo] = {}
        self.checking = True

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Static(id="status")
        yield LineTable(COLUMNS, id="tools", classes="pane", cells=tool_cells, empty="reading the router…")
        yield Static(id="detail")
        yield Static(id="notes")
        yield KeysFirstFooter()

    def on_mount(self) -> None:
        table = self.query_one("#tools", LineTable)
        table.border_title = "Tools"
        table.border_subtitle = "r refresh · Esc back"
        table.focus()
        self.look()

    @work(thread=True, group="tools", exclusive=True, exit_on_error=False)
    def look(self) -> None:
        """Read the rows, post them, then ask the versions and post them again."""
        from textual.worker import get_current_worker

        worker = get_current_worker()
        try:
            rows = tool_rows(self.root, self.app.open_store(), versions=False)  # type: ignore[attr-defined]
        except (UetError, StoreError, OSError) as exc:
            self.post_message(self.ToolsFailed(str(exc)))
            return
        self.post_message(self.ToolsRead(rows, checking=True))
        if worker.is_cancelled:
            return
        rows = add_versions(rows, self.root)
        if not worker.is_cancelled:
            self.post_message(self.ToolsRead(rows, checking=False))

    @on(ToolsRead)
    def show_tools(self, message: ToolsRead) -> None:
        self.rows = {row.name: row for row in message.rows}
        self.checking = message.checking
        table = self.query_one("#tools", LineTable)
        table.set_rows([(row.name, row) for row in message.rows])
        table.border_title = f"Tools ({len(message.rows)})"
        self._status()
        self.query_one("#notes", Static).update(Text("\n".join(notes(message.rows, install=False))))
        self.describe(table.cursor_key)

    @on(ToolsFailed)
    def show_failure(self, message: ToolsFailed) -> None:
        self.checking = False
        self.query_one("#status", Static).update(Text(f"✘ cannot read the router: {message.error}"))

    @on(LineTable.RowHighlighted, "#tools")
    def describe_highlighted(self, message: LineTable.RowHighlighted) -> None:
        self.describe(message.key)

    def describe(self, key: str | None) -> None:
        row = self.rows.get(key) if key is not None else None
        self.query_one("#detail", Static).update(Text("\n".join(details(row)) if row else ""))

    def _status(self) -> None:
        installed = sum(1 for row in self.rows.values() if row.found is not False)
        text = f"{installed} of {len(self.rows)} tools can run here"
        self.query_one("#status", Static).update(Text(text + (" · checking versions…" if self.checking else "")))

    def action_refresh(self) -> None:
        self.checking = True
        self._status()
        self.look()
