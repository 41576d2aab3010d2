"""One run: its steps with attempts, tool, exit code, time running and queued, and cost; the
highlighted step's attempts and its log, following live, or (``o``) its output, the answer of its
latest attempt that gave one; and the actions that steer the run.

Built for runs of 10,000 steps: ``/`` filters the steps (by id or state, see tui.step_filter),
``n``/``N`` go to the next or previous failed step, ``s`` sorts them (plan order, longest first,
state), all on the rows in memory, the table drawing only the lines on screen. ``M`` shows the
whole run's output in one pane: the last lines of each shown step's latest log merged by the time
they were written, each headed by its step id (``t`` there: step after step instead).

Costs are the recorded ones (an attempt's cost is recorded when it ends) plus what the agents
at work have used so far, from the feed's ``step.output`` events (``tui.feed.LiveCosts``)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Header, Input, Static

from engine.liveness import RunEngine, run_engine
from engine.logindex import UNMARKED
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
from tui.format import COLOURS, duration, engine_lost, glyph, when
from tui.log_window import StepTail, Window, last_lines, merged_by_time, read_tail
from tui.steer import steer_run
from tui.step_filter import (
    SORTS,
    WAITING,
    FilterError,
    Span,
    StepFilter,
    parse,
    ready_for,
    shown,
)
from tui.widgets.footer import KeysFirstFooter
from tui.widgets.line_table import Column, LineTable
from tui.widgets.step_log import StepLog
from tui.widgets.step_output import ShownOutput, StepOutput, shown_output

ATTEMPT_COLUMNS = [Column("#", 3, right=True), Column("STATE", 11), Column("TOOL", 8, grow=True),
                   Column("EXIT", 4, right=True), Column("TOOK", 6, right=True), Column("TOKENS", 7, right=True)]
LOG_TAIL_BYTES = 256 * 1024
#: The whole-run view (``M``): so much of the end of each step's latest log, and so much in all.
MERGED_STEP_BYTES = 8 * 1024
MERGED_STEP_LINES = 40
MERGED_BYTES = 2 * 1024 * 1024


class RunScreen(Screen[None]):
    CSS_PATH = "run.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("escape", "back", "Back", id="run.back", tooltip="Clear the filter, or go back to the dashboard"),
        # A priority binding: the filter line opens and takes the focus before the keys typed
        # with the / are handed on (see action_filter).
        Binding("slash", "filter", "Filter", id="run.filter", priority=True,
                tooltip="Filter the steps: an id part, a state (failed), state:failed,retrying, id:lint*"),
        Binding("n", "next_failed(1)", "Next failed", id="run.next_failed", show=False,
                tooltip="Move to the next failed step, wrapping"),
        Binding("N", "next_failed(-1)", "Previous failed", id="run.previous_failed", show=False,
                tooltip="Move to the previous failed step, wrapping"),
        Binding("right_square_bracket", "chord(1)", "]f next failed", id="run.chord_next", show=False,
                tooltip="]f: the next failed step, as n"),
        Binding("left_square_bracket", "chord(-1)", "[f previous failed", id="run.chord_previous", show=False,
                tooltip="[f: the previous failed step, as N"),
        Binding("s", "sort", "Sort", id="run.sort", show=False,
                tooltip="Sort the steps: plan order, longest first (time running), state"),
        Binding("M", "merged", "Whole run output", id="run.merged", show=False,
                tooltip="Every shown step's latest log (its last lines) in one pane, or back"),
        Binding("t", "merged_order", "By time/by step", id="run.merged_order", show=False,
                tooltip="The whole-run view: lines merged by time, or each step's lines together"),
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
        self.keep = StepFilter("")
        self.sort = SORTS[0]
        self.spans: dict[str, list[Span]] = {}
        self.logs: dict[str, tuple[int, str, str | None]] = {}  # step: its latest attempt, state, log
        self._asking: str | None = None  # what the line above the steps is typed for: filter, search
        self._asked_by: StepLog | None = None
        self._chord = 0  # ] (1) or [ (-1) was pressed: an f next goes to the next or previous failed step
        self._merged_by_time = True  # M: lines merged by time (t: step after step)

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Static(id="summary")
        yield Static(id="filter", markup=False)
        yield Input(id="query")
        with Horizontal(id="main"):
            yield LineTable(STEP_COLUMNS, id="steps", classes="pane", empty="loading…", cells=self._step_cells,
                            note_overflow=True)
            with Vertical(id="side"):
                yield LineTable(ATTEMPT_COLUMNS, id="attempts", classes="pane", empty="no attempt yet",
                                note_overflow=True)
                yield StepLog(id="log", classes="pane", max_lines=5_000)
                yield StepOutput(id="output", classes="pane")
        yield StepLog(id="merged", classes="pane", placeholder="reading the steps' logs…")
        yield KeysFirstFooter()

    def _now(self) -> float:
        """The screen's clock; for a run whose engine is lost, the moment it was last heard of,
        so the durations of its steps and attempts stop there."""
        return lost_since(self.engine) or self.app.clock()  # type: ignore[attr-defined,no-any-return]

    def _step_cells(self, row: StepRow) -> tuple:
        live = self.live.of_step(self.run_id, row.id, running=self._unended)
        spans = self.spans.get(row.id)
        started = self.run.started_at if self.run is not None else None
        return step_cells(row, self._now(), plus(self.step_costs.get(row.id), live),
                          self.app.clock(), spans, ready_for(row, self.steps, started, spans))  # type: ignore[attr-defined]

    @property
    def _unended(self) -> bool:
        """Whether the run may still have attempts at work (their live usage counts)."""
        return self.run is None or self.run.ended_at is None

    def on_mount(self) -> None:
        # The width's class now: Textual sets it at the Resize that follows the first paint,
        # which drew the wide layout at 80 columns and then the whole screen again.
        width = self.app.size.width
        chosen = [name for at, name in self.HORIZONTAL_BREAKPOINTS if width >= at][-1:]
        for _, name in self.HORIZONTAL_BREAKPOINTS:
            self.set_class(name in chosen, name)
        self.query_one("#steps").border_title = "Steps"
        self.query_one("#attempts").border_title = "Attempts"
        self.query_one("#log").border_title = "Log"
        self.query_one("#output").border_title = "Output"
        self.query_one("#output").border_subtitle = "o: log"
        self.query_one("#merged").border_title = "Whole run"
        self.query_one("#merged", StepLog).hint = "M: back"
        self.query_one("#steps", LineTable).focus()
        self.app.watch_run(self.run_id)  # type: ignore[attr-defined]
        if self.steps:
            self._fill_steps()
        self.load_run(with_steps=not self.steps)
        self.load_spans(None)

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

    @work(thread=True, group="spans", exit_on_error=False)
    def load_spans(self, step_ids: list[str] | None) -> None:
        """The attempts of the steps that changed (None: of every step): their times and latest
        logs, as plain tuples in one query (see queries.attempt_spans), grouped by step here in
        the worker thread."""
        whole = step_ids is None or len(step_ids) > 2_000
        spans: dict[str, list[Span]] = {step_id: [] for step_id in (() if whole else step_ids or ())}
        logs: dict[str, tuple[int, str, str | None]] = {}
        for step_id, number, state, started, ended, log_path in \
                queries.attempt_spans(self.run_id, None if whole else step_ids):
            spans.setdefault(step_id, []).append((started, ended))
            logs[step_id] = (number, state, log_path)
        self.app.call_from_thread(self._spans_loaded, spans, logs, whole)

    def _spans_loaded(self, spans: dict[str, list[Span]], logs: dict[str, tuple[int, str, str | None]],
                      whole: bool) -> None:
        if whole:
            self.spans, self.logs = spans, logs
        else:
            self.spans.update(spans)
            self.logs.update(logs)
        if whole or self.sort != SORTS[0]:
            self._fill_steps()  # every line drawn again (the table's lines are cached by row)
        else:
            self.query_one("#steps", LineTable).redraw(spans)

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
                if self.keep or self.sort != SORTS[0]:
                    self._fill_steps()  # a changed step may join or leave the filter, or move
                else:
                    self.query_one("#steps", LineTable).update_rows([(row.id, row) for row in delta.steps])
                self.load_spans([row.id for row in delta.steps])
                if self.step_id in {row.id for row in delta.steps}:
                    self.load_attempts(self.step_id)
        generation = self.live.generation
        if self.run_id in delta.costs or any(run_id == self.run_id and at == generation
                                             for (run_id, _step), (_usage, at) in self.live.ending.items()):
            self.load_run(with_steps=False)  # the recorded costs of attempts that ended replace their live ones
        self.query_one("#steps", LineTable).redraw(
            moved | {sid for sid, row in self.steps.items() if row.state == "running" or row.state in WAITING})
        self._summary()
        if self.follow and self._log_path:
            self.tail_log(self._log_path, self._log_offset)

    def _fill_steps(self) -> None:
        """The table's rows: the steps the filter keeps, in the chosen order. One pass over the
        rows in memory; the table draws only the lines on screen."""
        table = self.query_one("#steps", LineTable)
        rows = shown(self.steps.values(), self.keep, self.sort, self.spans, self._now())
        table.set_rows([(row.id, row) for row in rows])
        if self.step_id in table.index:
            table.move_to(self.step_id)
        total = len(self.steps)
        title = f"Steps {len(rows):,} of {total:,}" if self.keep else f"Steps ({total:,})"
        table.border_title = title + ("" if self.sort == SORTS[0] else f" · {self.sort}")
        line = self.query_one("#filter", Static)
        if self.keep:
            line.update(f" {len(rows):,} of {total:,} steps · filter: {self.keep.text} · Esc clears")
        line.display = bool(self.keep) and not self.query_one("#query", Input).display

    def _summary(self) -> None:
        run = self.run
        if run is None:
            return
        now = self.app.clock()  # type: ignore[attr-defined]
        lost_at = lost_since(self.engine)
        left = eta(run, now) if lost_at is None else None
        if lost_at is None:
            state = activity(run, now) or state_cell(run.state.value)
        else:
            state = Text(f"{glyph('lost')} {engine_lost(max(0.0, now - lost_at))} · R resume", style=COLOURS["lost"])
        tally = Tally.of_run(run)
        progress = bar(tally)
        progress.append(" ")
        progress.append_text(counts(tally))
        recorded = RunCost(sum((c.usd for c in self.step_costs.values()), 0.0),
                           sum(c.unpriced for c in self.step_costs.values()),
                           sum(c.tokens for c in self.step_costs.values())) if self.step_costs else None
        cost = plus(recorded, self.live.of_run(self.run_id, running=self._unended))
        text = summary_line(run.id, state, run.workstream, progress,
                            f"elapsed {duration((run.ended_at or lost_at or now) - run.started_at)}"
                            if run.started_at else None,
                            f"ETA {duration(left)}" if left is not None else None,
                            money(cost) if cost is not None else None, self.size.width)
        doing = activity_line(run, now) if lost_at is None else None
        second = Text(f" {doing}", style=COLOURS["paused" if run.pausing else "open"]) if doing else \
            Text(f" {run.reason}", style="dim") if run.reason else None
        if second is not None:  # one line too: the header holds two
            second.truncate(max(1, self.size.width - 1), overflow="ellipsis")
            text.append("\n")
            text.append_text(second)
        self.query_one("#summary", Static).update(text)

    def on_resize(self) -> None:
        self._summary()

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
        row = self.steps.get(step_id)
        # A due time is the time of day's, even when the run's clock stopped with its lost engine.
        table.empty = f"waits until {when(row.due_at, self.app.clock())}" \
            if row is not None and row.state == "waiting" and row.due_at is not None else "no attempt yet"
        table.set_rows([(str(a.number), (
            str(a.number), state_cell(a.state.value if hasattr(a.state, "value") else str(a.state)), a.tool,
            "-" if a.exit_code is None else str(a.exit_code), duration((a.ended_at or now) - a.started_at),
            "-" if a.tokens_in is None else str((a.tokens_in or 0) + (a.tokens_out or 0)),
        )) for a in rows], keep_cursor=False)
        table.border_title = f"Attempts of {step_id}"
        latest = rows[-1].log_path if rows else None
        log = self.query_one("#log", StepLog)
        # An attempt that ended having written nothing says so, not "yet".
        said = "not run yet" if not rows else "no output yet" if rows[-1].ended_at is None else \
            f"attempt {rows[-1].number} wrote no output"
        if log.placeholder != said:
            log.placeholder = said
        if latest != self._log_path or step_id != self._log_step:
            self._log_path, self._log_step, self._log_offset = latest, step_id, 0
            log.clear()
            log.source = latest
            log.border_title = f"Log · {step_id}"
            if latest:
                self.tail_log(latest, 0)

    @work(thread=True, group="log", exclusive=True, exit_on_error=False)
    def tail_log(self, path: str, offset: int) -> None:
        # At most the last LOG_TAIL_BYTES of what is new: a log that grew by 50 MB since the
        # last look costs what 256 KiB cost, and says what it skipped. Each line comes with its
        # stream, from the log's index.
        window = read_tail(path, offset, LOG_TAIL_BYTES)
        if window is not None:
            self.app.call_from_thread(self._append_log, path, offset, window)

    def _append_log(self, path: str, offset: int, window: Window) -> None:
        if path != self._log_path or offset != self._log_offset:
            return
        self._log_offset = window.end
        log = self.query_one("#log", StepLog)
        if window.skipped:
            # What is held and what follows are no longer one stretch of the file: start afresh.
            log.clear()
            log.write(f"uet: … {window.start:,} bytes before not shown (S saves the whole log)\n", self.follow)
        log.write(window.text, scroll_end=self.follow, start=window.start, streams=window.streams)

    # -- actions -------------------------------------------------------------------------------------

    def _log_subtitle(self) -> None:
        """Whether the log follows (once ``f`` was pressed), and that ``o`` shows the step's output
        when it has one (after what the log says of its search and wrap)."""
        said = ("following" if self.follow else "held (f follows)") if self._follow_said else ""
        hint = "o: output" if self._has_output else ""
        self.query_one("#log", StepLog).hint = " · ".join(part for part in (said, hint) if part)

    @on(StepLog.Moved, "#log")
    def hold_or_follow(self, message: StepLog.Moved) -> None:
        """Up the log holds it where the reader is; its end follows it again (read afresh when a
        search had moved it to a match far from the end)."""
        if message.to_end and message.log.moved_window and self._log_path:
            message.log.clear()
            self._log_offset = 0
            self.tail_log(self._log_path, 0)
        if message.to_end != self.follow:
            self.action_toggle_follow()

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

    # -- filter, sort, next failed -------------------------------------------------------------------

    def action_back(self) -> None:
        """Esc: close the typing line, else leave the whole-run view, else clear the filter, else
        go back to the dashboard."""
        if self.query_one("#query", Input).display:
            self._close_query(cancel=True)
        elif self.has_class("-merged"):
            self.action_merged()
        elif self.keep:
            self.keep = StepFilter("")
            self._fill_steps()
        else:
            self.app.pop_screen()

    def _open_query(self, mode: str, value: str, placeholder: str) -> None:
        self._asking = mode
        self._asked_by = self.focused if isinstance(self.focused, StepLog) else None
        field = self.query_one("#query", Input)
        field.placeholder = placeholder
        field.value = value
        field.display = True
        self.query_one("#filter").display = False
        # The focus at once (not after the keys already on their way): "/failed" typed in one
        # burst (fast, pasted, or over a slow link) gave its f to the log's follow key and the
        # rest to nothing, and the filter stayed empty.
        self.set_focus(field)

    def _close_query(self, cancel: bool) -> None:
        field = self.query_one("#query", Input)
        mode, self._asking = self._asking, None
        field.display = False
        if cancel and mode == "filter":
            self.keep = StepFilter("")
        if cancel and mode == "search" and self._asked_by is not None:
            self._asked_by.search("")
        if mode == "search" and self._asked_by is not None:
            if not cancel:
                self._asked_by.search_file()  # the lines held are searched; now the whole file
            self._asked_by.focus()
        else:
            self.query_one("#steps", LineTable).focus()
        if mode == "filter":
            self._fill_steps()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``/`` is the log's search in the log, a character on the typing line, the filter elsewhere."""
        return not (action == "filter" and isinstance(self.focused, (Input, StepLog)))

    def action_filter(self) -> None:
        self._open_query("filter", self.keep.text, "filter steps: build, failed, state:failed,retrying, id:lint*")

    @on(StepLog.SearchAsked)
    def ask_search(self, message: StepLog.SearchAsked) -> None:
        message.stop()
        self._open_query("search", message.log.query, "search the log (a capital makes it case-sensitive)")

    @on(Input.Changed, "#query")
    def query_typed(self, message: Input.Changed) -> None:
        """Filter or search as the words are typed."""
        if self._asking == "filter":
            try:
                self.keep = parse(message.value)
            except FilterError as exc:
                self.query_one("#steps", LineTable).border_title = f"Steps: {exc}"
                return
            self._fill_steps()
        elif self._asking == "search" and self._asked_by is not None:
            self._asked_by.search(message.value)

    @on(Input.Submitted, "#query")
    def query_done(self, _message: Input.Submitted) -> None:
        self._close_query(cancel=False)

    def action_chord(self, step: int) -> None:
        self._chord = step

    def on_key(self, event: events.Key) -> None:
        """The second key of ``]f`` / ``[f`` (before the bindings, where ``f`` follows the log)."""
        step, self._chord = self._chord, 0
        if step and event.key == "f":
            event.stop()
            event.prevent_default()
            self.action_next_failed(step)

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._fill_steps()
        self.notify(f"steps sorted: {self.sort}", timeout=2)

    def action_next_failed(self, step: int) -> None:
        """The cursor to the next (``step`` 1) or previous (-1) failed step of those shown, wrapping."""
        table = self.query_one("#steps", LineTable)
        keys = table.keys
        count = len(keys)
        for k in range(1, count + 1):
            at = (table.cursor + step * k) % count
            if self.steps[keys[at]].state == "failed":
                if (at < table.cursor) if step > 0 else (at > table.cursor):
                    self.notify("wrapped around to the " + ("first" if step > 0 else "last") + " failed step",
                                timeout=2)
                table.move_to(keys[at])
                table.focus()
                return
        self.notify("no failed step" + (" among those the filter shows" if self.keep else ""), timeout=3)

    # -- the whole run's output ------------------------------------------------------------------------

    def action_merged(self) -> None:
        """The tail of every shown step's latest log, merged by time or one after the other in
        table order."""
        merged = self.query_one("#merged", StepLog)
        if self.has_class("-merged"):
            self.remove_class("-merged")
            self.query_one("#steps", LineTable).focus()
            return
        self.add_class("-merged")
        merged.clear()
        merged.focus()
        keys = list(self.query_one("#steps", LineTable).keys)
        merged.border_title = f"Whole run · last lines of {len(keys):,} step(s)" + \
            (" by time" if self._merged_by_time else " step by step") + \
            (f" · filter: {self.keep.text}" if self.keep else "")
        merged.hint = "t: " + ("by step" if self._merged_by_time else "by time") + " · M: back"
        if self._merged_by_time:
            starts = {sid: spans[-1][0] for sid, spans in self.spans.items() if spans}
            self.read_merged_by_time([StepTail(sid, (self.logs.get(sid) or (0, "", None))[2], starts.get(sid))
                                      for sid in keys])
        else:
            self.read_merged(keys, dict(self.logs))

    def action_merged_order(self) -> None:
        """``t`` in the whole-run view: merged by time, or step after step."""
        if not self.has_class("-merged"):
            return
        self._merged_by_time = not self._merged_by_time
        self.remove_class("-merged")
        self.action_merged()

    @work(thread=True, group="merged", exclusive=True, exit_on_error=False)
    def read_merged_by_time(self, steps: list[StepTail]) -> None:
        """At most MERGED_STEP_LINES lines (MERGED_STEP_BYTES) of each step, merged by time."""
        lines, streams, cut = merged_by_time(steps, MERGED_STEP_BYTES, MERGED_STEP_LINES)
        note = f"uet: … the last {MERGED_STEP_LINES} lines of each step at most ({cut:,} step(s) wrote more: " \
            "their logs hold it all)\n" if cut else ""
        body = "".join(line + "\n" for line in lines) or "(no output)\n"
        self.app.call_from_thread(self._show_merged, note, body, ["-"] * bool(note) + streams)

    def _show_merged(self, note: str, body: str, streams: list[str]) -> None:
        self.query_one("#merged", StepLog).write(note + body, False, streams=streams)

    @work(thread=True, group="merged", exclusive=True, exit_on_error=False)
    def read_merged(self, keys: list[str], logs: dict[str, tuple[int, str, str | None]]) -> None:
        """At most MERGED_STEP_LINES lines (MERGED_STEP_BYTES) of each step and MERGED_BYTES in
        all, stderr marked as in a step's own log."""
        lines: list[str] = []
        streams: list[str] = []
        size = 0
        for n, step_id in enumerate(keys):
            if size >= MERGED_BYTES:
                lines.append(f"uet: … {len(keys) - n:,} more step(s) not shown: filter (/) to see them")
                streams.append(UNMARKED)
                break
            latest = logs.get(step_id)
            if latest is None:
                lines.append(f"── {step_id} · not run yet")
                streams.append(UNMARKED)
                continue
            number, state, path = latest
            tail = last_lines(path, MERGED_STEP_BYTES, MERGED_STEP_LINES) if path else None
            part = [f"── {step_id} · attempt {number} · {state} ──", *(tail.lines if tail else ["(no output)"])]
            lines += part
            streams += [UNMARKED, *(tail.streams if tail else [UNMARKED])]
            size += sum(len(line) + 1 for line in part)
        self.app.call_from_thread(self.query_one("#merged", StepLog).write, "".join(line + "\n" for line in lines),
                                  False, streams=streams)

    # -- saving a log ------------------------------------------------------------------------------------

    @on(StepLog.SaveAsked)
    def ask_save(self, message: StepLog.SaveAsked) -> None:
        from tui.screens.ask import AskScreen

        message.stop()
        log = message.log
        merged = log.id == "merged"
        source = None if merged else self._log_path
        if not merged and source is None:
            self.notify("this step has no log yet", severity="warning")
            return
        name = f"{self.run_id}.whole-run.log" if merged else f"{self.run_id}.{Path(source or '').name}"
        default = Path(".uet") / "saved" / name

        def answered(path: str | None) -> None:
            if path is not None:
                self.save_log(Path(path or str(default)), source, None if source else "\n".join(log.lines) + "\n")

        self.app.push_screen(AskScreen("Save the whole log" if source else "Save the whole-run view",
                                       f"path (Enter: {default})"), answered)

    @work(thread=True, group="save", exit_on_error=False)
    def save_log(self, path: Path, source: str | None, text: str | None) -> None:
        """Copy the log file (all of it, not only the lines held) or write the text; a path
        that is not absolute is the project's."""
        root = Path(getattr(self.app, "root", "."))
        target = path if path.is_absolute() else root / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if source is not None:
                shutil.copyfile(source, target)
            else:
                target.write_text(text or "")
            size = target.stat().st_size
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"not saved: {exc.filename or target}: {exc.strerror or exc}",
                                      severity="error")
            return
        self.app.call_from_thread(self.notify, f"log saved to {target} ({size:,} bytes)")

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


