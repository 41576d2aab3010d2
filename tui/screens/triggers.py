"""The Triggers screen: the project's triggers as ``uet triggers`` lists them (``engine.triggers
.control``), with the countdown to each schedule's next fire, the last fire and its run's
result, whether a ``uet serve`` engine is live (who, since when), and ``p`` to pause or resume
the highlighted trigger.

The workstream files are read (and planned) in a thread on opening and on ``r``; the fires,
pauses and the server are read again whenever the store changes, and the countdowns tick once a
second from the app's clock.
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

from engine.triggers import control
from engine.triggers.catalog import Catalog
from tui.cells import state_cell
from tui.feed import StoreChanged
from tui.format import duration
from tui.widgets.footer import KeysFirstFooter
from tui.widgets.line_table import Column, LineTable

COLUMNS = [Column("TRIGGER", 12, grow=True), Column("ON", 10, grow=True), Column("KIND", 8),
           Column("NEXT", 9, right=True), Column("LAST FIRE", 9, right=True), Column("RESULT", 11)]


def _when(ts: float | None, now: float) -> str:
    if ts is None:
        return "-"
    delta = ts - now
    return f"in {duration(delta)}" if delta >= 0 else f"{duration(-delta)} ago"


class TriggersScreen(Screen[None]):
    CSS_PATH = "triggers.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="triggers.back", tooltip="Back to the dashboard"),
        Binding("p", "toggle_pause", "Pause/resume", id="triggers.pause",
                tooltip="Pause the highlighted trigger, or resume it when paused"),
        Binding("r", "reload", "Reload", id="triggers.reload", tooltip="Read the workstream files again"),
    ]

    #: The app fans store changes out to screens that say they want them.
    wants_store = True

    class TriggersRead(Message):
        """The triggers with their fires and pauses, and the live server (None: no server)."""

        def __init__(self, rows: list[control.TriggerRow], server: control.Server | None,
                     problems: dict[str, str]) -> None:
            super().__init__()
            self.rows = rows
            self.server = server
            self.problems = problems

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.catalog: Catalog | None = None
        self.rows: dict[str, control.TriggerRow] = {}
        self.server: control.Server | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Static(id="server")
        yield LineTable(COLUMNS, id="triggers", classes="pane", cells=self._cells, empty="reading the workstreams…")
        yield Static(id="detail")
        yield KeysFirstFooter()

    def on_mount(self) -> None:
        table = self.query_one("#triggers", LineTable)
        table.border_title = "Triggers"
        table.border_subtitle = "p pause/resume · r reload · Esc back"
        table.focus()
        self.read(reload=True)
        self.set_interval(1.0, self.tick)

    @work(thread=True, group="triggers", exclusive=True, exit_on_error=False)
    def read(self, reload: bool = False) -> None:
        """Read the triggers (planning the workstream files when ``reload``), post them."""
        if reload or self.catalog is None:
            self.catalog = control.catalog(self.root)
        now = self.app.clock()  # type: ignore[attr-defined]
        self.post_message(self.TriggersRead(control.rows(self.catalog, now), control.server(),
                                            dict(self.catalog.problems)))

    @on(TriggersRead)
    def show_triggers(self, message: TriggersRead) -> None:
        self.rows = {self._key(row): row for row in message.rows}
        self.server = message.server
        table = self.query_one("#triggers", LineTable)
        table.empty = "no triggers: add `on:` to a workstream in .uet/workstreams/"
        table.set_rows([(self._key(row), row) for row in message.rows])
        table.border_title = f"Triggers ({len(message.rows)})"
        server = (f"● serve engine live: {message.server.words} (worker {message.server.worker.id[:8]})"
                  if message.server else "○ no serve engine: triggers fire only under `uet serve --detach`")
        self.query_one("#server", Static).update(Text(server))
        self.describe(table.cursor_key, message.problems)

    def on_store_changed(self, _message: StoreChanged) -> None:
        self.read()

    @on(LineTable.RowHighlighted, "#triggers")
    def describe_highlighted(self, message: LineTable.RowHighlighted) -> None:
        self.describe(message.key, self.catalog.problems if self.catalog else {})

    def describe(self, key: str | None, problems: dict[str, str]) -> None:
        row = self.rows.get(key) if key is not None else None
        lines = []
        if row is not None:
            lines.append(f"{row.label}: {row.what}  ({row.workstream})")
            if row.last is not None:
                lines.append(f"last fire {row.last.id}: {row.last.reason}" +
                             (f" → run {row.last.run_id}" if row.last.run_id else ""))
        lines += [f"✘ {rel} is not valid (its last valid triggers go on): {problem}" for rel, problem in problems.items()]
        self.query_one("#detail", Static).update(Text("\n".join(lines)))

    def tick(self) -> None:
        """The countdowns move on; nothing is read."""
        table = self.query_one("#triggers", LineTable)
        table.redraw([key for key, row in self.rows.items() if row.next_fire is not None])

    def _cells(self, row: control.TriggerRow) -> tuple[Text | str, ...]:
        now = self.app.clock()  # type: ignore[attr-defined]
        last = row.last
        result: Text | str = "-"
        if last is not None:
            result = state_cell(row.last_run_state) if row.last_run_state else (last.outcome or last.state)
        state = Text("‖ paused", style="yellow") if row.paused else _when(row.next_fire, now)
        return (row.label, row.what, row.kind, state, _when(last.fired_at, now) if last else "never", result)

    @staticmethod
    def _key(row: control.TriggerRow) -> str:
        return f"{row.workstream}:{row.name}"

    def action_toggle_pause(self) -> None:
        key = self.query_one("#triggers", LineTable).cursor_key
        row = self.rows.get(key) if key is not None else None
        if row is None or self.catalog is None:
            return
        self.set_pause(row, not row.paused)

    @work(thread=True, group="triggers-pause", exit_on_error=False)
    def set_pause(self, row: control.TriggerRow, paused: bool) -> None:
        store = self.app.open_store()  # type: ignore[attr-defined]
        assert self.catalog is not None
        spec = self.catalog.specs[row.key]
        control.set_paused(store, spec, paused, self.app.user)  # type: ignore[attr-defined]
        self.app.call_from_thread(self.notify, f"trigger {row.label} {'paused' if paused else 'resumed'}")
        self.app.call_from_thread(self.read)

    def action_reload(self) -> None:
        self.read(reload=True)
