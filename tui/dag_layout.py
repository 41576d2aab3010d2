"""Layered layout of a run's DAG, and a box-drawing picture of small ones.

Plain Python on purpose: the dashboard widgets render from it, the tests compare its output as
strings and the benchmark times it without a terminal.

Layers are topological generations: a step's layer is one more than the deepest layer among
its needs, so every step in layer k > 0 needs at least one step in layer k - 1. Within a
layer, steps are ordered by barycenter sweeps (each step moves to the mean position of its
neighbours in the adjacent layer just placed, alternately downwards and upwards), which
removes most crossings at O(V + E) per sweep plus one sort per layer.

`draw` is for graphs small enough to read (the dashboard draws at most 60 steps). Each edge
spanning several layers becomes a chain of dummy slots, so it is routed through the columns it
crosses; each node gets a row; each channel between two columns gets vertical tracks. Lines
that touch are read as one bundle (every source on it reaches every arrow on it), so the
drawing only lets lines touch where that is true: see `draw`.
"""

from __future__ import annotations

import gc
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tui.format import glyph

Steps = Sequence[tuple[str, Sequence[str]]]
"""Step ids with the ids they need, in file order."""

MAX_LABEL = 18
"""Widest step id drawn in a graph, in cells; longer ids end with an ellipsis."""

ASCII_STATE_GLYPHS = {
    "pending": ".",
    "waiting": "w",
    "ready": "o",
    "running": "*",
    "retrying": "@",
    "paused": "=",
    "succeeded": "v",
    "failed": "x",
    "skipped": "_",
    "canceled": "/",
    "quarantined": "!",
    "timed_out": "t",
    "crashed": "#",
    "closed": "c",
    "open": "O",
    "half_open": "h",
    "lost": "L",
}
"""One ASCII character per state, for terminals that are not UTF-8. Distinct across step
states and unlike the ASCII edge characters, so a picture still tells states apart."""


class DagError(ValueError):
    """The steps do not form a DAG: an id twice, a need naming no step, or a cycle."""


# Box-drawing: a cell's character follows from which of its four sides a line leaves by.
N, E, S, W = 1, 2, 4, 8
_UNICODE_BOX = {
    0: " ", E: "─", W: "─", E | W: "─", N: "│", S: "│", N | S: "│",
    S | E: "┌", S | W: "┐", N | E: "└", N | W: "┘",
    N | S | E: "├", N | S | W: "┤", E | W | S: "┬", E | W | N: "┴", N | E | S | W: "┼",
}
_ASCII_BOX = {bits: " " if bits == 0 else "-" if bits & (N | S) == 0 else "|" if bits & (E | W) == 0 else "+"
              for bits in range(16)}


@dataclass(frozen=True, slots=True)
class GlyphSet:
    """The characters a drawing is made of: box pieces, arrow head, ellipsis, state glyphs."""

    box: Mapping[int, str]
    arrow: str
    ellipsis: str
    ascii: bool

    def state(self, state: str) -> str:
        """The glyph of a state in this set (the shared one from ``tui.format`` when UTF-8)."""
        return ASCII_STATE_GLYPHS.get(state, "?") if self.ascii else glyph(state)


UNICODE = GlyphSet(box=_UNICODE_BOX, arrow="▸", ellipsis="…", ascii=False)
ASCII = GlyphSet(box=_ASCII_BOX, arrow=">", ellipsis="~", ascii=True)


def cell_width(text: str) -> int:
    """Terminal cells taken by ``text``: wide East Asian characters take two, combining none."""
    if text.isascii():
        return len(text)
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in "WF" else 1
    return width


