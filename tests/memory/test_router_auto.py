"""`strategy: auto` learns per tool and kind of step from the store: with enough samples it
takes the most accepted patches per dollar (or, without costs, the best success rate), before
that it says it has too few; the route's event carries the reason. Stores seeded with the
store's own statements, and one made by real `uet run`s."""

from __future__ import annotations

import json
from typing import Any

from engine.router import Route, Router
from engine.stats import StatsBook
from schemas.router import RouterConfig
from store import Store, ops
from store import tool_totals as stored
from tests.conftest import Project
from tests.memory.conftest import add_attempt, add_run

SIMS = {"dear": {"adapter": "sim", "sim": {}, "capabilities": ["code_edit"]},
        "cheap": {"adapter": "sim", "sim": {}, "capabilities": ["code_edit"]}}


def seed(store: Store, tool: str, attempts: int, accepted: int, usd: float | None, run_id: str) -> None:
    """``attempts`` patch steps of kind code_edit done by ``tool``, the first ``accepted`` of
    them approved (in their second round), each attempt costing ``usd``."""
    add_run(store, run_id, [(f"s{n}", "code_edit", {"produces": "patch"}) for n in range(attempts)])
    for n in range(attempts):
        add_attempt(store, run_id, f"s{n}", 1, tool, "succeeded", usd=usd)
        state = "approved" if n < accepted else "rejected"
        store.execute_now([ops.insert_patch(f"{run_id}p{n}", run_id, f"s{n}", 1, state, "base", "diff", "sha", [],
                                            1, 0, None, 2, None, None, 1.0, "t", None)])


def auto(learned: Any) -> Router:
    return Router(RouterConfig.model_validate({"strategy": "auto", "tools": SIMS}), StatsBook(), learned=learned)


def pick(router: Router) -> Route:
    route, _ = router.route("kind:code_edit", {"kind": "code_edit"}, 0.0)
    assert isinstance(route, Route), route
    return route


def test_the_most_accepted_patches_per_dollar_wins_and_says_why(store: Store) -> None:
    seed(store, "dear", 6, 5, 1.00, "r1")
    seed(store, "cheap", 6, 3, 0.10, "r2")
    stats = {(s.tool, s.kind): s for s in stored.kind_stats()}
    cheap = stats["cheap", "code_edit"]
    assert (cheap.attempts, cheap.accepted, cheap.mean_rounds) == (6, 3, 2.0)
    assert round(cheap.usd_per_accepted or 0, 3) == 0.2 and round(cheap.accepted_per_usd or 0, 2) == 5.0
    route = pick(auto(stored.kind_stats))
    assert route.tool == "cheap"  # though dear comes first and succeeds more
    assert route.reason == "auto: cheap 5.00 accepted/$ over dear 0.83 (6 and 6 samples)"


def test_too_few_samples_behave_as_before_and_say_so(store: Store) -> None:
    seed(store, "dear", 6, 5, 1.00, "r1")
    seed(store, "cheap", 4, 3, 0.10, "r2")  # the documented minimum is 5
    route = pick(auto(stored.kind_stats))
    assert route.tool == "dear"  # the first in order: no stats to tell them apart
    assert route.reason == ("auto: too few samples of code_edit steps (cheap 4; 5 needed): dear by recent "
                            "success, then order")


def test_without_costs_the_success_rate_decides(store: Store) -> None:
    add_run(store, "r1", [(f"s{n}", "code_edit", {}) for n in range(10)])
    for n in range(5):
        add_attempt(store, "r1", f"s{n}", 1, "dear", "failed" if n < 3 else "succeeded")
        add_attempt(store, "r1", f"s{n + 5}", 1, "cheap", "failed" if n < 1 else "succeeded")
    cheap = {s.tool: s for s in stored.kind_stats()}["cheap"]
    assert cheap.accepted == 4  # a step that proposes no patch: a success is what is accepted
    route = pick(auto(stored.kind_stats))
    assert route.tool == "cheap"
    assert route.reason == "auto: cheap 80% success over dear 40% (5 and 5 samples; no accepted/$ for dear, cheap)"


def test_what_was_learned_is_read_once(store: Store) -> None:
    seed(store, "dear", 6, 5, 1.00, "r1")
    calls = []

    def learned() -> list:
        calls.append(1)
        return stored.kind_stats()

    router = auto(learned)
    for _ in range(3):
        pick(router)
    assert len(calls) == 1


def test_a_real_run_s_route_event_says_why(project: Project) -> None:
    project.write(".uet/router.yaml", """
        strategy: auto
        tools:
          flaky:
            adapter: sim
            capabilities: [lint]
            sim: {outcome: {dist: sequence, values: [failed, succeeded, succeeded]}, duration: {dist: constant, value: 0.01}}
          steady:
            adapter: sim
            capabilities: [lint]
            sim: {outcome: {dist: constant, value: succeeded}, duration: {dist: constant, value: 0.01}}
    """)
    project.write("teach.yaml", """
        name: teach
        steps:
          - {id: "f-{n}", kind: lint, tool: flaky, matrix: {n: [a, b, c, d, e, f]}}
          - {id: "s-{n}", kind: lint, tool: steady, matrix: {n: [a, b, c, d, e, f]}}
    """)
    project.write("use.yaml", """
        name: use
        steps:
          - {id: check, kind: lint}
    """)
    project.uet("run", "--plain", "teach.yaml")
    assert project.uet("run", "--plain", "use.yaml").returncode == 0
    runs = json.loads(project.uet("runs", "--json", check=True).stdout)
    events = [json.loads(line) for line in project.uet("logs", runs[0]["id"], "--json", check=True).stdout.splitlines()]
    [running] = [e for e in events if e["kind"] == "step.state" and e["data"].get("to") == "running"]
    assert running["data"]["tool"] == "steady"
    assert running["data"]["route"] == "auto: steady 100% success over flaky 67% (6 and 6 samples; no accepted/$ " \
                                       "for flaky, steady)"
    said = project.uet("logs", runs[0]["id"], check=True).stdout
    assert "step check ready → running (attempt 1, tool steady); auto: steady 100% success over flaky" in said
    shown = project.uet("tools", "--no-version", check=True).stdout
    assert "by kind of step" in shown and any(
        line.split()[:4] == ["flaky", "lint", "6", "67%"] for line in shown.splitlines())