def summary_line(run_id: str, state: Text, workstream: str, progress: Text, elapsed: str | None, left: str | None,
                 cost: Text | None, width: int) -> Text:
    """The run's first header line, in ``width`` cells: the run, its state, workstream, bar
    and counts, elapsed, ETA and cost, two spaces apart. When they do not fit, an unknown
    cost (``?``) goes first, then the run id is cut to 8 characters, the workstream goes, the
    parts close up to one space, then the elapsed time while an ETA shows, the cost, the
    elapsed time; what still does not fit ends in "…". State and counts always stay."""
    parts: dict[str, Text | None] = {
        "id": Text(run_id, style="bold"), "state": state, "workstream": Text(workstream), "progress": progress,
        "elapsed": Text(elapsed) if elapsed else None, "eta": Text(left) if left else None,
        "cost": Text.assemble("cost ", cost) if cost is not None else None,
    }
    unknown_cost = cost is not None and cost.plain == "?"
    gap = ["  "]

    def joined() -> Text:
        line = Text(" ", no_wrap=True, overflow="ellipsis", end="")
        line.append_text(Text(gap[0]).join(part for part in parts.values() if part is not None))
        return line

    room = max(1, width - 1)
    steps: list[Callable[[], object]] = [
        lambda: parts.update(cost=None) if unknown_cost else None,
        lambda: parts.update(id=Text(run_id[:8], style="bold")),
        lambda: parts.update(workstream=None),
        lambda: gap.__setitem__(0, " "),
        lambda: parts.update(elapsed=None) if left else None,
        lambda: parts.update(cost=None),
        lambda: parts.update(elapsed=None),
    ]
    line = joined()
    for step in steps:
        if line.cell_len <= room:
            break
        step()
        line = joined()
    line.truncate(room, overflow="ellipsis")
    return line
