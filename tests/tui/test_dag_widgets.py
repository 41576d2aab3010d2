"""DagView and DagTree in a small host app: keys, messages, repaints and snapshots.

The host puts the widget in a 50x12 pane at the top left of an 80x24 terminal, the room the
dashboard gives it, with the footer listing its bindings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import Container
from textual.filter import NoColor
from textual.message import Message
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Footer

from tests.tui.test_dag_layout import random_steps
from tui import dag_layout
from tui.widgets.dag_tree import DagTree
from tui.widgets.dag_view import DagView, terminal_is_utf8

SMALL = [
    ("fetch", []),
    ("lint", ["fetch"]),
    ("build-a", ["fetch"]),
    ("build-b", ["fetch"]),
    ("test", ["build-a", "build-b", "lint"]),
    ("docs", []),
    ("package", ["test", "docs"]),
    ("deploy", ["package"]),
]
SMALL_STATES = {"fetch": "succeeded", "lint": "failed", "build-a": "succeeded", "build-b": "running",
                "docs": "retrying"}


def big_graph() -> tuple[list[tuple[str, list[str]]], dict[str, str]]:
    """10,000 steps, about 20,000 edges, states fixed by position in the file."""
    steps = random_steps(10_000, seed=7)
    states = {}
    for i, (step, _) in enumerate(steps):
        states[step] = ("failed" if i % 97 == 0 else "running" if i % 13 == 0 else "succeeded" if i < 6_000
                        else "pending")
    return steps, states


class Host(App[None]):
    """One DAG widget in a pane, recording the messages it posts."""

    CSS = "#pane { width: 52; height: 14; border: round $accent; }"

    def __init__(self, widget: DagView | DagTree, steps: Any, states: Mapping[str, str]) -> None:
        super().__init__()
        self.widget = widget
        self.steps = steps
        self.states = states
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        with Container(id="pane"):
            yield self.widget
        yield Footer()

    def on_mount(self) -> None:
        self.widget.set_graph(self.steps, self.states)
        self.widget.focus()

    def on_dag_view_step_selected(self, message: DagView.StepSelected) -> None:
        self.messages.append(message)

    def on_dag_view_step_highlighted(self, message: DagView.StepHighlighted) -> None:
        self.messages.append(message)

    def on_dag_tree_step_selected(self, message: DagTree.StepSelected) -> None:
        self.messages.append(message)

    def selected(self) -> list[str]:
        return [m.step_id for m in self.messages if isinstance(m, DagView.StepSelected | DagTree.StepSelected)]

    def highlighted(self) -> list[str]:
        return [m.step_id for m in self.messages if isinstance(m, DagView.StepHighlighted)]


Scenario = Callable[[Host, Pilot[None]], Awaitable[None]]


def hosted(widget: Callable[[], DagView | DagTree], graph: Callable[[], tuple[Any, Mapping[str, str]]] | None = None,
           ) -> Callable[[Scenario], Callable[[], None]]:
    """Turn ``async def scenario(app, pilot)`` into a plain test run in a fresh `Host` (the
    tests here drive their own event loop, as the dashboard's do)."""

    def decorate(scenario: Scenario) -> Callable[[], None]:
        def test() -> None:
            steps, states = graph() if graph else (SMALL, SMALL_STATES)
            app = Host(widget(), steps, states)

            async def main() -> None:
                async with app.run_test(size=(80, 24)) as pilot:
                    await pilot.pause()
                    await scenario(app, pilot)

            asyncio.run(main())

        test.__name__ = scenario.__name__
        test.__doc__ = scenario.__doc__
        return test

    return decorate


def unicode_view() -> DagView:
    return DagView(ascii_only=False)


def unicode_tree() -> DagTree:
    return DagTree(ascii_only=False)


def line_text(widget: Widget, y: int) -> str:
    """Line ``y`` of the widget's content as drawn now (scroll position included)."""
    return widget.render_line(y).text.rstrip()


def screen_text(widget: Widget) -> list[str]:
    return [line_text(widget, y) for y in range(widget.size.height)]


def spy_on_repaints(view: DagView) -> list[int]:
    """The content lines ``view`` is asked to repaint from now on."""
    repainted: list[int] = []
    original = view.refresh_line

    def record(y: int) -> None:
        repainted.append(y)
        original(y)

    view.refresh_line = record  # type: ignore[method-assign]
    return repainted


# ------------------------------------------------------------------------------ graph mode


@hosted(unicode_view)
async def test_small_graph_opens_in_graph_mode_with_the_cursor_on_the_first_step(app: Host, pilot: Pilot[None]) -> None:
    view = app.widget
    assert isinstance(view, DagView)
    assert view.mode == "graph" and view.can_draw
    assert view.cursor_step == "fetch"
    assert screen_text(view)[0].startswith("✔ fetch ─┬")


@hosted(unicode_view)
async def test_graph_keys_move_between_and_within_layers_and_enter_selects(app: Host, pilot: Pilot[None]) -> None:
    view = app.widget
    assert isinstance(view, DagView)
    await pilot.press("right")
    assert view.cursor_step == "lint"
    await pilot.press("down", "j")
    assert view.cursor_step == "build-b"
    await pilot.press("k")
    assert view.cursor_step == "build-a"
    await pilot.press("l")
    assert view.cursor_step == "test"
    await pilot.press("h", "h")
    assert view.cursor_step == "fetch"
    await pilot.press("G")
    assert view.cursor_step == "deploy"
    await pilot.press("enter", "g")
    assert view.cursor_step == "fetch"
    await pilot.pause()
    assert app.selected() == ["deploy"]
    assert app.highlighted()[-1] == "fetch"


@hosted(unicode_view)
async def test_the_cursor_stays_in_view_in_a_narrow_pane(app: Host, pilot: Pilot[None]) -> None:
    view = app.widget
    assert isinstance(view, DagView) and view._drawing is not None
    await pilot.press("G")
    await pilot.pause()
    cell = view._drawing.cells["deploy"]
    left, top = view.scroll_offset
    region = view.scrollable_content_region
    assert left > 0
    assert left <= cell.x and cell.x + cell.width <= left + region.width
    assert top <= cell.y < top + region.height
    assert "deploy" in line_text(view, cell.y - top)


@hosted(unicode_view)
async def test_lines_cut_at_the_pane_edge_end_in_an_overflow_mark(app: Host, pilot: Pilot[None]) -> None:
    """The drawing (65 cells) is wider than the pane (50): each line that goes on past an edge
    says so in its last (or first) cell; a line that ends inside the pane is drawn as it is."""
    view = app.widget
    assert isinstance(view, DagView) and view._drawing is not None
    drawn = view._drawing.lines
    width = view.scrollable_content_region.width
    assert len(drawn[0]) > width > len(drawn[4].rstrip())
    first = view.render_line(0).text
    assert first == drawn[0][:width - 1] + "…"
    assert view.render_line(4).text.rstrip() == drawn[4].rstrip()
    await pilot.press("G")  # the cursor to deploy, at the far right: the view scrolls
    await pilot.pause()
    left = view.scroll_offset.x
    assert left > 0
    assert view.render_line(0).text == "…" + drawn[0][left + 1:left + width]
    assert view.render_line(1).text.startswith("…"), "docs is off to the left"


@hosted(lambda: DagView(ascii_only=True))
async def test_the_ascii_overflow_mark_is_ascii(app: Host, pilot: Pilot[None]) -> None:
    view = app.widget
    assert isinstance(view, DagView)
    assert view.render_line(0).text.endswith("~") and view.render_line(0).text.isascii()


@hosted(unicode_view)
async def test_the_cursor_is_reverse_video_so_it_shows_without_colour(app: Host, pilot: Pilot[None]) -> None:
    strip = app.widget.render_line(0)
    assert "".join(seg.text for seg in strip if seg.style and seg.style.reverse) == "✔ fetch"


@hosted(unicode_view)
async def test_update_states_repaints_only_the_changed_line(app: Host, pilot: Pilot[None]) -> None:
    view = app.widget
    assert isinstance(view, DagView) and view._drawing is not None
    y = view._drawing.cells["build-b"].y
    before = screen_text(view)
    repainted = spy_on_repaints(view)
    view.update_states({"build-b": "failed", "fetch": "succeeded"})
    await pilot.pause()
    after = screen_text(view)
    assert repainted == [y]
    assert "▶ build-b" in before[y] and "✘ build-b" in after[y]
    assert [line for n, line in enumerate(after) if n != y] == [line for n, line in enumerate(before) if n != y]


@hosted(unicode_view)
async def test_a_click_selects_the_step_under_it(app: Host, pilot: Pilot[None]) -> None:
    view = app.widget
    assert isinstance(view, DagView) and view._drawing is not None
    cell = view._drawing.cells["build-a"]
    await pilot.click(DagView, offset=(cell.x + 2, cell.y))
    await pilot.pause()
    assert view.cursor_step == "build-a"
    assert app.selected() == ["build-a"]


@hosted(lambda: DagView(ascii_only=True))
async def test_ascii_only_draws_in_ascii(app: Host, pilot: Pilot[None]) -> None:
    lines = screen_text(app.widget)
    assert all(ord(char) < 128 for line in lines for char in line)
    assert lines[0].startswith("v fetch -+")


# ----------------------------------------------------------------------------- layers mode


@hosted(unicode_view)
async def test_v_toggles_to_layers_and_back_keeping_the_step(app: Host, pilot: Pilot[None]) -> None:
    view = app.widget
    assert isinstance(view, DagView)
    await pilot.press("right", "down", "v")
    assert view.mode == "layers"
    assert view.cursor_step == "build-a"
    lines = [" ".join(line.split()) for line in screen_text(view)]
    assert lines[0] == "▾ L1 2 steps ✔ 1 ↻ 1"
    assert "✔ succeeded build-a" in lines
    await pilot.press("down", "v")
    assert view.mode == "graph"
    assert view.cursor_step == "build-b"


@hosted(unicode_view, big_graph)
async def test_a_big_graph_opens_in_layers_mode_collapsed_and_v_does_nothing(app: Host, pilot: Pilot[None]) -> None:
    view = app.widget
    assert isinstance(view, DagView) and view._layout is not None
    assert view.mode == "layers" and not view.can_draw
    assert view.virtual_size.height == len(view._layout.layers)
    await pilot.press("v")
    assert view.mode == "layers"
    first = " ".join(screen_text(view)[0].split())
    assert first.startswith("▸ L1 10 steps ✔")


@hosted(unicode_view, big_graph)
async def test_a_graph_too_big_to_draw_lists_each_layer_in_file_order(app: Host, pilot: Pilot[None]) -> None:
    """No sweeps against crossings for a list (they serve the drawing, and cost half the
    layout of 10,000 steps): each layer's steps in the order of the file."""
    view = app.widget
    assert isinstance(view, DagView) and view._layout is not None
    order = {step: n for n, (step, _) in enumerate(app.steps)}
    assert all(list(layer) == sorted(layer, key=order.__getitem__) for layer in view._layout.layers)
    await pilot.press("down", "enter")
    assert [line.split()[-1] for line in screen_text(view)[2:6]] == list(view._layout.layers[1][:4])


def tangled_graph() -> tuple[list[tuple[str, list[str]]], dict[str, str]]:
    """16 steps whose file order the sweeps against crossings change; drawable."""
    steps = random_steps(16, seed=2)
    return steps, dict.fromkeys((step for step, _ in steps), "pending")


@hosted(unicode_view, tangled_graph)
async def test_a_graph_drawn_keeps_its_layers_ordered_against_crossings(app: Host, pilot: Pilot[None]) -> None:
    view = app.widget
    assert isinstance(view, DagView) and view._layout is not None and view.can_draw
    assert view._layout.layers == dag_layout.layout(app.steps).layers  # the sweeps ran
    assert view._layout.layers != dag_layout.layout(app.steps, sweeps=0).layers


@hosted(unicode_view, big_graph)
async def test_layers_expand_collapse_and_select(app: Host, pilot: Pilot[None]) -> None:
    view = app.widget
    assert isinstance(view, DagView) and view._layout is not None
    layers = len(view._layout.layers)
    layer_one = view._layout.layers[0]
    await pilot.press("enter")
    assert view.virtual_size.height == layers + len(layer_one)
    assert screen_text(view)[0].startswith("▾ L1")
    await pilot.press("down", "down")
    assert view.cursor_step == layer_one[1]
    await pilot.press("enter")
    await pilot.pause()
    assert app.selected() == [layer_one[1]]
    await pilot.press("left")
    assert view.cursor_step is None
    await pilot.press("left")
    assert view.virtual_size.height == layers
    await pilot.press("right", "right")
    assert view.cursor_step == layer_one[0]
    await pilot.press("space")
    assert view.cursor_step is None and view.virtual_size.height == layers
    await pilot.press("down", "space")
    assert screen_text(view)[1].startswith("▾ L2")


@hosted(unicode_view, big_graph)
async def test_setting_the_same_graph_again_keeps_layers_open_and_the_cursor(app: Host, pilot: Pilot[None]) -> None:
    view = app.widget
    assert isinstance(view, DagView) and view._layout is not None
    await pilot.press("enter", "down")
    step = view.cursor_step
    view.set_graph(app.steps, {**app.states, step: "skipped"})
    await pilot.pause()
    assert view.cursor_step == step
    assert screen_text(view)[0].startswith("▾ L1")
    assert "↷ 1" in screen_text(view)[0]


def one_big_layer() -> tuple[Any, Mapping[str, str]]:
    return [("root", [])] + [(f"leaf{i:04d}", ["root"]) for i in range(5_000)], {}


@hosted(unicode_view, one_big_layer)
async def test_a_big_layer_renders_only_what_is_visible(app: Host, pilot: Pilot[None]) -> None:
    view = app.widget
    assert isinstance(view, DagView)
    await pilot.press("down", "enter", "end")
    await pilot.pause()
    assert view.cursor_step == "leaf4999"
    assert len(view._cache) <= 2 * view.size.height + 2


@hosted(unicode_view, big_graph)
async def test_layers_update_states_moves_counts_and_repaints_two_lines(app: Host, pilot: Pilot[None]) -> None:
    view = app.widget
    assert isinstance(view, DagView) and view._layout is not None
    await pilot.press("enter")
    step = view._layout.layers[0][2]
    before = line_text(view, 0)
    repainted = spy_on_repaints(view)
    view.update_states({step: "canceled"})
    await pilot.pause()
    assert sorted(repainted) == [0, 3]
    assert "⊘ 1" in line_text(view, 0) and "⊘ 1" not in before
    assert "canceled" in line_text(view, 3) and step in line_text(view, 3)


@hosted(unicode_view, big_graph)
async def test_update_states_of_a_hundred_steps_touches_a_hundred_lines_at_most(app: Host, pilot: Pilot[None]) -> None:
    view = app.widget
    assert isinstance(view, DagView)
    repainted = spy_on_repaints(view)
    view.update_states({step: "succeeded" for step, _ in app.steps[6_000:6_100]})
    assert 0 < len(repainted) <= 100
    assert len(set(repainted)) == len(repainted)


def every_state() -> tuple[Any, Mapping[str, str]]:
    states = ("pending", "ready", "running", "retrying", "succeeded", "failed", "skipped", "canceled")
    return [(state, []) for state in states], {state: state for state in states}


@hosted(lambda: DagView(ascii_only=False), every_state)
async def test_without_colour_every_state_still_reads_apart(app: Host, pilot: Pilot[None]) -> None:
    view = app.widget
    await pilot.press("v", "g", "down")
    stripped = [NoColor().apply(list(view.render_line(y)), Color(0, 0, 0)) for y in range(9)]
    lines = ["".join(segment.text for segment in line).split() for line in stripped[1:]]
    assert len({(glyph, word) for glyph, word, _ in lines}) == 8
    assert all(word == step for _, word, step in lines)
    assert all(segment.style is None or segment.style.color is None or segment.style.color.is_default
               for line in stripped for segment in line)
    assert any(segment.style and segment.style.reverse for segment in stripped[1])


@pytest.mark.parametrize(("environ", "utf8"), [
    ({"LANG": "en_GB.UTF-8"}, True),
    ({"LANG": "C.utf8"}, True),
    ({"LANG": "C", "LC_CTYPE": "C.UTF-8"}, False),  # Python's own coercion of the C locale
    ({"LANG": "en_US.UTF-8", "LC_ALL": "C"}, False),
    ({"LANG": "de_DE.ISO-8859-1"}, False),
    ({"LC_CTYPE": "C.UTF-8"}, True),
    ({}, True),
], ids=["utf8", "c-utf8", "coerced-c", "lc-all-wins", "latin1", "ctype-only", "unset"])
def test_ascii_is_picked_when_the_locale_is_not_utf8(environ: dict[str, str], utf8: bool) -> None:
    assert terminal_is_utf8(environ) is utf8


def test_highlight_messages_from_one_view_replace_each_other() -> None:
    one, two = DagView(ascii_only=True), DagView(ascii_only=True)
    queued = DagView.StepHighlighted(one, "a")
    assert queued.can_replace(DagView.StepHighlighted(one, "b"))
    assert not queued.can_replace(DagView.StepHighlighted(two, "b"))
    assert not queued.can_replace(DagView.StepSelected(one, "b"))


def test_bindings_have_ids_for_a_keymap() -> None:
    for widget in (DagView, DagTree):
        ids = [binding.id for binding in widget.BINDINGS if isinstance(binding, Binding)]
        assert len(ids) == len(widget.BINDINGS) and all(ids) and len(set(ids)) == len(ids)
    assert "dag.toggle_mode" in [binding.id for binding in DagView.BINDINGS if isinstance(binding, Binding)]


@hosted(unicode_view, lambda: ([("a", ["b"]), ("b", ["a"])], {}))
async def test_a_cycle_is_reported_in_the_view_not_raised(app: Host, pilot: Pilot[None]) -> None:
    assert " ".join(screen_text(app.widget)[:3]).startswith("cannot lay out this run: steps 'a', 'b' wait on each other in a cycle")
    await pilot.press("down", "enter", "v", "right", "G")
    assert app.selected() == []
    app.widget.set_graph(SMALL, SMALL_STATES)
    assert app.widget.problem is None and app.widget.mode == "graph"


@hosted(unicode_tree, lambda: ([("a", ["ghost"])], {}))
async def test_an_unknown_need_is_reported_in_the_tree(app: Host, pilot: Pilot[None]) -> None:
    assert screen_text(app.widget)[0].startswith("cannot lay out this run: step 'a' needs 'ghost'")
    await pilot.press("enter")
    await pilot.pause()
    assert app.selected() == []


# ------------------------------------------------------------------------------------ tree


@hosted(unicode_tree)
async def test_tree_lists_roots_expands_lazily_and_shows_back_references(app: Host, pilot: Pilot[None]) -> None:
    tree = app.widget
    assert isinstance(tree, DagTree)
    assert screen_text(tree)[:2] == ["▸ ✔ fetch succeeded", "▸ ↻ docs retrying"]
    assert tree.cursor_step == "fetch"
    assert not tree.root.children[0].children
    await pilot.press("right")
    await pilot.pause()
    assert [child.data.step_id for child in tree.root.children[0].children if child.data] == ["lint", "build-a", "build-b"]
    await pilot.press("right", "right")  # onto lint, open it: test is at home under lint
    await pilot.pause()
    await pilot.press("down", "down", "right")  # build-a: test is a back-reference there
    await pilot.pause()
    lines = screen_text(tree)
    assert sum(line.endswith("▸ · test pending") for line in lines) == 1
    assert sum(line.endswith("↪ · test pending") for line in lines) == 1
    await pilot.press("down", "enter")
    await pilot.pause()
    assert app.selected() == ["test"]


@hosted(unicode_tree)
async def test_tree_update_states_relabels_every_node_of_the_step(app: Host, pilot: Pilot[None]) -> None:
    tree = app.widget
    assert isinstance(tree, DagTree)
    tree.root.children[0].expand()
    await pilot.pause()
    tree.update_states({"build-b": "succeeded", "docs": "failed"})
    await pilot.pause()
    lines = screen_text(tree)
    assert any(line.endswith("✔ build-b succeeded") for line in lines)
    assert any(line.endswith("✘ docs failed") for line in lines)


@hosted(unicode_tree)
async def test_tree_set_again_with_the_same_graph_keeps_what_is_open(app: Host, pilot: Pilot[None]) -> None:
    tree = app.widget
    assert isinstance(tree, DagTree)
    await pilot.press("right")
    await pilot.pause()
    tree.set_graph(SMALL, {**SMALL_STATES, "lint": "succeeded"})
    await pilot.pause()
    assert tree.root.children[0].is_expanded
    assert "✔ lint succeeded" in " ".join(screen_text(tree))


@hosted(unicode_tree, big_graph)
async def test_tree_of_ten_thousand_steps_opens_with_only_its_roots(app: Host, pilot: Pilot[None]) -> None:
    tree = app.widget
    assert isinstance(tree, DagTree)
    roots = [step for step, needs in app.steps if not needs]
    assert [node.data.step_id for node in tree.root.children if node.data] == roots
    assert all(not node.children for node in tree.root.children)


# ------------------------------------------------------------------------------- snapshots


async def settle(pilot: Pilot[None]) -> None:
    await pilot.pause()


def test_snapshot_graph_mode(snap_compare: Any) -> None:
    app = Host(DagView(ascii_only=False), SMALL, SMALL_STATES)
    assert snap_compare(app, terminal_size=(80, 24), press=["right", "down"], run_before=settle)


def test_snapshot_layers_mode_ten_thousand_steps(snap_compare: Any) -> None:
    app = Host(DagView(ascii_only=False), *big_graph())
    assert snap_compare(app, terminal_size=(80, 24), press=["down", "enter", "down", "down"], run_before=settle)


def test_snapshot_tree(snap_compare: Any) -> None:
    app = Host(DagTree(ascii_only=False), SMALL, SMALL_STATES)
    assert snap_compare(app, terminal_size=(80, 24), run_before=open_tree)


async def open_tree(pilot: Pilot[None]) -> None:
    """fetch open, lint open (test at home), build-a open (test as a back-reference)."""
    for keys in (("right",), ("right", "right"), ("down", "down", "right")):
        await pilot.press(*keys)
        await pilot.pause()
