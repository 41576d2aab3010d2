"""The DAG view's layers mode as data, without a screen: which line shows which layer or step
as layers open and close, what a layer line says, and counts that follow state changes."""

from __future__ import annotations

from tui.dag_layers import HEADER, LayerLines
from tui.dag_layout import ASCII, layout

STEPS = [("fetch", []), ("lint", ["fetch"]), ("test", ["fetch"]), ("docs", ["fetch"]), ("ship", ["lint", "test"])]


def test_lines_follow_the_open_layers_both_ways() -> None:
    rows = LayerLines(layout(STEPS), {"fetch": "succeeded"}, ASCII)
    rows.expanded[1] = True
    rows.restack()

    assert (rows.starts, rows.lines) == ([0, 1, 5], 6)  # L1 closed, L2 open with 3 steps, L3 closed
    items = [rows.item_at(y) for y in range(rows.lines)]
    assert items == [(0, HEADER), (1, HEADER), (1, 0), (1, 1), (1, 2), (2, HEADER)]
    assert [rows.line_of(item) for item in items] == list(range(6))
    assert [rows.step_at(item) for item in items[2:5]] == list(rows.layout.layers[1])
    assert rows.step_at((1, HEADER)) is None


def test_a_state_change_moves_one_count_of_its_layer() -> None:
    rows = LayerLines(layout(STEPS), {"fetch": "succeeded", "lint": "running"}, ASCII)
    assert rows.header_text(1) == "+ L2 3 steps  * 1 . 2"

    assert rows.set_state("test", "failed") == 1
    assert rows.set_state("test", "failed") is None  # no change, nothing to repaint
    assert rows.set_state("nosuch", "failed") is None
    assert rows.header_text(1) == "+ L2 3 steps  x 1 * 1 . 1"
    assert rows.counts[0] == {"succeeded": 1} and rows.counts[2] == {"pending": 1}
