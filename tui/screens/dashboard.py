"""The dashboard: every run, the selected run's DAG (or tree, or step list), the breakers and
the event stream, all live from the store. A run's cost is its recorded cost plus what its
agents at work have used so far (``tui.feed.LiveCosts``)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Header, Input

from engine.progress import Tally
from tui.cells import (
    STEP_COLUMNS,
    activity_line,
    breaker_cells,
    lost_since,
    run_cells,
    step_cells,
    summary,
)
from tui.feed import LiveCosts, StoreChanged, plus
from tui.format import engine_lost, glyph
from tui.run_filter import OLD_DAYS, OLD_SECONDS, RunFilter, started_at, started_cell
from tui.steer import steer_run
from tui.step_filter import WAITING, Span, by_step, ready_for
from tui.widgets.dag_tree import DagTree
from tui.widgets.dag_view import DagView
from tui.widgets.event_log import EventLog
from tui.widgets.footer import KeysFirstFooter
from tui.widgets.line_table import Column, LineTable
from tui.widgets.titles import retitle

if TYPE_CHECKING:  # the runs and steps come as rows (store.reads), read in a thread after the first frame
    from engine.liveness import Run, RunEngine
    from engine.monitor import BreakerView, RunCost
    from schemas.rows import StepRow

RUN_COLUMNS = [Column("STATE", 11), Column("RUN", 8), Column("START", 6), Column("WORKSTREAM", 7, grow=True),
               Column("PROGRESS", 13), Column("STEPS", 10, right=True, drop=1),
               Column("ELAPSED", 8, right=True, drop=2), Column("ETA", 6, right=True, drop=3),
               Column("COST", 7, right=True)]
"""At 80 columns ETA goes first, then ELAPSED, then STEPS (the bar says the progress), so the
row keeps its state, id, start, workstream, progress and cost."""
BREAKER_COLUMNS = [Column("TOOL", 8, grow=True), Column("STATE", 11), Column("FAIL", 5, right=True),
                   Column("PROBE", 8, right=True)]
VIEWS = ("dag", "tree", "steps")
#: The store's run counts (the runs title's total and older hidden) are read again when a run
#: comes or changes state, and at least this often, as the age cut moves on with the clock.
RECOUNT_SECONDS = 60.0
#: On a slow link the ticking cells (elapsed, countdowns) are drawn again this often, not on
#: every read of the store.
SLOW_LINK_CLOCKS = 10.0
VIEW_NAMES = {"dag": "DAG", "tree": "tree", "steps": "steps"}
#: What a pane says before the app's first read of the store has come (the first frame is drawn
#: before the store is opened), and what it says once that read found nothing.
LOADING = "loading…"
RUNS_EMPTY = "no runs yet: press L to launch a workstream, or run `uet run FILE`"
BREAKERS_EMPTY = "no declared tool has run yet"  # a `run:` command has no breaker


_retitle = retitle
"""A pane's title or subtitle, set only when it reads differently and repainting only its border
line: a lost engine's age that did not change on screen cost 2 KB every few seconds on a slow
link, and the view's counts sent the whole DAG inside the pane on every step's change."""


class ViewSwitcher(ContentSwitcher):
    """The pane of the run's view (DAG, tree or steps); it says when its size changed, so the
    count of lines below what it shows is taken again once the layout has settled."""

    class Resized(Message):
        """The pane's size changed."""

    def on_resize(self, _event: events.Resize) -> None:
        self.post_message(self.Resized())