def truncate(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` cut to ``width`` cells, ending with ``ellipsis`` when cut."""
    if cell_width(text) <= width:
        return text
    out, used = [], cell_width(ellipsis)
    for char in text:
        used += cell_width(char)
        if used > width:
            break
        out.append(char)
    return "".join(out) + ellipsis


def node_label(step_id: str, state: str, glyphs: GlyphSet = UNICODE, max_label: int = MAX_LABEL) -> str:
    """How a node reads in a drawing: its state glyph, a space and its (truncated) id."""
    return f"{glyphs.state(state)} {truncate(step_id, max_label, glyphs.ellipsis)}"


@dataclass(frozen=True, slots=True)
class Layout:
    """Layers of a DAG and the order within each: what a renderer needs to place steps."""

    ids: tuple[str, ...]
    """Every step id, in file order."""
    needs: Mapping[str, tuple[str, ...]]
    """Needs of each step, duplicates dropped."""
    dependents: Mapping[str, tuple[str, ...]]
    """Steps that need each step, in file order."""
    layers: tuple[tuple[str, ...], ...]
    """Ordered step ids of each layer; layer 0 holds the steps that need nothing."""
    position: Mapping[str, tuple[int, int]]
    """(layer, row) of each step."""


def layout(steps: Steps, *, sweeps: int = 4) -> Layout:
    """Layer ``steps`` and order each layer to reduce crossings.

    The sweeps weigh only edges between adjacent layers: measured on random 10,000-step
    DAGs, counting long edges too moved steps towards far layers and left more crossings
    than file order. Deterministic: ties keep file order. Raises `DagError` on a duplicate
    id, a need that names no step, or a cycle, naming the steps involved.
    """
    enabled = gc.isenabled()
    gc.disable()  # a 10,000-step layout makes ~100,000 objects in no cycle: collections walked them all again
    try:
        return _layout(steps, sweeps)
    finally:
        if enabled:
            gc.enable()


def _layout(steps: Steps, sweeps: int) -> Layout:
    ids, needs = _index(steps)
    dependents = _dependents(needs)
    layer_of = _layer_numbers(ids, needs, dependents)
    layers: list[list[int]] = [[] for _ in range(max(layer_of, default=-1) + 1)]
    for v, k in enumerate(layer_of):
        layers[k].append(v)
    ups = [[u for u in wanted if layer_of[u] == layer_of[v] - 1] for v, wanted in enumerate(needs)]
    downs = [[w for w in below if layer_of[w] == layer_of[u] + 1] for u, below in enumerate(dependents)]
    _barycenter(layers, ups, downs, sweeps)
    name = ids.__getitem__  # map() over it: a generator per step costs a third of a 10,000-step layout
    return Layout(
        ids=tuple(ids),
        needs={ids[v]: tuple(map(name, needs[v])) for v in range(len(ids))},
        dependents={ids[u]: tuple(map(name, dependents[u])) for u in range(len(ids))},
        layers=tuple(tuple(map(name, layer)) for layer in layers),
        position={ids[v]: (k, row) for k, layer in enumerate(layers) for row, v in enumerate(layer)},
    )


def crossings(result: Layout) -> int:
    """Edge crossings between adjacent layers (edges spanning more layers are not counted)."""
    layers = [list(layer) for layer in result.layers]
    position = result.position
    down = {v: [w for w in result.dependents[v] if position[w][0] == position[v][0] + 1] for v in result.ids}
    return sum(_channel_crossings(layers[k], down, lambda w: position[w][1]) for k in range(len(layers) - 1))


def _index(steps: Steps) -> tuple[list[str], list[tuple[int, ...]]]:
    ids: list[str] = []
    number: dict[str, int] = {}
    for step_id, _ in steps:
        if step_id in number:
            raise DagError(f"step {step_id!r} appears twice; step ids must be unique")
        number[step_id] = len(ids)
        ids.append(step_id)
    needs: list[tuple[int, ...]] = []
    for step_id, wanted in steps:
        row: dict[int, None] = {}
        for need in wanted:
            u = number.get(need)
            if u is None:
                raise DagError(f"step {step_id!r} needs {need!r}, which is not a step of this run")
            row[u] = None
        needs.append(tuple(row))
    return ids, needs


def _dependents(needs: Sequence[Sequence[int]]) -> list[list[int]]:
    dependents: list[list[int]] = [[] for _ in needs]
    for v, wanted in enumerate(needs):
        for u in wanted:
            dependents[u].append(v)
    return dependents


def _layer_numbers(ids: Sequence[str], needs: Sequence[Sequence[int]], dependents: Sequence[Sequence[int]]) -> list[int]:
    """Longest path from a root, by Kahn's algorithm in file order."""
    waiting = [len(wanted) for wanted in needs]
    layer = [0] * len(ids)
    queue = [v for v, count in enumerate(waiting) if count == 0]
    for u in queue:  # the queue grows while it is walked
        below = layer[u] + 1
        for v in dependents[u]:
            if layer[v] < below:
                layer[v] = below
            waiting[v] -= 1
            if waiting[v] == 0:
                queue.append(v)
    if len(queue) < len(ids):
        stuck = [ids[v] for v, count in enumerate(waiting) if count]
        shown = ", ".join(repr(s) for s in stuck[:5]) + (f" and {len(stuck) - 5} more" if len(stuck) > 5 else "")
        raise DagError(f"steps {shown} wait on each other in a cycle (or on a step that does); "
                       "a run's needs must form a DAG")
    return layer


def _barycenter(layers: list[list[int]], ups: Sequence[Sequence[int]], downs: Sequence[Sequence[int]],
                sweeps: int, score: Callable[[list[list[int]]], int] | None = None) -> None:
    """Reorder ``layers`` in place: alternate sweeps down (by needs) and up (by dependents).

    Positions are normalised to (0, 1) within a layer so that neighbours in layers of
    different sizes weigh alike. A step with no neighbour on the side being swept keeps its
    place. With ``score``, the best order seen (fewest crossings) is kept.
    """
    total = sum(len(layer) for layer in layers)
    pos = [0.0] * total
    key = [0.0] * total

    def place(layer: list[int]) -> None:
        size = len(layer)
        for row, v in enumerate(layer):
            pos[v] = (row + 0.5) / size

    for layer in layers:
        place(layer)
    best = score(layers) if score else 0
    kept = [list(layer) for layer in layers] if score else []
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        order = range(1, len(layers)) if downward else range(len(layers) - 2, -1, -1)
        neighbours = ups if downward else downs
        for k in order:
            layer = layers[k]
            for v in layer:
                near = neighbours[v]
                key[v] = sum(pos[u] for u in near) / len(near) if near else pos[v]
            layer.sort(key=key.__getitem__)
            place(layer)
        if score:
            now = score(layers)
            if now < best:
                best, kept = now, [list(layer) for layer in layers]
    if score:
        layers[:] = kept


def _channel_crossings(left: Sequence[Any], down: Mapping[Any, Sequence[Any]] | Sequence[Sequence[Any]],
                       row_of: Callable[[Any], int]) -> int:
    """Crossings between one layer and the next: with edges listed by left end (then right
    end), each earlier edge whose right end is lower down crosses the current one; edges that
    share an end do not cross. Counted with a Fenwick tree, O(E log V)."""
    ends = [row_of(w) for v in left for w in sorted(down[v], key=row_of)]
    size = max(ends, default=0) + 2
    tree = [0] * (size + 1)
    count = 0
    for seen, end in enumerate(ends):
        i, at_or_above = end + 1, 0
        while i > 0:
            at_or_above += tree[i]
            i -= i & -i
        count += seen - at_or_above
        i = end + 1
        while i <= size:
            tree[i] += 1
            i += i & -i
    return count


@dataclass(frozen=True, slots=True)
class NodeCell:
    """Where a step's label sits in a drawing, in cells."""

    y: int
    x: int
    width: int


@dataclass(frozen=True, slots=True)
class Drawing:
    """A small DAG drawn on a character grid, one column per layer."""

    lines: tuple[str, ...]
    """The picture, right-stripped, drawn with the states it was given."""
    cells: Mapping[str, NodeCell]
    """Where each step's label is, so a renderer can restyle or redraw it alone."""
    layers: tuple[tuple[str, ...], ...]
    """Step ids of each column, top to bottom (may differ from `Layout.layers`: the
    drawing also orders the slots long edges pass through)."""
    width: int
    height: int

    def node_at(self, x: int, y: int) -> str | None:
        """The step whose label covers cell (x, y), if any."""
        for step_id, cell in self.cells.items():
            if cell.y == y and cell.x <= x < cell.x + cell.width:
                return step_id
        return None


def draw(result: Layout, states: Mapping[str, str] | None = None, *, glyphs: GlyphSet = UNICODE,
         max_label: int = MAX_LABEL, sweeps: int = 8) -> Drawing:
    """Draw ``result`` as text: node labels ``glyph id`` in columns, edges in box characters.

    How to read it: lines flow rightwards into arrow heads; lines that touch (┬ ┴ ├ ┤ and
    corners) are one bundle in which every source on the left reaches every arrow on the
    right; ``┼`` is a crossing, never a join. To keep that true, each channel between two
    columns must be a disjoint union of complete bipartite blocks; where it is not, a
    routing column is put between them with one slot per edge of the offending block, so that
    the left half fans out per source and the right half fans in per target.

    Costs grow with the number of slots (edges times the layers they span), so this is for
    graphs of tens of steps, not thousands.
    """
    states = states or {}
    number = {step_id: v for v, step_id in enumerate(result.ids)}
    real = len(result.ids)
    layers = [[number[s] for s in layer] for layer in result.layers]
    ups: list[list[int]] = [[] for _ in range(real)]
    downs: list[list[int]] = [[] for _ in range(real)]
    for step_id in result.ids:
        v = number[step_id]
        for need in result.needs[step_id]:
            prev = number[need]
            for k in range(result.position[need][0] + 1, result.position[step_id][0]):
                prev = _slot(layers[k], ups, downs, [prev])
            ups[v].append(prev)
            downs[prev].append(v)

    def score(now: list[list[int]]) -> int:
        row = {v: i for layer in now for i, v in enumerate(layer)}
        return sum(_channel_crossings(now[k], downs, row.__getitem__) for k in range(len(now) - 1))

    _barycenter(layers, ups, downs, sweeps, score)
    columns = _with_routing(layers, ups, downs)
    y = _rows(columns, ups, downs)
    height = max(y, default=-1) + 1
    labels = {v: node_label(result.ids[v], states.get(result.ids[v], "pending"), glyphs, max_label)
              for v in range(real)}
    widths = [max((cell_width(labels[v]) for v in layer if v < real), default=0) + 1 for layer in columns]
    rows: list[list[str]] = [[] for _ in range(height)]
    cells: dict[str, NodeCell] = {}
    x = 0
    for k, layer in enumerate(columns):
        column = [" " * widths[k]] * height
        for v in layer:
            if v >= real:
                column[y[v]] = glyphs.box[E | W] * widths[k]
                continue
            text = labels[v]
            used = cell_width(text)
            fill = glyphs.box[E | W] if downs[v] else " "
            column[y[v]] = text + " " + fill * (widths[k] - used - 1)
            cells[result.ids[v]] = NodeCell(y[v], x, used)
        for r in range(height):
            rows[r].append(column[r])
        x += widths[k]
        if k + 1 < len(columns):
            channel = _channel(layer, downs, y, real, height, glyphs)
            for r in range(height):
                rows[r].append(channel[r])
            x += len(channel[0]) if channel else 0
    lines = tuple("".join(parts).rstrip() for parts in rows)
    return Drawing(
        lines=lines,
        cells=cells,
        layers=tuple(tuple(result.ids[v] for v in layer if v < real) for layer in columns
                     if any(v < real for v in layer)),
        width=max((cell_width(line) for line in lines), default=0),
        height=height,
    )


def _slot(layer: list[int], ups: list[list[int]], downs: list[list[int]], sources: list[int]) -> int:
    """A new dummy node in ``layer`` fed by ``sources``: a place for edges to pass."""
    slot = len(ups)
    layer.append(slot)
    ups.append(list(sources))
    downs.append([])
    for u in sources:
        downs[u].append(slot)
    return slot


def _blocks(left: Sequence[int], downs: Sequence[Sequence[int]]) -> list[tuple[list[int], list[int]]]:
    """Connected components of the edges leaving ``left``, as (sources, targets) in order."""
    owner: dict[int, int] = {}
    blocks: list[tuple[list[int], list[int]]] = []
    for u in left:
        if not downs[u]:
            continue
        found = sorted({owner[v] for v in downs[u] if v in owner})
        if not found:
            owner_id = len(blocks)
            blocks.append(([], []))
        else:
            owner_id = found[0]
            for other in found[1:]:  # merge later blocks into the first
                sources, targets = blocks[other]
                blocks[owner_id][0].extend(sources)
                blocks[owner_id][1].extend(targets)
                for v in targets:
                    owner[v] = owner_id
                blocks[other] = ([], [])
        blocks[owner_id][0].append(u)
        for v in downs[u]:
            if v not in owner:
                owner[v] = owner_id
                blocks[owner_id][1].append(v)
    return [block for block in blocks if block[0]]


def _with_routing(layers: list[list[int]], ups: list[list[int]], downs: list[list[int]]) -> list[list[int]]:
    """The columns to draw: ``layers``, plus a routing column after any channel holding a
    block that is not complete (some source misses some target of its block).

    In a routing column a complete block passes through one shared slot and an incomplete
    one through a slot per edge, so both of the channels it makes are unions of complete
    blocks. Slots are ordered by their source, then their target: no crossing on the left.
    """
    columns: list[list[int]] = []
    for k, layer in enumerate(layers):
        columns.append(layer)
        if k + 1 == len(layers):
            break
        blocks = _blocks(layer, downs)
        if all(sum(len(downs[u]) for u in sources) == len(sources) * len(targets) for sources, targets in blocks):
            continue
        left = {u: i for i, u in enumerate(layer)}
        right = {v: i for i, v in enumerate(layers[k + 1])}
        routing: list[int] = []
        order: dict[int, tuple[int, int]] = {}
        for sources, targets in blocks:
            edges = [(u, v) for u in sources for v in downs[u]]
            for u in sources:
                downs[u] = []
            for v in targets:
                ups[v] = []
            if len(edges) == len(sources) * len(targets):
                hub = _slot(routing, ups, downs, sources)
                downs[hub] = list(targets)
                for v in targets:
                    ups[v].append(hub)
                order[hub] = (min(left[u] for u in sources), min(right[v] for v in targets))
                continue
            for u, v in edges:
                slot = _slot(routing, ups, downs, [u])
                downs[slot] = [v]
                ups[v].append(slot)
                order[slot] = (left[u], right[v])
        routing.sort(key=order.__getitem__)
        columns.append(routing)
    return columns


def _rows(columns: list[list[int]], ups: Sequence[Sequence[int]], downs: Sequence[Sequence[int]]) -> list[int]:
    """A row per node, column by column, top to bottom, each below the previous one.

    A node may share its row with the node to its left only where the shared line cannot
    mislead: the left node has no outgoing edge, or the left node feeds it, it is the first
    target placed of that block, and the row is the block's topmost source row (so the
    block's track turns down from the shared line in a ┬ instead of crossing it in a ┼).
    Otherwise it takes the next row down where no left node sends edges.
    """
    y = [0] * len(ups)
    for row, v in enumerate(columns[0] if columns else []):
        y[v] = row
    for k in range(1, len(columns)):
        left = {y[u]: u for u in columns[k - 1]}
        started: set[tuple[int, ...]] = set()
        lowest = 0
        for v in columns[k]:
            sources = tuple(sorted(ups[v]))  # in a union of complete blocks, this names v's block
            top = min(y[u] for u in sources) if sources else -1
            row = top if top >= lowest and sources not in started else None
            if row is None:
                row = lowest
                while row in left and downs[left[row]]:
                    row += 1
            started.add(sources)
            y[v] = row
            lowest = row + 1
    return y


def _channel(layer: Sequence[int], downs: Sequence[Sequence[int]], y: Sequence[int], real: int,
             height: int, glyphs: GlyphSet) -> list[str]:
    """The cells between a column and the next, one string per row.

    Each block (sources with the same targets) that leaves its rows gets a vertical track;
    blocks share a track only where their row spans do not meet (first fit by top row: the
    fewest tracks for intervals). Layout of a row: lead cell, then a track cell and a spacer
    per track, arrow cell, pad.
    """
    bundles: dict[tuple[int, ...], list[int]] = {}
    for u in layer:
        rows = tuple(sorted({y[v] for v in downs[u]}))
        if any(r != y[u] for r in rows):
            bundles.setdefault(rows, []).append(u)
    spans = sorted((min(rows[0], *(y[u] for u in sources)), max(rows[-1], *(y[u] for u in sources)), rows)
                   for rows, sources in bundles.items())
    track_of: dict[int, int] = {}
    bottoms: list[int] = []
    for top, bottom, rows in spans:
        for i, last in enumerate(bottoms):
            if last < top:
                bottoms[i] = bottom
                break
        else:
            i = len(bottoms)
            bottoms.append(bottom)
        for u in bundles[rows]:
            track_of[u] = i
    tracks = max(1, len(bottoms))
    width = 3 + 2 * tracks
    arrow_x, pad_x = width - 2, width - 1
    bits = [[0] * width for _ in range(height)]
    arrows: set[int] = set()

    def horizontal(r: int, x0: int, x1: int) -> None:
        for x in range(x0, x1 + 1):
            if x > x0:
                bits[r][x] |= W
            if x < x1:
                bits[r][x] |= E

    def vertical(x: int, r0: int, r1: int) -> None:
        for r in range(r0, r1 + 1):
            if r > r0:
                bits[r][x] |= N
            if r < r1:
                bits[r][x] |= S

    for u in layer:
        source = y[u]
        track = 1 + 2 * track_of[u] if u in track_of else None
        if track is not None:
            horizontal(source, 0, track)
        for v in downs[u]:
            target = y[v]
            end = arrow_x if v < real else pad_x
            if v < real:
                arrows.add(target)
            if target == source:
                horizontal(source, 0, end)
            else:
                assert track is not None
                vertical(track, min(source, target), max(source, target))
                horizontal(target, track, end)
    out = []
    for r in range(height):
        chars = [glyphs.box[b] for b in bits[r]]
        if r in arrows:
            chars[arrow_x] = glyphs.arrow
        out.append("".join(chars))
    return out


def tree_parents(result: Layout) -> dict[str, str | None]:
    """For a tree view of the DAG: the parent under which each step is shown in full.

    A depth-first walk from the roots (file order), children being the steps that need a
    step: the first parent a step is reached through is its home, and elsewhere it appears
    as a back-reference, as networkx's ``write_network_text`` does. Computed once, O(V + E),
    so a tree can add children lazily and still agree with a full walk.
    """
    home: dict[str, str | None] = {}
    for root in result.ids:
        if result.needs[root]:
            continue
        home[root] = None
        path = [root]
        pending = [iter(result.dependents[root])]
        while pending:
            child = next(pending[-1], None)
            if child is None:
                pending.pop()
                path.pop()
            elif child not in home:
                home[child] = path[-1]
                path.append(child)
                pending.append(iter(result.dependents[child]))
    return home
