"""One run: its steps with attempts, tool, exit code, duration and cost; the highlighted step's
attempts and its log, following live; and the actions that steer the run."""

from __future__ import annotations

import os
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from engine.liveness import RunEngine, run_engine
from engine.monitor import RunCost, eta
from schemas.records import AttemptRecord, RunRecord, StepRow
from store import queries
from tui.cells import STEP_COLUMNS, bar, lost_since, money, state_cell, step_cells
from tui.feed import StoreChanged
from tui.format import COLOURS, duration, engine_lost, glyph
from tui.steer import steer_run
from tui.widgets.line_table import Column, LineTable
from tui.widgets.step_log import StepLog

ATTEMPT_COLUMNS = [Column("#", 3, right=True), Column("STATE", 11), Column("TOOL", 8, grow=True),
                   Column("EXIT", 4, right=True), Column("TOOK", 6, right=True), Column("TOKENS", 7, right=True)]
LOG_TAIL_BYTES = 256 * 1024


class RunScreen(Screen[None]):
    CSS_PATH = "run.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="run.back"),
        Binding("c", "cancel_run", "Cancel", id="run.cancel", tooltip="Cancel this run"),
        Binding("p", "pause_run", "Pause", id="run.pause", tooltip="No new steps start; running ones finish"),
        Binding("R", "resume_run", "Resume", id="run.resume", tooltip="Resume this run"),
        Binding("r", "retry_step", "Retry step", id="run.retry", tooltip="Retry the highlighted step"),
        Binding("f", "toggle_follow", "Follow log", id="run.follow", tooltip="Follow the step's log, or hold it"),
    ]

    wants_store = True

    def __init__(self, run_id: str, step_id: str | None = None, steps: dict[str, StepRow] | None = None) -> None:
        """``steps``: what the opener already holds of this run, so a big run shows at once."""
        super().__init__()
        self.run_id = run_id
        self.step_id = step_id
        self.run: RunRecord | None = None
        self.engine: RunEngine | None = None
        self.steps: dict[str, StepRow] = dict(steps) if steps else {}
        self.step_costs: dict[str, RunCost] = {}
        self.follow = True
        self._log_path: str | None = None
        self._log_step: str | None = None
        self._log_offset = 0

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Static(id="summary")
        with Horizontal(id="main"):
            yield LineTable(STEP_COLUMNS, id="steps", classes="pane", empty="loading…", cells=self._step_cells)
            with Vertical(id="side"):
                yield LineTable(ATTEMPT_COLUMNS, id="attempts", classes="pane", empty="no attempt yet")
                yield StepLog(id="log", classes="pane", max_lines=5_000)
        yield Footer()

    def _now(self) -> float:
        """The screen's clock; for a run whose engine is lost, the moment it was last heard of,
        so the durations of its steps and attempts stop there."""
        return lost_since(self.engine) or self.app.clock()  # type: ignore[attr-defined,no-any-return]

    def _step_cells(self, row: StepRow) -> tuple:
        return step_cells(row, self._now(), self.step_costs.get(row.id))

    def on_mount(self) -> None:
        self.query_one("#steps").border_title = "Steps"
        self.query_one("#attempts").border_title = "Attempts"
        self.query_one("#log").border_title = "Log"
        self.query_one("#steps", LineTable).focus()
        self.app.watch_run(self.run_id)  # type: ignore[attr-defined]
        if self.steps:
            self._fill_steps()
        self.load_run(with_steps=not self.steps)

    @work(thread=True, group="run-load", exclusive=True, exit_on_error=False)
    def load_run(self, with_steps: bool = True) -> None:
        run = queries.get_run(self.run_id)
        engine = run_engine(run, self.app.clock())  # type: ignore[attr-defined]
        costs = {str(t.key["step_id"]): RunCost.of(t) for t in queries.cost_totals(("step_id",), self.run_id)}
        rows = queries.step_rows(self.run_id) if with_steps else None
        self.app.call_from_thread(self._loaded, run, engine, costs, rows)

    def _loaded(self, run: RunRecord, engine: RunEngine | None, costs: dict[str, RunCost],
                rows: list[StepRow] | None) -> None:
        self.run = run
        self.engine = engine
        self.step_costs = costs
        self._summary()
        if rows is not None:
            # Changes that arrived meanwhile are newer than this read: keep them.
            self.steps = {row.id: self.steps.get(row.id, row) for row in rows}
        if self.steps:
            self._fill_steps()

    # -- store -------------------------------------------------------------------------------------

    @on(StoreChanged)
    def apply_store_change(self, message: StoreChanged) -> None:
        delta = message.delta
        for run in delta.runs:
            if run.id == self.run_id:
                self.run = run
        if self.run_id in delta.engines:
            self.engine = delta.engines[self.run_id]
        if delta.watched == self.run_id:
            if delta.steps_reset:
                self.steps = {row.id: row for row in delta.steps}
                self._fill_steps()
            elif delta.steps:
                for row in delta.steps:
                    self.steps[row.id] = row
                self.query_one("#steps", LineTable).update_rows([(row.id, row) for row in delta.steps])
                if self.step_id in {row.id for row in delta.steps}:
                    self.load_attempts(self.step_id)
            if self.run_id in delta.costs:
                self.load_run(with_steps=False)
        self.query_one("#steps", LineTable).redraw(sid for sid, row in self.steps.items() if row.state == "running")
        self._summary()
        if self.follow and self._log_path:
            self.tail_log(self._log_path, self._log_offset)

    def _fill_steps(self) -> None:
        table = self.query_one("#steps", LineTable)
        table.set_rows(list(self.steps.items()))
        if self.step_id in self.steps:
            table.move_to(self.step_id)
        table.border_title = f"Steps ({len(self.steps)})"

    def _summary(self) -> None:
        run = self.run
        if run is None:
            return
        now = self.app.clock()  # type: ignore[attr-defined]
        lost_at = lost_since(self.engine)
        left = eta(run, now) if lost_at is None else None
        text = Text()
        text.append(f" {run.id} ", style="bold")
        if lost_at is None:
            text.append_text(state_cell(run.state.value))
        else:
            text.append(f"{glyph('lost')} {engine_lost(max(0.0, now - lost_at))} · R resume", style=COLOURS["lost"])
        text.append(f"  {run.workstream}  {bar(run.done_steps, run.total_steps)} {run.done_steps}/{run.total_steps}")
        if run.started_at:
            text.append(f"  elapsed {duration((run.ended_at or lost_at or now) - run.started_at)}")
        if left is not None:
            text.append(f"  ETA {duration(left)}")
        total = sum((c.usd for c in self.step_costs.values()), 0.0)
        if self.step_costs:
            text.append("  cost ")
            text.append_text(money(RunCost(total, sum(c.unpriced for c in self.step_costs.values()), 0)))
        if run.reason:
            text.append(f"\n {run.reason}", style="dim")
        self.query_one("#summary", Static).update(text)

    # -- the highlighted step ------------------------------------------------------------------------

    @on(LineTable.RowHighlighted, "#steps")
    def show_step(self, message: LineTable.RowHighlighted) -> None:
        if message.key is not None:
            self.step_id = message.key
            self.load_attempts(message.key)

    @work(thread=True, group="attempts", exclusive=True, exit_on_error=False)
    def load_attempts(self, step_id: str | None) -> None:
        if step_id is None:
            return
        rows = queries.attempts(self.run_id, step_id)
        self.app.call_from_thread(self._show_attempts, step_id, rows)

    def _show_attempts(self, step_id: str, rows: list[AttemptRecord]) -> None:
        if step_id != self.step_id:
            return
        now = self._now()
        table = self.query_one("#attempts", LineTable)
        table.set_rows([(str(a.number), (
            str(a.number), state_cell(a.state.value if hasattr(a.state, "value") else str(a.state)), a.tool,
            "-" if a.exit_code is None else str(a.exit_code), duration((a.ended_at or now) - a.started_at),
            "-" if a.tokens_in is None else str((a.tokens_in or 0) + (a.tokens_out or 0)),
        )) for a in rows], keep_cursor=False)
        table.border_title = f"Attempts of {step_id}"
        latest = rows[-1].log_path if rows else None
        log = self.query_one("#log", StepLog)
        if latest != self._log_path or step_id != self._log_step:
            self._log_path, self._log_step, self._log_offset = latest, step_id, 0
            log.clear()
            log.border_title = f"Log · {step_id}"
            log.placeholder = "no output yet" if rows else "not run yet"
            if latest:
                self.tail_log(latest, 0)

    @work(thread=True, group="log", exclusive=True, exit_on_error=False)
    def tail_log(self, path: str, offset: int) -> None:
        try:
            size = os.path.getsize(path)
        except OSError:
            return
        if size <= offset:
            return
        start = max(offset, size - LOG_TAIL_BYTES) if offset == 0 else offset
        with open(Path(path), "rb") as handle:
            handle.seek(start)
            data = handle.read(size - start)
        text = data.decode("utf-8", errors="replace")
        self.app.call_from_thread(self._append_log, path, start + len(data), text)

    def _append_log(self, path: str, offset: int, text: str) -> None:
        if path != self._log_path:
            return
        self._log_offset = offset
        self.query_one("#log", StepLog).write(text, scroll_end=self.follow)

    # -- actions -------------------------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.query_one("#log").border_subtitle = "following" if self.follow else "held (f follows)"

    def action_cancel_run(self) -> None:
        from tui.screens.ask import AskScreen

        def answered(reason: str | None) -> None:
            if reason is not None:
                self.steer("cancel", None, reason or None)

        self.app.push_screen(AskScreen(f"Cancel run {self.run_id}?", "reason (optional), Enter to cancel the run, "
                                       "Esc to keep it running"), answered)

    def action_pause_run(self) -> None:
        self.steer("pause", None, None)

    def action_resume_run(self) -> None:
        self.steer("resume", None, None)

    def action_retry_step(self) -> None:
        if self.step_id:
            self.steer("retry", self.step_id, None)

    @work(thread=True, group="steer", exit_on_error=False)
    def steer(self, kind: str, step_id: str | None, reason: str | None) -> None:
        self.app.call_from_thread(self.notify, steer_run(self.app, kind, self.run_id, step_id, reason))