class DashboardScreen(Screen[None]):
    CSS_PATH = "dashboard.tcss"
    TITLE = "uet · runs"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    # The footer shows the few keys that fit 80 columns beside "? Help" and "q Quit"; the help
    # (?) and the palette (ctrl+p) list every one.
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="dashboard.filter",
                tooltip="Filter the runs (words, state:failed, ws:NAME, since:2d or since:2026-12-01), "
                "or the events when they have focus"),
        Binding("s", "cycle_state", "State filter", id="dashboard.state_filter", show=False,
                tooltip="Show only the runs in one state: active, running, failed, succeeded, paused, canceled, all"),
        Binding("a", "toggle_old", "Older runs", id="dashboard.older", show=False,
                tooltip=f"Show the finished runs older than {OLD_DAYS} days too, or hide them again"),
        Binding("f", "toggle_follow", "Follow", id="dashboard.follow", show=False,
                tooltip="Follow the event log, or pause it"),
        Binding("t", "cycle_view", "View", id="dashboard.view", tooltip="Show the run as a DAG, a tree or a list"),
        Binding("o", "open_run", "Open", id="dashboard.open", show=False, tooltip="Open the selected run"),
        Binding("c", "cancel_run", "Cancel", id="dashboard.cancel", tooltip="Cancel the selected run"),
        Binding("p", "pause_run", "Pause", id="dashboard.pause", show=False, tooltip="Pause the selected run"),
        Binding("R", "resume_run", "Resume", id="dashboard.resume", show=False, tooltip="Resume the selected run"),
        Binding("r", "retry_step", "Retry step", id="dashboard.retry", show=False,
                tooltip="Retry the highlighted step"),
        Binding("x", "reset_breaker", "Reset breaker", id="dashboard.reset_breaker", show=False,
                tooltip="Close the highlighted breaker of the breaker pane by hand (asks first)"),
        Binding("escape", "clear_filter", "Clear filter", id="dashboard.clear_filter", show=False,
                tooltip="Clear the filter of the runs (or of the events)"),
    ]

    wants_store = True

    def __init__(self) -> None:
        super().__init__()
        self.runs: dict[str, Run] = {}
        self.costs: dict[str, RunCost] = {}
        self.live = LiveCosts()
        self.engines: dict[str, RunEngine] = {}
        self.steps: dict[str, StepRow] = {}
        #: The attempts (start, end) of the selected run's steps, for RAN and QUEUED in the steps
        #: view; read when that view shows, and for the steps that change while it does.
        self.spans: dict[str, list[Span]] = {}
        self._spans_of: str | None = None
        self.breakers: list[BreakerView] = []
        self.selected: str | None = None
        self.step: str | None = None
        self.filter = RunFilter()
        #: Runs the filters keep but the age rule hides, of those loaded (for the pane title).
        self.older_hidden = 0
        #: The store's runs per state: (all, finished more than OLD_DAYS ago); None until read.
        #: The app loads only the newest runs (engine.monitor.RUNS_SHOWN): the title counts here.
        self.run_counts: dict[str, tuple[int, int]] | None = None
        self._counted_at = float("-inf")
        self.view = "dag"
        self._stale_views: set[str] = set()
        self._clocks_at = float("-inf")
        #: False until the first read of the store has come: the panes say "loading…" till then.
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Vertical(id="body"):
            yield LineTable(RUN_COLUMNS, id="runs", classes="pane", cells=self._run_cells, note_overflow=True,
                            empty=LOADING)
            with Horizontal(id="middle"):
                with ViewSwitcher(id="views", initial="dag", classes="pane"):
                    ascii_only = True if self.app.settings.ascii else None  # type: ignore[attr-defined]
                    yield DagView(id="dag", ascii_only=ascii_only)
                    yield DagTree(id="tree", ascii_only=ascii_only)
                    yield LineTable(STEP_COLUMNS[:-1], id="steps", empty="select a run", cells=self._step_cells)
                yield LineTable(BREAKER_COLUMNS, id="breakers", classes="pane", empty=LOADING,
                                cells=self._breaker_cells, note_overflow=True)
            yield EventLog(id="events", classes="pane")
            yield Input(placeholder="filter: text to keep (Enter to apply, Esc to clear)", id="filter")
        yield KeysFirstFooter()

    def on_mount(self) -> None:
        self.query_one("#runs").border_title = "Runs"
        self.query_one("#breakers").border_title = "Breakers"
        self.query_one(EventLog).show_loading(LOADING)
        self._title_events()
        self._scrollbar_events()
        self._title_view()
        self.query_one("#filter").display = False
        self.query_one("#runs", LineTable).focus()

    def on_screen_resume(self) -> None:
        self.app.watch_run(self.selected)  # type: ignore[attr-defined]

    # -- store -------------------------------------------------------------------------------

    def _now(self) -> float:
        return self.app.clock()  # type: ignore[attr-defined,no-any-return]

    def _run_cells(self, item: tuple[Run, RunCost | None]) -> tuple:
        cells = run_cells(item[0], item[1], self._now(), self.engines.get(item[0].id))
        return (*cells[:2], started_cell(started_at(item[0]), self._now()), *cells[2:])

    def _step_cells(self, row: StepRow) -> tuple:
        # The steps of a run whose engine is lost stopped with it: their clocks do not tick.
        run = self.runs.get(self.selected) if self.selected else None
        spans = self.spans.get(row.id)
        ready = ready_for(row, self.steps, run.started_at if run is not None else None, spans)
        # Without COST: the dashboard reads a run's cost, not each step's (the run screen has it).
        return step_cells(row, self._lost_at(self.selected) or self._now(), clock=self._now(), spans=spans,
                          ready=ready)[:-1]

    def _breaker_cells(self, view: BreakerView) -> tuple:
        return breaker_cells(view, self._now())

    def _first_read_came(self) -> None:
        """The panes stop saying "loading…": what they show from now on is the store's."""
        self.loaded = True
        for pane, empty in (("#runs", RUNS_EMPTY), ("#breakers", BREAKERS_EMPTY)):
            table = self.query_one(pane, LineTable)
            table.empty = empty
            table.refresh()
        self.query_one(EventLog).add(())
        _retitle(self.query_one("#runs"), self._runs_title(0))  # and again when runs come with it
        # The runs were read as plain rows: the store itself (the ORM, the migrations, the record
        # models) opens once the frame that lists them is drawn, before a key needs it.
        self.call_after_refresh(self.app.open_soon)  # type: ignore[attr-defined]

    @on(StoreChanged)
    def apply_store_change(self, message: StoreChanged) -> None:
        delta = message.delta
        if not self.loaded:
            self._first_read_came()
        clocks = self._clocks_due()
        if clocks:
            self._clocks_at = time.monotonic()
        self.costs.update(delta.costs)
        # The costs came with the events, read after them: attempts that ended are recorded.
        live_runs = {run_id for run_id, _step in self.live.note(delta.events) | self.live.settle()}
        for run_id, engine in delta.engines.items():
            if engine is None:
                self.engines.pop(run_id, None)
            else:
                self.engines[run_id] = engine
        table = self.query_one("#runs", LineTable)
        # Rows change in place; the list is made again (from memory, not the store) only when a
        # run comes, or one of them enters or leaves what the filters show.
        refill = recount = False
        for run in delta.runs:
            old = self.runs.get(run.id)
            self.runs[run.id] = run
            refill = refill or old is None or self._shown(old) != self._shown(run)
            recount = recount or old is None or old.state != run.state
        if refill:
            self._forget_old_runs()
        if recount or time.monotonic() - self._counted_at >= RECOUNT_SECONDS:
            self._counted_at = time.monotonic()
            self.count_runs(self._now() - OLD_SECONDS)
        if refill or (self.filter.words and delta.engines):
            self._fill_runs()
        else:
            changed = {r.id for r in delta.runs} | set(delta.costs) | set(delta.engines) | live_runs
            table.update_rows([(rid, (self.runs[rid], self._cost(rid))) for rid in changed
                               if rid in table.index])
            if clocks:
                table.redraw(r.id for r in self.runs.values() if r.ended_at is None and r.started_at is not None)
        breakers = self.query_one("#breakers", LineTable)
        if delta.breakers is not None:
            self.breakers = delta.breakers
            breakers.set_rows([(b.tool, b) for b in self.breakers])
        elif clocks:
            breakers.redraw(b.tool for b in self.breakers if b.state == "open")
        if delta.breakers is not None or delta.runs:
            self._title_breakers()
        if delta.watched is not None and delta.watched == self.selected:
            self._apply_steps(delta.steps, delta.steps_reset)
        if self.view == "steps" and clocks:
            # Running steps' times, waiting steps' countdowns and QUEUED move with the clock.
            self.query_one("#steps", LineTable).redraw(s.id for s in self.steps.values()
                                                       if s.state == "running" or s.state in WAITING)
        if delta.events:
            self.query_one(EventLog).add(delta.events)
        if (self.selected in delta.engines or self._lost_at(self.selected) is not None
                or any(run.id == self.selected for run in delta.runs)):
            self._title_view()  # the selected run's engine or counts changed, or its lost age moved on

    def _clocks_due(self) -> bool:
        """Whether the ticking cells (elapsed, probe countdowns) are drawn again on this update:
        each time, or on a slow link every SLOW_LINK_CLOCKS seconds (rows that changed are
        drawn whatever the clock)."""
        if not self.app.settings.slow_link:  # type: ignore[attr-defined]
            return True
        return time.monotonic() - self._clocks_at >= SLOW_LINK_CLOCKS

    def _cost(self, run_id: str) -> RunCost | None:
        """The recorded cost and the live usage of the run's attempts at work."""
        run = self.runs.get(run_id)
        return plus(self.costs.get(run_id), self.live.of_run(run_id, running=run is None or run.ended_at is None))

    def _lost_at(self, run_id: str | None) -> float | None:
        return lost_since(self.engines.get(run_id)) if run_id else None

    def _keeps(self, run: Run) -> bool:
        return self.filter.keeps(run, self._now(), lost=self._lost_at(run.id) is not None)

    def _shown(self, run: Run) -> bool:
        return self._keeps(run) and not self.filter.too_old(run, self._now())

    def _fill_runs(self) -> None:
        now = self._now()
        ordered = sorted(self.runs.values(), key=lambda r: (r.created_at, r.id), reverse=True)
        kept = [r for r in ordered if self._keeps(r)]
        rows = [(r.id, (r, self._cost(r.id))) for r in kept if not self.filter.too_old(r, now)]
        self.older_hidden = len(kept) - len(rows)
        table = self.query_one("#runs", LineTable)
        if self.loaded:
            table.empty = self._runs_empty(bool(kept))
        table.set_rows(rows)
        _retitle(table, self._runs_title(len(rows)))

    def _forget_old_runs(self) -> None:
        """Hold the runs a fresh start would load, not every run that came while the dashboard
        was open (a week over SSH beside a trigger that fires every minute): past a tenth more
        than the monitor loads, the oldest finished runs but the selected one are let go. The
        title's counts are the store's, so it reads the same."""
        keep = self.app.monitor.runs_shown  # type: ignore[attr-defined]
        if len(self.runs) <= keep + keep // 10:
            return
        from engine.states import RUN_TERMINAL

        finished = sorted((run for run in self.runs.values() if run.state in RUN_TERMINAL and run.id != self.selected),
                          key=lambda run: (run.created_at, run.id))
        for run in finished[:len(self.runs) - keep]:
            del self.runs[run.id]
            self.costs.pop(run.id, None)

    def _runs_empty(self, kept: bool) -> str:
        """What the runs pane says when it lists no run: that the store has none, or what hides
        those it has (the age rule, the filters) and the key that shows them."""
        if kept:
            return f"no run finished in the last {OLD_DAYS} days: a shows the older ones"
        if self.runs:
            return "no run the filters keep: esc clears them"
        return RUNS_EMPTY

    @work(thread=True, exclusive=True, group="run-counts", exit_on_error=False)
    def count_runs(self, cut: float) -> None:
        from engine.states import RUN_TERMINAL
        from store import reads

        with self.app.reading() as conn:  # type: ignore[attr-defined]
            counts = reads.run_counts(conn, [state.value for state in RUN_TERMINAL], cut)
        self.app.call_from_thread(self._counted, counts)

    def _counted(self, counts: dict[str, tuple[int, int]]) -> None:
        self.run_counts = counts
        _retitle(self.query_one("#runs"), self._runs_title(len(self.query_one("#runs", LineTable).keys)))

    def _older_hidden(self) -> int | None:
        """The runs the filters keep and the age rule hides, in the whole store: counted by the
        store for a state filter; for typed words among the runs loaded, or None (not counted)
        when those are not every run."""
        counts = self.run_counts
        if self.filter.show_old:
            return 0
        if counts is None or self.filter.text:
            loaded_all = counts is None or sum(runs for runs, _old in counts.values()) <= len(self.runs)
            return self.older_hidden if loaded_all else None
        state = self.filter.state
        if state == "active":
            return 0  # only finished runs age out
        return sum(old for name, (_runs, old) in counts.items() if state is None or name == state)

    def _runs_title(self, shown: int) -> str:
        """``Runs (3)``; with filters, hidden runs or more runs than loaded, ``Runs 3 of 45 ·
        state: failed · 40 older hidden (a shows)``: the total and the older hidden are the
        store's, not the newest runs' the app holds."""
        notes = [self.filter.words_shown()] if self.filter.active else []
        hidden = self._older_hidden()
        if hidden is None:
            notes.append("older not counted (a shows)")
        elif hidden:
            notes.append(f"{hidden:,} older hidden (a shows)")
        elif self.filter.show_old:
            notes.append("older shown (a hides)")
        # The loaded runs are some of the store's: a count read before a run came is not below them.
        counted = sum(runs for runs, _old in self.run_counts.values()) if self.run_counts is not None else 0
        total = max(len(self.runs), counted)
        if not notes and total == shown:
            return f"Runs ({shown})"
        return f"Runs {shown:,} of {total:,}" + "".join(f" · {note}" for note in notes)

    def _apply_steps(self, rows: list[StepRow], reset: bool) -> None:
        steps_table = self.query_one("#steps", LineTable)
        if reset:
            self.steps = {row.id: row for row in rows}
            self._stale_views = set(VIEWS)
            self.spans, self._spans_of = {}, None  # another run's, or read before its steps were
            self._draw_view()
            return
        changed = {}
        for row in rows:
            old = self.steps.get(row.id)
            self.steps[row.id] = row
            if old is None or old.state != row.state:
                changed[row.id] = row.state
        if changed:
            if "dag" not in self._stale_views:
                self.query_one(DagView).update_states(changed)
            if "tree" not in self._stale_views:
                self.query_one(DagTree).update_states(changed)
        if "steps" not in self._stale_views:
            steps_table.update_rows([(row.id, row) for row in rows])
        if self.view == "steps" and self.selected and self._spans_of == self.selected:
            self.load_spans(self.selected, [row.id for row in rows])
        else:
            self._spans_of = None  # read whole when the steps view shows again
        self._title_view()

    def _draw_view(self) -> None:
        """Fill the view on show; views out of sight are filled when switched to."""
        if self.view in self._stale_views:
            self._stale_views.discard(self.view)
            rows = list(self.steps.values())
            if self.view == "steps":
                self.query_one("#steps", LineTable).set_rows([(row.id, row) for row in rows], keep_cursor=False)
            else:
                graph = [(row.id, row.needs) for row in rows]
                states = {row.id: row.state for row in rows}
                widget = self.query_one(DagView) if self.view == "dag" else self.query_one(DagTree)
                widget.set_graph(graph, states)
        if self.view == "steps" and self.selected and self._spans_of != self.selected:
            self._spans_of = self.selected
            self.load_spans(self.selected, None)
        self._title_view()
        self.call_after_refresh(self._title_view)  # once the view knows its size

    @work(thread=True, group="spans", exit_on_error=False)
    def load_spans(self, run_id: str, step_ids: list[str] | None) -> None:
        """The attempts of the run's steps that changed (None: of every step), in one query."""
        from store import reads

        with self.app.reading() as conn:  # type: ignore[attr-defined]
            spans = by_step((a[0], a[3], a[4]) for a in reads.attempt_spans(conn, run_id, step_ids))
        for step_id in step_ids or ():
            spans.setdefault(step_id, [])
        self.app.call_from_thread(self._spans_loaded, run_id, spans, step_ids is None)

    def _spans_loaded(self, run_id: str, spans: dict[str, list[Span]], whole: bool) -> None:
        if run_id != self._spans_of:
            return  # another run was selected meanwhile
        table = self.query_one("#steps", LineTable)
        if whole:
            self.spans = spans
            table.set_rows([(row.id, row) for row in self.steps.values()])  # every line drawn again
        else:
            self.spans.update(spans)
            table.redraw(spans)

    # -- selection -------------------------------------------------------------------------------

    @on(LineTable.RowHighlighted, "#runs")
    def select_run(self, message: LineTable.RowHighlighted) -> None:
        if message.key != self.selected:
            self.selected = message.key
            self.step = None
            self.app.watch_run(message.key)  # type: ignore[attr-defined]
            self._title_view()

    @on(LineTable.RowSelected, "#runs")
    def open_selected_run(self, message: LineTable.RowSelected) -> None:
        self._open(message.key, None)

    @on(LineTable.RowHighlighted, "#steps")
    def highlight_listed_step(self, message: LineTable.RowHighlighted) -> None:
        self.step = message.key

    @on(LineTable.RowSelected, "#steps")
    def open_listed_step(self, message: LineTable.RowSelected) -> None:
        self._open(self.selected, message.key)

    @on(DagView.StepHighlighted)
    def highlight_drawn_step(self, message: DagView.StepHighlighted) -> None:
        self.step = message.step_id
        self.call_after_refresh(self._title_view)  # the view may have scrolled

    @on(ViewSwitcher.Resized)
    def recount_the_view(self) -> None:
        self.call_after_refresh(self._title_view)

    @on(DagView.StepSelected)
    @on(DagTree.StepSelected)
    def open_drawn_step(self, message: DagView.StepSelected | DagTree.StepSelected) -> None:
        self.step = message.step_id
        self._open(self.selected, message.step_id)

    def _open(self, run_id: str | None, step_id: str | None) -> None:
        from tui.screens.run import RunScreen

        if run_id is not None:
            self.app.open_store()  # type: ignore[attr-defined]  # the run screen reads it: opened now if a key came first
            self.app.push_screen(RunScreen(run_id, step_id, self.steps if run_id == self.selected else None,
                                           self.live.of_one_run(run_id)))

    # -- titles ------------------------------------------------------------------------------------

    def _title_view(self) -> None:
        views = self.query_one("#views")
        if self.selected is None:
            _retitle(views, VIEW_NAMES[self.view])
            return
        run = self.runs.get(self.selected)
        lost_at = self._lost_at(self.selected)
        lost = "" if lost_at is None else \
            f" · {glyph('lost')} {engine_lost(max(0.0, self._now() - lost_at))} · R resume"
        doing = activity_line(run, self._now()) if run is not None and lost_at is None else None
        _retitle(views, f"{self.selected[:8]} · {VIEW_NAMES[self.view]}{lost}" + (f" · {doing}" if doing else ""))
        # The same counts as the run's row: one record, one definition (engine.progress.Tally).
        tally = Tally.of_run(run) if run is not None else Tally(len(self.steps))
        below = self._below_view()
        # A view cut at the pane's foot says how much follows (its right edge is marked by "…").
        _retitle(views, subtitle=f"{summary(tally)} · " + (f"… {below} more ↓" if below else "t: DAG/tree/steps"))

    def _below_view(self) -> int:
        """Lines of the current view below what the pane shows."""
        widget = self.query_one(f"#{self.view}")
        shown = widget.scrollable_content_region.height
        return max(0, widget.virtual_size.height - round(widget.scroll_offset.y) - shown) if shown else 0

    def _title_events(self) -> None:
        log = self.query_one(EventLog)
        state = "following" if log.follow else "paused (f follows)"
        log.border_title = "Events · " + state + (f" · /{log.pattern}" if log.pattern else "")

    # -- actions -------------------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.value = self.query_one(EventLog).pattern if self.query_one(EventLog).has_focus else self.filter.text
        box.focus()

    @on(Input.Submitted, "#filter")
    def apply_filter(self, message: Input.Submitted) -> None:
        box = self.query_one("#filter", Input)
        box.display = False
        log = self.query_one(EventLog)
        if self._last_focus_events:
            log.pattern = message.value.strip()
            self._title_events()
            log.focus()
        else:
            try:
                self.filter = RunFilter.parse(message.value, self._now(), self.filter)
            except ValueError as exc:
                self.notify(str(exc), title="Filter not applied", severity="warning")
            self._fill_runs()
            self.query_one("#runs", LineTable).focus()

    @property
    def _last_focus_events(self) -> bool:
        return getattr(self, "_events_had_focus", False)

    def on_descendant_focus(self, event: object) -> None:
        widget = getattr(event, "widget", None)
        if widget is not None and widget.id in ("runs", "events", "dag", "tree", "steps", "breakers"):
            self._events_had_focus = widget.id == "events"

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display:
            box.display = False
        log = self.query_one(EventLog)
        if self._last_focus_events and log.pattern:
            log.pattern = ""
            self._title_events()
            log.focus()
        elif self.filter.active:
            self.filter = RunFilter(show_old=self.filter.show_old)
            self._fill_runs()
            self.query_one("#runs", LineTable).focus()

    def action_cycle_state(self) -> None:
        self.filter = self.filter.cycled()
        self._fill_runs()

    def action_toggle_old(self) -> None:
        self.filter = replace(self.filter, show_old=not self.filter.show_old)
        self._fill_runs()

    def action_toggle_follow(self) -> None:
        log = self.query_one(EventLog)
        log.follow = not log.follow
        self._scrollbar_events()
        self._title_events()

    def _scrollbar_events(self) -> None:
        """Following, the log's end is always in view: no scrollbar (its thumb read as a stray
        glyph mid-pane); held, the scrollbar says where the view is."""
        log = self.query_one(EventLog)
        log.styles.scrollbar_size_vertical = 0 if log.follow else 1

    def action_cycle_view(self) -> None:
        self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]
        self.query_one("#views", ContentSwitcher).current = self.view
        self._draw_view()

    def action_open_run(self) -> None:
        self._open(self.selected, None)

    def action_cancel_run(self) -> None:
        from tui.screens.ask import AskScreen

        run_id = self.selected
        if run_id is None:
            return

        def answered(reason: str | None) -> None:
            if reason is not None:
                self.steer("cancel", run_id, None, reason or None)

        self.app.push_screen(AskScreen(f"Cancel run {run_id}?", "reason (optional), Enter to cancel the run, "
                                       "Esc to keep it running"), answered)

    def action_pause_run(self) -> None:
        if self.selected:
            self.steer("pause", self.selected, None, None)

    def action_resume_run(self) -> None:
        if self.selected:
            self.steer("resume", self.selected, None, None)

    def action_retry_step(self) -> None:
        if self.selected and self.step:
            self.steer("retry", self.selected, self.step, None)
        else:
            self.notify("highlight a step first (in the DAG, tree or steps view)", severity="warning")

    def _waiting_on(self, tool: str) -> list[str]:
        """The unfinished runs an open breaker holds, nothing of theirs executing."""
        return [run.id for run in self.runs.values() if run.waiting_on == tool and run.ended_at is None]

    def _title_breakers(self) -> None:
        held = [f"{b.tool} holds {', '.join(r[:8] for r in waiting)}" for b in self.breakers
                if (waiting := self._waiting_on(b.tool))]
        _retitle(self.query_one("#breakers"), " · ".join(["Breakers", *held]))

    def action_reset_breaker(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        pane = self.query_one("#breakers", LineTable)
        tool = pane.cursor_key
        if tool is None or not pane.has_focus:
            self.notify("highlight a breaker in the breaker pane first (Tab moves there)", severity="warning")
            return
        view = next(b for b in self.breakers if b.tool == tool)
        waiting = self._waiting_on(tool)
        held = f"; it holds run(s) {', '.join(waiting)}" if waiting else ""

        def answered(yes: bool | None) -> None:
            if yes:
                self.reset_breaker(tool)

        self.app.push_screen(ConfirmScreen(f"Reset breaker {tool}? It is {view.state}, {view.failures} of the last "
                                           f"{view.calls} calls failed{held}."), answered)

    @work(thread=True, group="steer", exit_on_error=False)
    def reset_breaker(self, tool: str) -> None:
        from engine.breakers import reset
        from engine.errors import UetError

        app = self.app
        try:
            said = reset(app.open_store(), app.root, tool, app.user)  # type: ignore[attr-defined]
        except UetError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self.notify, said)
        self.app.call_from_thread(app.poke)  # type: ignore[attr-defined]

    @work(thread=True, group="steer", exit_on_error=False)
    def steer(self, kind: str, run_id: str, step_id: str | None, reason: str | None) -> None:
        self.app.call_from_thread(self.notify, steer_run(self.app, kind, run_id, step_id, reason))
