"""DagView: a run's DAG as a drawn picture or as a per-layer summary, drawn line by line.

Two modes, chosen when the graph is set:

- **graph**: the layered drawing of `tui.dag_layout.draw`, one column per layer, for graphs
  that stay legible: at most `GRAPH_MAX_STEPS` steps and a drawing of at most
  `GRAPH_MAX_WIDTH` x `GRAPH_MAX_HEIGHT` cells. A wider picture would need more horizontal
  scrolling than reading a list does.
- **layers**: one line per layer with its counts by state, each layer expandable into one
  line per step (glyph, state word, id). Lines are computed only when on screen, so a layer
  of 5,000 steps costs what is visible.

Both are a `ScrollView` on the Line API: no child widget per node, strips cached per line,
and `update_states` repaints only the lines whose step or layer count changed. State always
shows as a glyph (and in the layer list a word); colour is an extra, and the cursor is
reverse video, so the view reads the same under ``NO_COLOR``.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui import dag_layout
from tui.dag_layers import HEADER, PROBLEM_WIDTH, WORD_WIDTH, LayerLines
from tui.dag_layout import ASCII, UNICODE, Drawing, GlyphSet, Layout, Steps
from tui.format import COLOURS

GRAPH_MAX_STEPS = 60
GRAPH_MAX_WIDTH = 160
GRAPH_MAX_HEIGHT = 60
"""Graph mode only for a picture of at most 60 steps within 160 x 60 cells (two 80-column
screens across, a few panes down); past that, scrolling a picture reads worse than a list."""


def terminal_is_utf8(environ: Mapping[str, str] | None = None) -> bool:
    """Whether box-drawing characters and glyphs can be written, going by the locale the user
    set: the first of LC_ALL, LC_CTYPE, LANG that is set must name UTF-8. Python sets
    LC_CTYPE=C.UTF-8 itself when the locale is C (PEP 538), which says nothing about the
    terminal, so that one is skipped. No locale at all counts as UTF-8, as terminals are now."""
    environ = os.environ if environ is None else environ
    declared = environ.get("LANG", "")
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = environ.get(name)
        if not value:
            continue
        coerced = name == "LC_CTYPE" and value == "C.UTF-8" and declared in ("", "C", "POSIX")
        if not coerced:
            return "utf-8" in value.lower() or "utf8" in value.lower()
    return True


class DagView(ScrollView, can_focus=True):
    """The steps of one run as a layered graph or as layers of steps; keyboard first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, id="dag.cursor_up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="dag.cursor_down"),
        Binding("left,h", "cursor_left", "Left / collapse", show=False, id="dag.cursor_left",
                tooltip="Graph: the previous layer. Layers: collapse, or go to the layer line."),
        Binding("right,l", "cursor_right", "Right / expand", show=False, id="dag.cursor_right",
                tooltip="Graph: the next layer. Layers: expand, or go to the first step."),
        Binding("home,g", "cursor_first", "First", show=False, id="dag.cursor_first"),
        Binding("end,G", "cursor_last", "Last", show=False, id="dag.cursor_last"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="dag.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="dag.page_down"),
        Binding("enter", "select", "Open step", id="dag.select",
                tooltip="Open the step under the cursor, or expand/collapse a layer."),
        Binding("space", "toggle_layer", "Expand", id="dag.toggle_layer",
                tooltip="Expand or collapse the layer under the cursor."),
        Binding("v", "toggle_mode", "Graph/layers", id="dag.toggle_mode",
                tooltip="Switch between the drawn graph and the list of layers."),
    ]

    DEFAULT_CSS = """
    DagView {
        height: 1fr;
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 1;
        & > .dag-view--cursor { text-style: reverse bold; }
        & > .dag-view--edge { color: $text-muted; }
        & > .dag-view--layer { text-style: bold; }
        & > .dag-view--empty { color: $text-muted; text-style: italic; }
        & > .dag-view--overflow { color: $accent; text-style: bold; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"dag-view--cursor", "dag-view--edge", "dag-view--layer",
                                             "dag-view--empty", "dag-view--overflow"}

    mode: var[str] = var("layers", bindings=True)
    """"graph" or "layers". Set by `set_graph`; the user toggles it with `v` when the graph
    can be drawn. Asking for "graph" when it cannot be drawn keeps "layers"."""

    class StepHighlighted(Message):
        """The cursor moved onto step ``step_id``. A newer one replaces a queued one, so
        holding an arrow key does not queue a message per step passed."""

        def __init__(self, dag_view: DagView, step_id: str) -> None:
            super().__init__()
            self.dag_view = dag_view
            self.step_id = step_id

        @property
        def control(self) -> DagView:
            return self.dag_view

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, DagView.StepHighlighted) and message.dag_view is self.dag_view

    class StepSelected(Message):
        """Enter (or a click) on step ``step_id``: the user wants to open it."""

        def __init__(self, dag_view: DagView, step_id: str) -> None:
            super().__init__()
            self.dag_view = dag_view
            self.step_id = step_id

        @property
        def control(self) -> DagView:
            return self.dag_view

    def __init__(self, *, ascii_only: bool | None = None, name: str | None = None, id: str | None = None,
                 classes: str | None = None, disabled: bool = False) -> None:
        """``ascii_only`` picks the ASCII glyph set; ``None`` asks `terminal_is_utf8`."""
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.glyphs: GlyphSet = ASCII if (not terminal_is_utf8() if ascii_only is None else ascii_only) else UNICODE
        self._layout: Layout | None = None
        self._drawing: Drawing | None = None
        self._rows = LayerLines(dag_layout.layout(()), {}, self.glyphs)
        self._line_nodes: dict[int, list[str]] = {}
        self._lines = 0
        self._width = 0
        self._cursor_step: str | None = None
        self._cursor_item: tuple[int, int] = (0, HEADER)
        self._cache: LRUCache[int, Strip] = LRUCache(1024)
        self.problem: str | None = None
        """Why the last graph could not be laid out, if it could not."""

    # ----------------------------------------------------------------- data in

    def set_graph(self, steps: Steps, states: Mapping[str, str]) -> None:
        """Show a new graph: lay it out, pick the mode, put the cursor on the first step (or on
        the same step, if it is still there). Steps that are no DAG (a cycle, an unknown need)
        are not drawn: the view says why instead, and the dashboard keeps running. Setting
        the same graph again keeps the mode, the cursor and the expanded layers."""
        try:
            # The sweeps that order each layer against crossings serve the drawing only; a graph
            # too big to draw is listed by layers in file order, and 10,000 steps lay out in half
            # the time.
            result = dag_layout.layout(steps, sweeps=4 if len(steps) <= GRAPH_MAX_STEPS else 0)
            self.problem = None
        except dag_layout.DagError as error:
            result = dag_layout.layout(())
            self.problem = f"cannot lay out this run: {error}"
        same = self._layout is not None and self._layout.layers == result.layers
        self._layout = result
        self._rows = LayerLines(result, states, self.glyphs, self.problem, self._rows.expanded if same else None)
        if not same:
            self._cursor_item = (0, HEADER)
        self._drawing = self._draw(result)
        self._line_nodes = {}
        if self._drawing is not None:
            cells = self._drawing.cells
            for step_id in sorted(cells, key=lambda s: (cells[s].y, cells[s].x)):
                self._line_nodes.setdefault(cells[step_id].y, []).append(step_id)
        keep = self._cursor_step if self._cursor_step in self._rows.layer_of else None
        self._cursor_step = keep or (result.layers[0][0] if result.layers else None)
        if not same or self._drawing is None:
            self.set_reactive(DagView.mode, "graph" if self._drawing is not None else "layers")
        self.refresh_bindings()
        self._enter_mode()

    def update_states(self, changed: Mapping[str, str]) -> None:
        """Apply new states. O(len(changed)): counts move, and only the lines showing a
        changed step or its layer's counts are repainted."""
        if self._layout is None:
            return
        dirty: set[int] = set()
        layers: set[int] = set()
        for step_id, state in changed.items():
            k = self._rows.set_state(step_id, state)
            if k is None:
                continue
            if self.mode == "graph":
                assert self._drawing is not None
                dirty.add(self._drawing.cells[step_id].y)
            else:
                layers.add(k)
                if self._rows.expanded[k]:
                    dirty.add(self._rows.line_of((k, self._rows.index[step_id])))
        if layers:
            if self._rows.widen(layers):
                self._width = self._rows.width
                self.virtual_size = Size(self._width, self._lines)
            dirty.update(self._rows.starts[k] for k in layers)
        for y in dirty:
            self._cache.discard(y)
            self.refresh_line(y)

    @property
    def cursor_step(self) -> str | None:
        """The step under the cursor (None on a layer line or with no graph)."""
        return self._rows.step_at(self._cursor_item) if self.mode == "layers" else self._cursor_step

    @property
    def can_draw(self) -> bool:
        """Whether the current graph is small enough for graph mode."""
        return self._drawing is not None

    def _draw(self, result: Layout) -> Drawing | None:
        if not result.ids or len(result.ids) > GRAPH_MAX_STEPS:
            return None
        drawing = dag_layout.draw(result, self._rows.states, glyphs=self.glyphs)
        if drawing.width > GRAPH_MAX_WIDTH or drawing.height > GRAPH_MAX_HEIGHT:
            return None
        return drawing

    # ------------------------------------------------------------------- modes

    def validate_mode(self, mode: str) -> str:
        return "graph" if mode == "graph" and self._drawing is not None else "layers"

    def watch_mode(self, old: str, new: str) -> None:
        if old == "graph" and new == "layers" and self._cursor_step is not None:
            k = self._rows.layer_of[self._cursor_step]
            self._cursor_item = (k, self._rows.index[self._cursor_step])
            if self._layout is not None and len(self._layout.ids) <= GRAPH_MAX_STEPS:
                self._rows.expanded = [True] * len(self._rows.expanded)
            else:
                self._rows.expanded[k] = True
        elif old == "layers" and new == "graph":
            self._cursor_step = self._rows.step_at(self._cursor_item) or self._first_of_layer(self._cursor_item[0])
        self._enter_mode()

    def _first_of_layer(self, k: int) -> str | None:
        if self._drawing is not None and k < len(self._drawing.layers):
            return self._drawing.layers[k][0]
        return None

    def _enter_mode(self) -> None:
        """Recompute the line model of the current mode, then repaint everything."""
        self._cache.clear()
        if self.mode == "graph":
            assert self._drawing is not None
            self._lines, self._width = self._drawing.height, self._drawing.width
        else:
            self._rows.restack()
            self._lines, self._width = self._rows.lines, self._rows.width
        self.virtual_size = Size(self._width, self._lines)
        self.refresh()
        self._show_cursor()

    # --------------------------------------------------------------- rendering

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        line = scroll_y + y
        style = self.rich_style
        if line >= self._lines:
            return Strip.blank(self.size.width, style)
        strip = self._cache.get(line)
        if strip is None:
            strip = self._graph_strip(line) if self.mode == "graph" else self._layers_strip(line)
            self._cache[line] = strip
        return self._marked(strip, scroll_x, self.scrollable_content_region.width, style).apply_offsets(scroll_x, line)

    def _marked(self, strip: Strip, left: int, width: int, style: Style) -> Strip:
        """The part of ``strip`` from ``left`` that fits ``width``, with an overflow mark (the
        glyph set's ellipsis) in the first or last cell when something is drawn beyond that
        side: a step cut off at the pane's edge says so, whatever the scrollbars show."""
        shown = strip.crop_extend(left, left + width, style)
        if width < 3:
            return shown
        mark = Segment(self.glyphs.ellipsis, style + self.get_component_rich_style("dag-view--overflow", partial=True))
        right = left + width
        if strip.cell_length > right and strip.crop(right, strip.cell_length).text.strip():
            shown = Strip.join([shown.crop(0, width - 1), Strip([mark], 1)])
        if left > 0 and strip.crop(0, left).text.strip():
            shown = Strip.join([Strip([mark], 1), shown.crop(1, width)])
        return shown

    def _state_style(self, state: str) -> Style:
        colour = COLOURS.get(state)
        return Style(color=colour) if colour else Style()

    def _cursor_style(self) -> Style:
        return self.get_component_rich_style("dag-view--cursor", partial=True)

    def _graph_strip(self, y: int) -> Strip:
        """A drawing line: edges in the edge style, each node label redrawn from its current
        state (the drawing's own text carries the states it was drawn with)."""
        assert self._drawing is not None
        base = self.rich_style
        edge = base + self.get_component_rich_style("dag-view--edge", partial=True)
        line = Strip([Segment(self._drawing.lines[y], edge)])
        nodes = self._line_nodes.get(y)
        if not nodes:
            return line
        cells = self._drawing.cells
        cuts: list[int] = []
        for step_id in nodes:
            cuts += [cells[step_id].x, cells[step_id].x + cells[step_id].width]
        pieces = line.divide([*cuts, line.cell_length])
        segments: list[Segment] = list(pieces[0])
        for n, step_id in enumerate(nodes):
            segments += self._label_segments(step_id, base, step_id == self._cursor_step)
            segments += list(pieces[2 * n + 2]) if 2 * n + 2 < len(pieces) else []
        return Strip(segments)

    def _label_segments(self, step_id: str, base: Style, cursor: bool) -> list[Segment]:
        state = self._rows.states[step_id]
        text = dag_layout.truncate(step_id, dag_layout.MAX_LABEL, self.glyphs.ellipsis)
        extra = self._cursor_style() if cursor else Style()
        return [Segment(self.glyphs.state(state), base + self._state_style(state) + extra),
                Segment(" " + text, base + extra)]

    def _layers_strip(self, y: int) -> Strip:
        base = self.rich_style
        if self._layout is None or not self._layout.ids:
            empty = base + self.get_component_rich_style("dag-view--empty", partial=True)
            notes = textwrap.wrap(self.problem, PROBLEM_WIDTH) if self.problem else ["no steps"]
            return Strip([Segment(notes[y] if y < len(notes) else "", empty)])
        k, i = self._rows.item_at(y)
        cursor = self._cursor_item == (k, i)
        extra = self._cursor_style() if cursor else Style()
        if i == HEADER:
            return self._header_strip(k, base + self.get_component_rich_style("dag-view--layer", partial=True), extra)
        step_id = self._layout.layers[k][i]
        state = self._rows.states[step_id]
        return Strip([
            Segment("    ", base),
            Segment(self.glyphs.state(state), base + self._state_style(state) + extra),
            Segment(f" {state.ljust(WORD_WIDTH)} {step_id}", base + extra),
        ])

    def _header_strip(self, k: int, style: Style, extra: Style) -> Strip:
        """A layer line; each count's glyph in its state's colour."""
        head, counts = self._rows.header_parts(k)
        segments = [Segment(head, style + extra)]
        for n, (state, count) in enumerate(counts):
            segments.append(Segment(self.glyphs.state(state), style + self._state_style(state) + extra))
            segments.append(Segment(f" {count}" + (" " if n + 1 < len(counts) else ""), style + extra))
        return Strip(segments)

    # ------------------------------------------------------------------ cursor

    def _cursor_region(self) -> Region | None:
        if self.mode == "graph":
            if self._drawing is None or self._cursor_step is None:
                return None
            cell = self._drawing.cells[self._cursor_step]
            return Region(cell.x, cell.y, cell.width, 1)
        if self._layout is None or not self._layout.ids:
            return None
        return Region(0, self._rows.line_of(self._cursor_item), 1, 1)

    def _show_cursor(self) -> None:
        region = self._cursor_region()
        if region is not None and self.is_mounted:
            self.scroll_to_region(region, animate=False, force=True, immediate=True,
                                  x_axis=self.mode == "graph")

    def _move_to_step(self, step_id: str | None) -> None:
        if step_id is None or step_id == self._cursor_step:
            return
        before = self._cursor_region()
        self._cursor_step = step_id
        self._repaint_cursor(before)
        self.post_message(self.StepHighlighted(self, step_id))

    def _move_to_item(self, item: tuple[int, int]) -> None:
        if item == self._cursor_item:
            return
        before = self._cursor_region()
        self._cursor_item = item
        self._repaint_cursor(before)
        if item[1] != HEADER and self._layout is not None:
            self.post_message(self.StepHighlighted(self, self._layout.layers[item[0]][item[1]]))

    def _repaint_cursor(self, before: Region | None) -> None:
        after = self._cursor_region()
        for region in (before, after):
            if region is not None:
                self._cache.discard(region.y)
                self.refresh_line(region.y)
        self._show_cursor()

    def _nearest(self, k: int, y: int) -> str:
        """The step of drawn layer ``k`` closest to row ``y`` (the upper one on a tie)."""
        assert self._drawing is not None
        cells = self._drawing.cells
        return min(self._drawing.layers[k], key=lambda s: (abs(cells[s].y - y), cells[s].y))

    def _graph_step(self, across: int, along: int) -> None:
        """Graph mode: move ``across`` layers (to the step nearest the same row) or ``along``
        the current layer."""
        if self._drawing is None or self._cursor_step is None:
            return
        k = self._rows.layer_of[self._cursor_step]
        if across:
            if 0 <= k + across < len(self._drawing.layers):
                self._move_to_step(self._nearest(k + across, self._drawing.cells[self._cursor_step].y))
            return
        layer = self._drawing.layers[k]
        i = layer.index(self._cursor_step) + along
        self._move_to_step(layer[max(0, min(len(layer) - 1, i))])

    def _step_lines(self, delta: int) -> None:
        if self._layout is None or not self._layout.ids:
            return
        line = max(0, min(self._lines - 1, self._rows.line_of(self._cursor_item) + delta))
        self._move_to_item(self._rows.item_at(line))

    def _set_expanded(self, k: int, expanded: bool) -> None:
        if self._rows.expanded[k] == expanded:
            return
        self._rows.expanded[k] = expanded
        if not expanded and self._cursor_item[0] == k:
            self._cursor_item = (k, HEADER)
        self._enter_mode()

    # ------------------------------------------------------------------ events

    async def _on_click(self, event: events.Click) -> None:
        """A click moves the cursor there and acts as Enter; the keyboard does it all too."""
        offset = event.get_content_offset(self)
        if offset is None or self._layout is None:
            return
        x, y = offset.x + self.scroll_offset.x, offset.y + self.scroll_offset.y
        if self.mode == "graph":
            assert self._drawing is not None
            step_id = self._drawing.node_at(x, y)
            if step_id is not None:
                self._move_to_step(step_id)
                self.action_select()
        elif y < self._lines and self._layout.ids:
            self._move_to_item(self._rows.item_at(y))
            self.action_select()

    # ----------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_mode":
            return True if self._drawing is not None else None
        if action == "toggle_layer":
            return True if self.mode == "layers" else None
        return True

    def action_cursor_up(self) -> None:
        if self.mode == "layers":
            self._step_lines(-1)
        else:
            self._graph_step(0, -1)

    def action_cursor_down(self) -> None:
        if self.mode == "layers":
            self._step_lines(1)
        else:
            self._graph_step(0, 1)

    def action_cursor_left(self) -> None:
        if self.mode == "graph":
            self._graph_step(-1, 0)
        elif self._layout is not None and self._layout.ids:
            k, i = self._cursor_item
            if i != HEADER:
                self._move_to_item((k, HEADER))
            else:
                self._set_expanded(k, False)

    def action_cursor_right(self) -> None:
        if self.mode == "graph":
            self._graph_step(1, 0)
        elif self._layout is not None and self._layout.ids:
            k, i = self._cursor_item
            if i == HEADER and self._rows.expanded[k]:
                self._move_to_item((k, 0))
            elif i == HEADER:
                self._set_expanded(k, True)

    def action_cursor_first(self) -> None:
        if self.mode == "graph":
            self._move_to_step(self._drawing.layers[0][0] if self._drawing else None)
        elif self._layout is not None and self._layout.ids:
            self._move_to_item((0, HEADER))

    def action_cursor_last(self) -> None:
        if self.mode == "graph":
            self._move_to_step(self._drawing.layers[-1][-1] if self._drawing else None)
        elif self._layout is not None and self._layout.ids:
            self._move_to_item(self._rows.item_at(self._lines - 1))

    def action_page(self, direction: int) -> None:
        if self.mode == "layers":
            self._step_lines(direction * max(1, self.scrollable_content_region.height - 1))
        else:
            self.scroll_relative(y=direction * max(1, self.scrollable_content_region.height - 1), animate=False)

    def action_select(self) -> None:
        if self.mode == "graph":
            if self._cursor_step is not None:
                self.post_message(self.StepSelected(self, self._cursor_step))
            return
        if self._layout is None or not self._layout.ids:
            return
        k, i = self._cursor_item
        if i == HEADER:
            self._set_expanded(k, not self._rows.expanded[k])
        else:
            self.post_message(self.StepSelected(self, self._layout.layers[k][i]))

    def action_toggle_layer(self) -> None:
        if self.mode == "layers" and self._layout is not None and self._layout.ids:
            k = self._cursor_item[0]
            self._set_expanded(k, not self._rows.expanded[k])

    def action_toggle_mode(self) -> None:
        self.mode = "layers" if self.mode == "graph" else "graph"
