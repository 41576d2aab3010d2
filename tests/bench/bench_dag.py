"""DAG view benchmark: layout of 1,000 and 10,000 steps, DagView's first paint in layers mode
with 10,000 steps in a headless app, and update_states with 100 changes. Figures only; each
is the median of several runs.

    python -m tests.bench.bench_dag
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from textual.app import App, ComposeResult
from textual.strip import Strip

from tui import dag_layout
from tui.widgets.dag_tree import DagTree
from tui.widgets.dag_view import DagView

Steps = list[tuple[str, list[str]]]


def random_steps(count: int, seed: int = 7, window: int = 300) -> Steps:
    """Each step but the first ten needs one to three of the ``window`` steps before it:
    about two edges per step, a few hundred layers for 10,000 steps."""
    rng = random.Random(seed)
    steps: Steps = []
    for i in range(count):
        wanted = 0 if i < 10 else rng.choice((1, 2, 2, 3))
        steps.append((f"step-{i:05d}", sorted({f"step-{rng.randrange(max(0, i - window), i):05d}" for _ in range(wanted)})))
    return steps


def median_seconds(action: Callable[[], Any], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


class TimedView(DagView):
    """A DagView that notes when it first draws a line."""

    first_line_at: float | None = None

    def render_line(self, y: int) -> Strip:
        if self.first_line_at is None and self._layout is not None:
            self.first_line_at = time.perf_counter()
        return super().render_line(y)


class Host(App[None]):
    def __init__(self, view: DagView | DagTree, steps: Steps) -> None:
        super().__init__()
        self.view = view
        self.steps = steps
        self.set_graph_seconds = 0.0

    def compose(self) -> ComposeResult:
        yield self.view

    def on_mount(self) -> None:
        started = time.perf_counter()
        self.view.set_graph(self.steps, {step: "pending" for step, _ in self.steps})
        self.set_graph_seconds = time.perf_counter() - started


async def first_paint(steps: Steps) -> tuple[float, float]:
    """Seconds from starting the app to DagView's first drawn line, and inside set_graph."""
    view = TimedView(ascii_only=False)
    app = Host(view, steps)
    started = time.perf_counter()
    async with app.run_test(size=(80, 24)) as pilot:
        while view.first_line_at is None:
            await pilot.pause()
        return view.first_line_at - started, app.set_graph_seconds


async def updates(view: DagView | DagTree, steps: Steps, batches: int = 20) -> list[float]:
    """Seconds per update_states call of 100 changed steps, the first layer expanded."""
    app = Host(view, steps)
    rng = random.Random(1)
    ids = [step for step, _ in steps]
    times = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        for n in range(batches):
            changed = {step: ("running", "succeeded")[n % 2] for step in rng.sample(ids, 100)}
            started = time.perf_counter()
            view.update_states(changed)
            times.append(time.perf_counter() - started)
            await pilot.pause()
    return times


def main() -> None:
    small, big = random_steps(1_000), random_steps(10_000)
    edges = sum(len(needs) for _, needs in big)
    print(f"layout   1,000 steps: {median_seconds(lambda: dag_layout.layout(small)) * 1000:7.1f} ms")
    print(f"layout  10,000 steps: {median_seconds(lambda: dag_layout.layout(big)) * 1000:7.1f} ms  ({edges:,} edges)")
    sixty = dag_layout.layout(random_steps(60, seed=13, window=12))
    print(f"draw        60 steps: {median_seconds(lambda: dag_layout.draw(sixty)) * 1000:7.1f} ms")
    empty_paints = [asyncio.run(first_paint(random_steps(1))) for _ in range(3)]
    paints = [asyncio.run(first_paint(big)) for _ in range(3)]
    print(f"first paint, layers mode, 10,000 steps: {statistics.median(p for p, _ in paints) * 1000:7.1f} ms "
          f"(set_graph {statistics.median(s for _, s in paints) * 1000:.1f} ms; "
          f"same app with 1 step {statistics.median(p for p, _ in empty_paints) * 1000:.1f} ms)")
    view_times = asyncio.run(updates(DagView(ascii_only=False), big))
    tree_times = asyncio.run(updates(DagTree(ascii_only=False), big))
    print(f"update_states, 100 changes: DagView {statistics.median(view_times) * 1000:.2f} ms "
          f"(max {max(view_times) * 1000:.2f}), DagTree {statistics.median(tree_times) * 1000:.2f} ms "
          f"(max {max(tree_times) * 1000:.2f})")


if __name__ == "__main__":
    main()
