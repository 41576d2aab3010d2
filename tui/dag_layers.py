"""The DAG view's layers mode as data: one line per layer with its counts by state, each layer
expandable into one line per step. Which line shows which layer or step, what a layer line
says, and the per-layer counts that let a state change repaint only what it touches.

Kept apart from the widget (``tui.widgets.dag_view``), which draws these lines and moves the
cursor over them, so the bookkeeping reads, and is tested, without a screen. Everything here
is O(layers) per change of shape and O(1) per state change: a layer of 5,000 steps costs what
is on screen.
"""

from __future__ import annotations

import textwrap
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping

from tui import dag_layout
from tui.dag_layout import GlyphSet, Layout

SUMMARY_ORDER = ("succeeded", "failed", "canceled", "skipped", "running", "retrying", "ready", "waiting", "pending")
"""Order of the counts on a layer line: finished, then active, then waiting."""

WORD_WIDTH = max(len(state) for state in SUMMARY_ORDER)
PROBLEM_WIDTH = 48
"""Width the reason a graph cannot be shown is wrapped to: a 50-cell pane reads it whole."""

HEADER = -1
"""Index within a layer that stands for the layer's own line."""

Item = tuple[int, int]
"""(layer, index within the layer), or (layer, HEADER) for the layer's own line."""


class LayerLines:
    """Steps by layer with their states, which layers are expanded, and the lines that makes."""

    def __init__(self, layout: Layout, states: Mapping[str, str], glyphs: GlyphSet, problem: str | None = None,
                 expanded: list[bool] | None = None) -> None:
        """``expanded`` carries the open layers over when the same graph is set again."""
        self.layout = layout
        self.glyphs = glyphs
        self.problem = problem
        self.states = {step_id: states.get(step_id, "pending") for step_id in layout.ids}
        self.layer_of: dict[str, int] = {}
        self.index: dict[str, int] = {}
        for k, layer in enumerate(layout.layers):
            for i, step_id in enumerate(layer):
                self.layer_of[step_id] = k
                self.index[step_id] = i
        self.counts = [Counter(self.states[s] for s in layer) for layer in layout.layers]
        self.expanded = list(expanded) if expanded is not None else [False] * len(layout.layers)
        self.starts: list[int] = [0]
        self.lines = 0
        self.size_digits = len(str(max((len(layer) for layer in layout.layers), default=0)))
        id_width = max((dag_layout.cell_width(s) for s in layout.ids), default=0)
        headers = max((len(self.header_text(k)) for k in range(len(layout.layers))), default=0)
        self.width = max(headers, 4 + 2 + WORD_WIDTH + 1 + id_width, PROBLEM_WIDTH if problem else 0)
        """Widths measured once per graph, so expanding a layer costs O(layers)."""

    def set_state(self, step_id: str, state: str) -> int | None:
        """Record a step's new state; the layer whose counts moved, or None when nothing did."""
        old = self.states.get(step_id)
        if old is None or old == state:
            return None
        self.states[step_id] = state
        k = self.layer_of[step_id]
        counts = self.counts[k]
        counts[old] -= 1
        if not counts[old]:
            del counts[old]
        counts[state] += 1
        return k

    def widen(self, layers: set[int]) -> bool:
        """Make room for these layers' lines; whether the width grew."""
        widest = max(len(self.header_text(k)) for k in layers)
        if widest <= self.width:
            return False
        self.width = widest
        return True

    def restack(self) -> None:
        """Line of each layer's header from the expanded flags: O(layers)."""
        starts, line = [], 0
        sizes = [len(layer) for layer in self.layout.layers]
        for k, size in enumerate(sizes):
            starts.append(line)
            line += 1 + (size if self.expanded[k] else 0)
        self.starts = starts or [0]
        self.lines = line if sizes else len(textwrap.wrap(self.problem or "-", PROBLEM_WIDTH))

    def item_at(self, y: int) -> Item:
        k = bisect_right(self.starts, y) - 1
        return k, y - self.starts[k] - 1

    def line_of(self, item: Item) -> int:
        k, i = item
        return self.starts[k] + 1 + i

    def step_at(self, item: Item) -> str | None:
        """The step on that line; None on a layer line or with no steps."""
        k, i = item
        if not self.layout.ids or i == HEADER:
            return None
        return self.layout.layers[k][i]

    def header_parts(self, k: int) -> tuple[str, list[tuple[str, int]]]:
        """A layer line as its fixed head (marker, number, size) and its (state, count)s."""
        size = len(self.layout.layers[k])
        counts = self.counts[k]
        marker = ("-" if self.expanded[k] else "+") if self.glyphs.ascii else ("▾" if self.expanded[k] else "▸")
        label = f"L{k + 1}".ljust(len(str(len(self.counts))) + 1)
        head = f"{marker} {label} {size:>{self.size_digits}} step{'s' if size != 1 else ' '}  "
        known = [s for s in SUMMARY_ORDER if counts.get(s)]
        others = sorted(s for s in counts if s not in SUMMARY_ORDER and counts[s])
        return head, [(s, counts[s]) for s in known + others]

    def header_text(self, k: int) -> str:
        head, counts = self.header_parts(k)
        return head + " ".join(f"{self.glyphs.state(s)} {n}" for s, n in counts)
