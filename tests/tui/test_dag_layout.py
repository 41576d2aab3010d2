"""The DAG layout and drawing: layers, order, crossings, routing, glyph sets, scale.

`read_edges` reads a drawing the way a person does (lines flow rightwards into arrow heads,
touching lines join, ``┼`` crosses) and must find exactly the graph's edges: a drawing that
suggests a dependency that does not exist, or hides one, fails.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui import dag_layout
from tui.dag_layout import (
    ASCII,
    ASCII_STATE_GLYPHS,
    MAX_LABEL,
    DagError,
    Drawing,
    Layout,
    crossings,
    draw,
    layout,
    tree_parents,
)
from tui.format import GLYPHS

STEP_STATES = ("pending", "waiting", "ready", "running", "retrying", "succeeded", "failed", "skipped", "canceled")

DIAMOND = [("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["a"]), ("e", ["b", "c", "d"])]
DIAMOND_STATES = {"a": "succeeded", "b": "succeeded", "c": "running", "d": "failed", "e": "pending"}


def random_steps(count: int, seed: int, window: int = 300) -> list[tuple[str, list[str]]]:
    """``count`` steps, each but the first ten needing one to three of the ``window`` before it."""
    rng = random.Random(seed)
    steps: list[tuple[str, list[str]]] = []
    for i in range(count):
        wanted = 0 if i < 10 else rng.choice((1, 2, 2, 3))
        needs = sorted({f"s{rng.randrange(max(0, i - window), i)}" for _ in range(wanted)})
        steps.append((f"s{i}", needs))
    return steps


BITS = {char: bits for bits, char in dag_layout._UNICODE_BOX.items() if bits}
BITS["─"] = dag_layout.E | dag_layout.W
BITS["│"] = dag_layout.N | dag_layout.S


def read_edges(drawing: Drawing, arrow: str = "▸") -> set[tuple[str, str]]:
    """Edges as a reader sees them: from the line after each label, move right along lines,
    up or down along tracks, turn only at joins (never at ``┼``), never go left; an arrow head
    followed by a space points at the label that starts after it."""
    grid = [list(line) for line in drawing.lines]
    starts = {(cell.y, cell.x): step_id for step_id, cell in drawing.cells.items()}

    def at(r: int, c: int) -> str:
        return grid[r][c] if 0 <= r < len(grid) and 0 <= c < len(grid[r]) else " "

    found: set[tuple[str, str]] = set()
    for source, cell in drawing.cells.items():
        start = (cell.y, cell.x + cell.width + 1, "E")
        if at(cell.y, start[1]) != "─":
            continue
        seen, todo = set(), [start]
        while todo:
            r, c, going = todo.pop()
            if (r, c, going) in seen:
                continue
            seen.add((r, c, going))
            char = at(r, c)
            if char == arrow:
                found.add((source, starts[(r, c + 2)]))
                continue
            bits = BITS.get(char, 0)
            crossing = bits == 15
            if going == "E" and bits & dag_layout.W:
                if bits & dag_layout.E:
                    todo.append((r, c + 1, "E"))
                if not crossing:
                    todo += [(r - 1, c, "N")] * bool(bits & dag_layout.N) + [(r + 1, c, "S")] * bool(bits & dag_layout.S)
            elif going in "NS" and bits & (dag_layout.S if going == "N" else dag_layout.N):
                if bits & (dag_layout.N if going == "N" else dag_layout.S):
                    todo.append((r - 1 if going == "N" else r + 1, c, going))
                if not crossing and bits & dag_layout.E:
                    todo.append((r, c + 1, "E"))
    return found


def true_edges(result: Layout) -> set[tuple[str, str]]:
    return {(need, step) for step in result.ids for need in result.needs[step]}


# ------------------------------------------------------------------------------- layering


def test_layer_is_one_more_than_the_deepest_need() -> None:
    result = layout([("a", []), ("b", ["a"]), ("c", ["b"]), ("d", ["a", "c"]), ("e", [])])
    assert result.layers == (("a", "e"), ("b",), ("c",), ("d",))
    assert result.position["d"] == (3, 0)
    assert result.needs["d"] == ("a", "c")
    assert result.dependents["a"] == ("b", "d")


def test_repeated_needs_count_once() -> None:
    result = layout([("a", []), ("b", ["a", "a"])])
    assert result.needs["b"] == ("a",)
    assert result.dependents["a"] == ("b",)


@pytest.mark.parametrize(("steps", "words"), [
    ([("a", []), ("a", [])], "'a' appears twice"),
    ([("a", ["ghost"])], "'a' needs 'ghost', which is not a step"),
    ([("a", ["c"]), ("b", ["a"]), ("c", ["b"]), ("d", [])], "'a', 'b', 'c' wait on each other in a cycle"),
    ([("a", ["a"])], "'a' wait on each other"),
], ids=["duplicate", "unknown-need", "cycle", "self-need"])
def test_not_a_dag_is_refused_with_the_steps_named(steps: list[tuple[str, list[str]]], words: str) -> None:
    with pytest.raises(DagError, match=words):
        layout(steps)


def test_empty_graph() -> None:
    result = layout([])
    assert result.layers == ()
    assert draw(result).lines == ()


# -------------------------------------------------------------------------------- ordering


def test_order_is_deterministic() -> None:
    steps = random_steps(2_000, seed=3)
    first, second = layout(steps), layout(list(steps))
    assert first.layers == second.layers
    small = random_steps(30, seed=5, window=8)
    assert draw(layout(small)).lines == draw(layout(small)).lines


def test_barycenter_uncrosses_a_known_case() -> None:
    steps = [("a", []), ("b", []), ("c", ["b"]), ("d", ["a"])]
    assert crossings(layout(steps, sweeps=0)) == 1
    result = layout(steps)
    assert result.layers == (("a", "b"), ("d", "c"))
    assert crossings(result) == 0


def test_sweeps_leave_fewer_crossings_than_file_order_on_a_big_graph() -> None:
    steps = random_steps(3_000, seed=11, window=40)
    assert crossings(layout(steps)) < crossings(layout(steps, sweeps=0)) / 2


def test_ten_thousand_steps_are_laid_out() -> None:
    steps = random_steps(10_000, seed=7)
    assert sum(len(needs) for _, needs in steps) > 19_000
    result = layout(steps)
    assert sorted(s for layer in result.layers for s in layer) == sorted(s for s, _ in steps)
    for k, layer in enumerate(result.layers):
        for row, step in enumerate(layer):
            assert result.position[step] == (k, row)
            deepest = max((result.position[n][0] for n in result.needs[step]), default=-1)
            assert deepest == k - 1


# --------------------------------------------------------------------------------- drawing


def test_diamond_golden() -> None:
    drawing = draw(layout(DIAMOND), DIAMOND_STATES)
    assert "\n".join(drawing.lines) == (
        "✔ a ─┬─▸ ✔ b ─┬─▸ · e\n"
        "     ├─▸ ▶ c ─┤\n"
        "     └─▸ ✘ d ─┘"
    )
    assert drawing.layers == (("a",), ("b", "c", "d"), ("e",))
    assert drawing.cells["c"] == dag_layout.NodeCell(y=1, x=9, width=3)
    assert drawing.node_at(10, 1) == "c"
    assert drawing.node_at(5, 1) is None


def test_ascii_fallback() -> None:
    drawing = draw(layout(DIAMOND), DIAMOND_STATES, glyphs=ASCII)
    assert "\n".join(drawing.lines) == (
        "v a -+-> v b -+-> . e\n"
        "     +-> * c -+\n"
        "     +-> x d -+"
    )
    assert all(ord(char) < 128 for line in drawing.lines for char in line)


def test_ascii_state_glyphs_cover_every_state_and_tell_step_states_apart() -> None:
    assert set(ASCII_STATE_GLYPHS) == set(GLYPHS)
    step_glyphs = [ASCII_STATE_GLYPHS[state] for state in STEP_STATES]
    assert len(set(step_glyphs)) == len(step_glyphs)
    assert not set(step_glyphs) & {"-", "|", "+", ">", " "}


def test_long_edge_is_routed_through_the_column_it_spans() -> None:
    drawing = draw(layout([("a", []), ("b", ["a"]), ("c", ["a", "b"])]))
    assert drawing.lines == (
        "· a ─┬─▸ · b ─┬─▸ · c",
        "     └────────┘",
    )
    assert read_edges(drawing) == {("a", "b"), ("a", "c"), ("b", "c")}


def test_shared_targets_get_a_routing_column_instead_of_a_misleading_join() -> None:
    # build feeds unit and integration, lint only integration: one track for both sources
    # would tell that lint feeds unit; a slot per edge keeps every join true.
    steps = [("lint", []), ("build", []), ("unit", ["build"]), ("integration", ["build", "lint"])]
    drawing = draw(layout(steps))
    assert drawing.lines == (
        "· lint ────────┬─▸ · integration",
        "· build ─┬─────┘",
        "         └───────▸ · unit",
    )
    assert read_edges(drawing) == true_edges(layout(steps))


def test_the_reader_takes_a_cross_for_a_crossing() -> None:
    drawing = Drawing(
        lines=("· a ─┐", "· b ─┼─▸ · c", "     └─▸ · d"),
        cells={"a": dag_layout.NodeCell(0, 0, 3), "b": dag_layout.NodeCell(1, 0, 3),
               "c": dag_layout.NodeCell(1, 9, 3), "d": dag_layout.NodeCell(2, 9, 3)},
        layers=(("a", "b"), ("c", "d")), width=12, height=3,
    )
    assert read_edges(drawing) == {("a", "d"), ("b", "c")}


def test_long_ids_are_truncated() -> None:
    long_id = "build-" + "x" * 40
    drawing = draw(layout([(long_id, []), ("b", [long_id])]))
    assert drawing.cells[long_id].width == MAX_LABEL + 2
    assert drawing.lines[0].startswith("· build-xxxxxxxxxxx…")


def test_labels_sit_where_cells_say() -> None:
    result = layout(random_steps(40, seed=2, window=6))
    drawing = draw(result)
    for step, cell in drawing.cells.items():
        assert drawing.lines[cell.y][cell.x:cell.x + cell.width] == f"· {step}"


@st.composite
def small_dags(draw_: st.DrawFn) -> list[tuple[str, list[str]]]:
    count = draw_(st.integers(1, 14))
    steps = []
    for i in range(count):
        needs = draw_(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        steps.append((f"n{i}", [f"n{j}" for j in needs]))
    return steps


@settings(max_examples=300, deadline=None)
@given(small_dags())
def test_a_reader_finds_exactly_the_edges(steps: list[tuple[str, list[str]]]) -> None:
    result = layout(steps)
    assert read_edges(draw(result)) == true_edges(result)


def test_a_reader_finds_exactly_the_edges_of_a_sixty_step_graph() -> None:
    result = layout(random_steps(60, seed=13, window=12))
    assert read_edges(draw(result)) == true_edges(result)


# ------------------------------------------------------------------------------------ tree


def test_tree_parents_follow_a_depth_first_walk() -> None:
    homes = tree_parents(layout(DIAMOND + [("f", []), ("g", ["f", "e"])]))
    assert homes == {"a": None, "b": "a", "e": "b", "g": "e", "c": "a", "d": "a", "f": None}
