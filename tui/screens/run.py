"""One run: its steps with attempts, tool, exit code, duration and cost; the highlighted step's
attempts and its log, following live, or (``o``) its output, the answer of its latest attempt
that gave one; and the actions that steer the run.

Costs are the recorded ones (an attempt's cost is recorded when it ends) plus what the agents
at work have used so far, from the feed's ``step.output`` events (``tui.feed.LiveCosts``)."""

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
from engine.progress import Tally
from schemas.records import AttemptRecord, RunRecord, StepRow
from store import queries
from tui.cells import (
    STEP_COLUMNS,
    activity,
    activity_line,
    bar,
    counts,
    lost_since,
    money,
    state_cell,
    step_cells,
)
from tui.feed import LiveCosts, StoreChanged, plus
from tui.format import COLOURS, duration, engine_lost, glyph
from tui.steer import steer_run
from tui.widgets.line_table import Column, LineTable
from tui.widgets.step_log import StepLog
from tui.widgets.step_output import ShownOutput, StepOutput, shown_output

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
        # Not in the footer (it is full at 80 columns): the log's subtitle offers it when the
        # step has an output, and the help screen lists it.
        Binding("o", "toggle_output", "Output/log", id="run.output", show=False,
                tooltip="Show the step's output (an agent's final answer) in place of its log, or the log again"),
    ]

    wants_store = True

    def __init__(self, run_id: str, step_id: str | None = None, steps: dict[str, StepRow] | None = None,
                 live: LiveCosts | None = None) -> None:
        """``steps``: what the opener already holds of this run, so a big run shows at once;
        ``live``: the usage so far of its attempts at work, as the opener has it."""
        super().__init__()
        self.run_id = run_id
        self.step_id = step_id
        self.run: RunRecord | None = None
        self.engine: RunEngine | None = None
        self.steps: dict[str, StepRow] = dict(steps) if steps else {}
        self.step_costs: dict[str, RunCost] = {}
        self.live = live or LiveCosts()
        self.follow = True
        self._follow_said = False
        self._has_output = False
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
                yield StepOutput(id="output", classes="pane")
        yield Footer()

    def _now(self) -> float:
        """The screen's clock; for a run whose engine is lost, the moment it was last heard of,
        so the durations of its steps and attempts stop there."""
        return lost_since(self.engine) or self.app.clock()  # type: ignore[attr-defined,no-any-return]

    def _step_cells(self, row: StepRow) -> tuple:
        live = self.live.of_step(self.run_id, row.id, running=self._unended)
        return step_cells(row, self._now(), plus(self.step_costs.get(row.id), live))

    @property
    def _unended(self) -> bool:
        """Whether the run may still have attempts at work (their live usage counts)."""
        return self.run is None or self.run.ended_at is None

    def on_mount(self) -> None:
        self.query_one("#steps").border_title = "Steps"
        self.query_one("#attempts").border_title = "Attempts"
        self.query_one("#log").border_title = "Log"
        self.query_one("#output").border_title = "Output"
        self.query_one("#output").border_subtitle = "o: log"
        self.query_one("#steps", LineTable).focus()
        self.app.watch_run(self.run_id)  # type: ignore[attr-defined]
        if self.steps:
            self._fill_steps()
        self.load_run(with_steps=not self.steps)

    def load_run(self, with_steps: bool = True) -> None:
        self._load_run(with_steps, self.live.generation)

    @work(thread=True, group="run-load", exclusive=True, exit_on_error=False)
    def _load_run(self, with_steps: bool, generation: int) -> None:
        """``generation``: the live figures' batch this read starts after (see LiveCosts.settle)."""
        run = queries.get_run(self.run_id)
        engine = run_engine(run, self.app.clock())  # type: ignore[attr-defined]
        costs = {str(t.key["step_id"]): RunCost.of(t) for t in queries.cost_totals(("step_id",), self.run_id)}
        rows = queries.step_rows(self.run_id) if with_steps else None
        self.app.call_from_thread(self._loaded, run, engine, costs, rows, generation)

    def _loaded(self, run: RunRecord, engine: RunEngine | None, costs: dict[str, RunCost],
                rows: list[StepRow] | None, generation: int = 0) -> None:
        self.run = run
        self.engine = engine
        self.step_costs = costs
        settled = self.live.settle(generation)
        self.query_one("#steps", LineTable).redraw(step for run_id, step in settled if run_id == self.run_id)
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
        moved = {step for run_id, step in self.live.note(delta.events) if run_id == self.run_id}
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
        generation = self.live.generation
        if self.run_id in delta.costs or any(run_id == self.run_id and at == generation
                                             for (run_id, _step), (_usage, at) in self.live.ending.items()):
            self.load_run(with_steps=False)  # the recorded costs of attempts that ended replace their live ones
        self.query_one("#steps", LineTable).redraw(
            moved | {sid for sid, row in self.steps.items() if row.state == "running"})
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
            text.append_text(activity(run, now) or state_cell(run.state.value))
        else:
            text.append(f"{glyph('lost')} {engine_lost(max(0.0, now - lost_at))} · R resume", style=COLOURS["lost"])
        tally = Tally.of_run(run)
        text.append(f"  {run.workstream}  ")
        text.append_text(bar(tally))
        text.append(" ")
        text.append_text(counts(tally))
        if run.started_at:
            text.append(f"  elapsed {duration((run.ended_at or lost_at or now) - run.started_at)}")
        if left is not None:
            text.append(f"  ETA {duration(left)}")
        recorded = RunCost(sum((c.usd for c in self.step_costs.values()), 0.0),
                           sum(c.unpriced for c in self.step_costs.values()),
                           sum(c.tokens for c in self.step_costs.values())) if self.step_costs else None
        cost = plus(recorded, self.live.of_run(self.run_id, running=self._unended))
        if cost is not None:
            text.append("  cost ")
            text.append_text(money(cost))
        doing = activity_line(run, now) if lost_at is None else None
        if doing:
            text.append(f"\n {doing}", style=COLOURS["paused" if run.pausing else "open"])
        elif run.reason:
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
        root = self.run.root if self.run is not None else queries.get_run(self.run_id).root
        shown = shown_output(self.run_id, step_id, rows, root)
        self.app.call_from_thread(self._show_attempts, step_id, rows, shown)

    def _show_attempts(self, step_id: str, rows: list[AttemptRecord], shown: ShownOutput | None = None) -> None:
        if step_id != self.step_id:
            return
        if shown is not None:
            output = self.query_one("#output", StepOutput)
            output.show(shown)
            output.border_title = f"Output · {step_id}"
            self._has_output = shown.attempt is not None
            self._log_subtitle()
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

    def _log_subtitle(self) -> None:
        """Whether the log follows (once ``f`` was pressed), and that ``o`` shows the step's output
        when it has one."""
        said = ("following" if self.follow else "held (f follows)") if self._follow_said else ""
        hint = "o: output" if self._has_output else ""
        self.query_one("#log").border_subtitle = " · ".join(part for part in (said, hint) if part)

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self._follow_said = True
        self._log_subtitle()

    def action_toggle_output(self) -> None:
        """The step's output in place of its log (at 80 columns, in place of its attempts too),
        or the log again."""
        showing = not self.has_class("-output")
        self.set_class(showing, "-output")
        focused = self.focused
        if focused is None:
            return
        hidden = ["#log"] if showing else ["#output"]
        if showing and self.has_class("-narrow"):
            hidden.append("#attempts")
        if any(focused is pane or pane in focused.ancestors for pane in (self.query_one(h) for h in hidden)):
            self.query_one("#steps", LineTable).focus()  # what had the focus is out of sight

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
