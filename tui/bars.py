"""A run's progress as Rich text, the same in the dashboard, the run screen and ``uet run``'s
live panel: a bar with a segment per end (each its own glyph, so it reads the same without
colour), the counts with their glyphs, and a one-line summary. The counts come from
``engine.progress.Tally``, the one definition of progress.
"""

from __future__ import annotations

from rich.text import Text

from engine.progress import Tally
from tui.format import COLOURS, glyph

BAR_WIDTH = 8
#: A cell of the bar per end, so the bar reads the same without colour: succeeded, failed,
#: skipped, canceled, then what remains (running included).
BAR_GLYPHS = {"succeeded": "█", "failed": "▓", "skipped": "▒", "canceled": "╌", "remaining": "░"}
BAR_COLOURS = {**COLOURS, "remaining": "bright_black"}


def bar_cells(tally: Tally, width: int = BAR_WIDTH) -> list[tuple[str, int]]:
    """How many cells each part of the bar takes. Failed, skipped and canceled steps always get
    a cell when there are any (two failures of 61 must show); succeeded steps round down, so
    the bar is full of █ only when every step succeeded; a finished run has no ░ left."""
    total = max(1, tally.total)
    parts = [(state, n * width // total if state == "succeeded" else max(1, n * width // total))
             for state, n in tally.ends()]
    while sum(n for _, n in parts) > width:  # the floors of the small ends took too much: trim the largest
        i = max(range(len(parts)), key=lambda k: parts[k][1])
        parts[i] = (parts[i][0], parts[i][1] - 1)
    left = width - sum(n for _, n in parts)
    if tally.remaining == 0 and parts:  # nothing remains: the rounding's cells go to the largest end
        i = max(range(len(parts)), key=lambda k: (parts[k][1], k == 0))
        parts[i] = (parts[i][0], parts[i][1] + left)
    elif left:
        parts.append(("remaining", left))
    return [(state, n) for state, n in parts if n > 0]


def bar(tally: Tally, width: int = BAR_WIDTH) -> Text:
    """The progress bar, then the percent that succeeded: ``█████▓▒░  62%``."""
    text = Text()
    for state, n in bar_cells(tally, width):
        text.append(BAR_GLYPHS[state] * n, style=BAR_COLOURS[state])
    text.append(f" {tally.percent:3.0f}%")
    return text


def counts(tally: Tally, room: int | None = None) -> Text:
    """``11/61`` succeeded of all, then the other ends with their glyphs: ``11/61 ✘2 ↷3 ⊘45``.
    Given ``room`` (cells), the marks that do not fit are left out, failures last (the bar
    still shows every end)."""
    text = Text(f"{tally.succeeded}/{tally.total}")
    marks = {state: f" {glyph(state)}{n}" for state, n in tally.ends() if state != "succeeded"}
    if room is not None:
        for state in ("skipped", "canceled", "failed"):
            if len(text) + sum(len(m) for m in marks.values()) <= room:
                break
            marks.pop(state, None)
    for state, mark in marks.items():
        text.append(mark, style=COLOURS[state])
    return text


def summary(tally: Tally) -> str:
    """Every count in a line, as the CLI prints them: ``✔ 11 ✘ 2 ⊘ 45 ▶ 1 of 61``."""
    parts = [f"{glyph(state)} {n}" for state, n in tally.ends()]
    if tally.running:
        parts.append(f"{glyph('running')} {tally.running}")
    return " ".join(parts or ["0"]) + f" of {tally.total}"
