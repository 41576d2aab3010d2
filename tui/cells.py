"""Table cells (and the step table's columns) for the dashboard and the run screen: the same
words and glyphs as the CLI, as Rich text.

Colour is always on top of a glyph and a word, so a cell reads the same under ``NO_COLOR``.
"""

from __future__ import annotations

from rich.text import Text

from engine.liveness import RunEngine
from engine.monitor import BreakerView, RunCost, eta
from schemas.records import RunRecord, StepRow
from tui.format import COLOURS, duration, glyph
from tui.widgets.line_table import Column

BAR_WIDTH = 8
EIGHTHS = " ▏▎▍▌▋▊▉"


def state_cell(state: str) -> Text:
    return Text(f"{glyph(state)} {state}", style=COLOURS.get(state, ""))


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """A progress bar in eighths of a cell, then the percent: ``█████▌░░  70%``."""
    share = 1.0 if total <= 0 else min(1.0, done / total)
    eighths = round(share * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (EIGHTHS[part] if part and full < width else "")
    return text.ljust(width, "░") + f" {share * 100:3.0f}%"


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


def run_cells(run: RunRecord, cost: RunCost | None, now: float,
              engine: RunEngine | None = None) -> tuple[Text | str, ...]:
    state = run.state.value
    lost_at = lost_since(engine)
    end = run.ended_at or lost_at or now
    elapsed = duration(end - run.started_at) if run.started_at else "-"
    left = eta(run, now) if lost_at is None else None
    return (
        state_cell(state) if lost_at is None else
        Text(f"{glyph('lost')} lost {short_age(max(0.0, now - lost_at))}", style=COLOURS["lost"]),
        run.id[:8],
        run.workstream,
        bar(run.done_steps, run.total_steps),
        f"{run.done_steps}/{run.total_steps}",
        elapsed,
        duration(left) if left is not None else "-",
        money(cost),
    )


STEP_COLUMNS = [Column("STATE", 11), Column("STEP", 10, grow=True), Column("TOOL", 8), Column("TRY", 3, right=True),
                Column("EXIT", 4, right=True), Column("TOOK", 6, right=True), Column("COST", 7, right=True)]
"""The step table's columns, one per cell of ``step_cells``: the dashboard and the run screen show the same."""


def step_cells(step: StepRow, now: float, cost: RunCost | None = None) -> tuple[Text | str, ...]:
    took = "-" if step.started_at is None else duration((step.ended_at or now) - step.started_at)
    return (
        state_cell(step.state),
        step.id,
        step.tool or "-",
        str(step.attempts),
        "-" if step.exit_code is None else str(step.exit_code),
        took,
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
