"""Table cells (and the step table's columns) for the dashboard and the run screen: the same
words and glyphs as the CLI, as Rich text.

Colour is always on top of a glyph and a word, so a cell reads the same under ``NO_COLOR``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text

from engine.monitor import eta
from engine.progress import Tally
from tui.bars import bar, counts, summary
from tui.format import COLOURS, due_short, duration, glyph, short, waiting
from tui.step_filter import WAITING, Span, queued, ran
from tui.widgets.line_table import Column

if TYPE_CHECKING:
    from engine.liveness import Run, RunEngine
    from engine.monitor import BreakerView, RunCost
    from schemas.rows import StepRow

__all__ = ["STEP_COLUMNS", "activity", "activity_line", "bar", "breaker_cells", "counts", "lost_since", "money",
           "run_cells", "short_age", "state_cell", "step_cells", "step_state_cell", "summary"]

#: The runs table's STEPS column.
STEPS_ROOM = 10


def state_cell(state: str) -> Text:
    return Text(f"{glyph(state)} {state}", style=COLOURS.get(state, ""))


def step_state_cell(state: str, due_at: float | None, now: float) -> Text:
    """A step's state cell; a waiting step's says, in the column's eleven cells, when it may
    start: ``⧖ in 3h22m`` (``uet status`` and the attempts pane say ``23:59:00 (in 3h22m)``)."""
    if state == "waiting" and due_at is not None:
        return Text(f"{glyph(state)} {due_short(due_at, now)}", style=COLOURS.get(state, ""))
    return state_cell(state)


def activity(run: Run, now: float) -> Text | None:
    """What a running run does besides executing steps, as its state cell says it: pausing, or
    waiting on a breaker (with when it probes); None otherwise."""
    if run.pausing:
        return Text(f"{glyph('paused')} pausing", style=COLOURS["paused"])
    if run.waiting_on:
        held = waiting(run.waiting_on, run.waiting_until, now).state
        return Text(f"{glyph(held)} waiting", style=COLOURS[held])
    return None


def activity_line(run: Run, now: float) -> str | None:
    """The same in words, for a header: ``pausing (paused by ana): running steps finish``,
    ``waiting on breaker sim (probe in 12s)``."""
    if run.pausing:
        return f"pausing ({run.pausing}): {run.running_steps} running step(s) finish, no new one starts"
    if run.waiting_on:
        return waiting(run.waiting_on, run.waiting_until, now).words
    return None


def money(cost: RunCost | None) -> Text:
    if cost is None:
        return Text("-", style="dim")
    if cost.usd == 0 and cost.unpriced:
        # No price known: the tokens are still worth seeing; dollars stay unknown, never $0.
        if cost.tokens >= 1000:
            return Text(f"{cost.tokens / 1000:.0f}k tok", style="dim")
        return Text(f"{cost.tokens} tok" if cost.tokens else "?", style="dim")
    return Text(f"${cost.usd:.2f}" + ("+?" if cost.unpriced else ""))


def short_age(seconds: float) -> str:
    """``42s``, ``12m``, ``3h``, ``2d``: an age that fits a state cell."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def lost_since(engine: RunEngine | None) -> float | None:
    """The last sign of life of a run's lost engine; None while it lives or none is expected."""
    return engine.last_seen if engine is not None and not engine.live else None


def run_cells(run: Run, cost: RunCost | None, now: float,
              engine: RunEngine | None = None) -> tuple[Text | str, ...]:
    state = run.state.value
    lost_at = lost_since(engine)
    end = run.ended_at or lost_at or now
    elapsed = duration(end - run.started_at) if run.started_at else "-"
    left = eta(run, now) if lost_at is None else None
    tally = Tally.of_run(run)
    doing = activity(run, now) if lost_at is None else None
    return (
        doing or (state_cell(state) if lost_at is None else
                  Text(f"{glyph('lost')} lost {short_age(max(0.0, now - lost_at))}", style=COLOURS["lost"])),
        run.id[:8],
        run.workstream,
        bar(tally),
        counts(tally, STEPS_ROOM),
        elapsed,
        duration(left) if left is not None else "-",
        money(cost),
    )


STEP_COLUMNS = [Column("STATE", 11), Column("STEP", 7, grow=True), Column("TOOL", 7, drop=1),
                Column("TRY", 3, right=True, drop=2), Column("EXIT", 4, right=True, drop=3),
                Column("RAN", 5, right=True), Column("QUEUED", 6, right=True), Column("COST", 7, right=True, drop=4)]
"""The step table's columns, one per cell of ``step_cells``: the dashboard and the run screen show
the same. RAN (time in attempts) and QUEUED (ready but not running) in place of one TOOK adding
both; 57 cells, so the run screen keeps every column in half of 120. In the dashboard's 41 at 80
columns COST, EXIT and TRY give way, in that order: STATE, STEP, TOOL, RAN and QUEUED stay."""


def step_cells(step: StepRow, now: float, cost: RunCost | None = None, clock: float | None = None,
               spans: Sequence[Span] | None = None, ready: float | None = None) -> tuple[Text | str, ...]:
    """``now``: what the times run to (a lost engine's last word); ``clock``: the time of day,
    which a waiting step's due time is counted from (``now`` when not given). ``spans``: the
    step's attempts (start, end); ``ready``: when it could start (``tui.step_filter.ready_for``)."""
    return (
        step_state_cell(step.state, step.due_at, now if clock is None else clock),
        step.id,
        step.tool or "-",
        str(step.attempts),
        "-" if step.exit_code is None else str(step.exit_code),
        short(ran(spans, now)),
        short(queued(ready, spans, now, waiting=step.state in WAITING)),
        money(cost),
    )


def breaker_cells(view: BreakerView, now: float) -> tuple[Text | str, ...]:
    probe = view.probe_in(now)
    return (
        view.tool,
        state_cell(view.state),
        f"{view.failures}/{view.calls}",
        "-" if probe is None else ("due" if probe <= 0 else f"in {duration(probe)}"),
    )
