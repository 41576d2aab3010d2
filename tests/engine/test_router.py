"""Routing: keys, candidates, strategies, skips, blocked results and half-open probes."""

from __future__ import annotations

from typing import Any

import pytest

from engine.router import Blocked, Route, Router
from engine.stats import StatsBook
from schemas.router import RouterConfig
from schemas.states import BreakerState

MISSING = "definitely-not-installed-xyz"


def sim(*capabilities: str, **extra: Any) -> dict[str, Any]:
    return {"adapter": "sim", "sim": {}, "capabilities": list(capabilities), **extra}


def cmd(*capabilities: str, program: str = "true", **extra: Any) -> dict[str, Any]:
    return {
        "adapter": "subprocess",
        "command": [program],
        "capabilities": list(capabilities),
        **extra,
    }


def router(strategy: str = "fixed", stats: StatsBook | None = None, **config: Any) -> Router:
    return Router(
        RouterConfig.model_validate({"strategy": strategy, **config}), stats or StatsBook()
    )


def route(r: Router, kind: str, now: float = 0.0) -> Route | Blocked:
    result, _change = r.route(f"kind:{kind}", {"kind": kind}, now)
    return result


def chosen(r: Router, kind: str, now: float = 0.0) -> str:
    result = route(r, kind, now)
    assert isinstance(result, Route), result
    return result.tool


def trip(r: Router, tool: str, now: float) -> None:
    breaker = r.breaker(tool)
    while breaker.state is not BreakerState.OPEN:
        breaker.record("failed", now, was_probe=False)


# --------------------------------------------------------------------------------------------
# key()


def test_keys() -> None:
    r = router()
    # An ad-hoc command is keyed by its executable, apart from the declared tool of that name.
    assert r.key({"run": ["ruff", "check", "."]}) == "run:ruff"
    assert r.key({"run": ["/usr/local/bin/pytest", "-q"]}) == "run:pytest"
    assert r.key({"run": ["ruff", "check"], "tool": "ruff-strict"}) == "tool:ruff-strict"
    assert r.key({"call": "pkg.mod:fn"}) == "tool:python"
    assert r.key({"call": "pkg.mod:fn", "tool": "llm"}) == "tool:llm"
    assert r.key({"tool": "aider", "kind": "code_edit"}) == "tool:aider"
    assert r.key({"kind": "lint"}) == "kind:lint"
    assert r.key({}) == "kind:task"


# --------------------------------------------------------------------------------------------
# candidates()


def test_a_rule_sets_the_order_and_strategy() -> None:
    r = router(
        "auto",
        tools={"a": sim("lint"), "b": sim("lint"), "c": sim("lint")},
        rules=[{"kind": "lint", "tools": ["c", "a"], "strategy": "round_robin"}],
    )
    assert r.candidates("kind:lint") == (["c", "a"], "round_robin")


def test_a_rule_without_strategy_uses_the_config_strategy() -> None:
    r = router(
        "auto", tools={"a": sim(), "b": sim()}, rules=[{"kind": "edit", "tools": ["b", "a"]}]
    )
    assert r.candidates("kind:edit") == (["b", "a"], "auto")


def test_capability_match_in_config_order() -> None:
    r = router(
        "round_robin",
        tools={"z": sim("test"), "a": sim("lint"), "m": sim("lint", "test"), "b": sim("test")},
    )
    assert r.candidates("kind:test") == (["z", "m", "b"], "round_robin")
    assert r.candidates("kind:lint") == (["a", "m"], "round_robin")
    assert r.candidates("kind:docs") == ([], "round_robin")


def test_a_tool_key_is_fixed_to_that_tool() -> None:
    r = router("auto", tools={"a": sim("lint")})
    assert r.candidates("tool:a") == (["a"], "fixed")


# --------------------------------------------------------------------------------------------
# strategies


def test_fixed_picks_the_first_usable() -> None:
    r = router("fixed", tools={"a": sim("lint"), "b": sim("lint")})
    result = route(r, "lint")
    assert isinstance(result, Route)
    assert (result.tool, result.adapter, result.strategy, result.probe, result.skipped) == (
        "a",
        "sim",
        "fixed",
        False,
        {},
    )
    assert result.spec is r.config.tools["a"]
    assert [chosen(r, "lint") for _ in range(3)] == ["a", "a", "a"]


def test_fixed_falls_back_in_order() -> None:
    r = router(
        "fixed", tools={"a": cmd("lint", program=MISSING), "b": sim("lint"), "c": sim("lint")}
    )
    assert chosen(r, "lint") == "b"


def test_round_robin_rotates_across_calls() -> None:
    r = router("round_robin", tools={"a": sim("lint"), "b": sim("lint"), "c": sim("lint")})
    assert [chosen(r, "lint") for _ in range(7)] == ["a", "b", "c", "a", "b", "c", "a"]


def test_round_robin_skips_unusable_tools() -> None:
    r = router(
        "round_robin", tools={"a": sim("lint"), "b": sim("lint", max_parallel=1), "c": sim("lint")}
    )
    r.started("b")
    picks = [chosen(r, "lint") for _ in range(6)]
    assert "b" not in picks
    assert set(picks) == {"a", "c"}


def test_round_robin_keeps_a_turn_per_key() -> None:
    r = router(
        "round_robin",
        tools={"a": sim("lint", "test"), "b": sim("lint", "test")},
    )
    assert chosen(r, "lint") == "a"
    assert chosen(r, "test") == "a"
    assert chosen(r, "lint") == "b"
    assert chosen(r, "test") == "b"


def record(stats: StatsBook, tool: str, outcomes: str, seconds: float = 1.0) -> None:
    for i, c in enumerate(outcomes):
        stats.record(tool, "succeeded" if c == "S" else "failed", seconds, float(i))


def test_auto_prefers_the_better_recent_success() -> None:
    stats = StatsBook()
    record(stats, "a", "SFF")
    record(stats, "b", "FSS")
    r = router("auto", stats, tools={"a": sim("lint"), "b": sim("lint")})
    result = route(r, "lint")
    assert isinstance(result, Route) and result.tool == "b" and result.strategy == "auto"


def test_auto_breaks_a_tie_on_speed() -> None:
    stats = StatsBook()
    record(stats, "a", "SSS", seconds=5.0)
    record(stats, "b", "SSS", seconds=1.0)
    r = router("auto", stats, tools={"a": sim("lint"), "b": sim("lint")})
    assert chosen(r, "lint") == "b"


def test_auto_tries_untried_tools_first() -> None:
    stats = StatsBook()
    record(stats, "a", "SSSSS", seconds=0.5)
    r = router("auto", stats, tools={"a": sim("lint"), "b": sim("lint")})
    assert chosen(r, "lint") == "b"  # b has no numbers yet: the optimistic prior wins


def test_auto_keeps_the_prior_until_three_calls() -> None:
    stats = StatsBook()
    record(stats, "a", "FF")  # two failures: not enough to judge
    record(stats, "b", "SSSS", seconds=0.1)
    r = router("auto", stats, tools={"a": sim("lint"), "b": sim("lint")})
    assert chosen(r, "lint") == "a"
    record(stats, "a", "F")
    assert chosen(r, "lint") == "b"


def test_auto_falls_back_to_config_order_on_equal_scores() -> None:
    r = router("auto", tools={"b": sim("lint"), "a": sim("lint")})
    assert chosen(r, "lint") == "b"


# --------------------------------------------------------------------------------------------
# skips


def test_installed() -> None:
    r = router(
        tools={
            "yes": cmd(),
            "no": cmd(program=MISSING),
            "exe": cmd(program="true", executable=MISSING),
            "s": sim(),
        }
    )
    assert r.installed("yes")
    assert not r.installed("no")
    assert not r.installed("exe")  # `executable` is what must be on PATH
    assert r.installed("s")  # only subprocess tools need a program


def test_not_installed_is_skipped_with_a_reason() -> None:
    r = router(tools={"gone": cmd("lint", program=MISSING), "here": cmd("lint")})
    result = route(r, "lint")
    assert isinstance(result, Route)
    assert result.tool == "here" and result.adapter == "subprocess"
    assert result.skipped == {"gone": "not installed"}


def test_a_tool_at_max_parallel_is_skipped_until_it_finishes() -> None:
    r = router(tools={"a": sim("lint", max_parallel=2), "b": sim("lint")})
    r.started("a")
    assert chosen(r, "lint") == "a"
    r.started("a")
    result = route(r, "lint")
    assert isinstance(result, Route)
    assert result.tool == "b" and result.skipped == {"a": "at its limit of 2"}
    r.finished("a")
    assert chosen(r, "lint") == "a"


def test_an_open_breaker_is_skipped() -> None:
    r = router(tools={"a": sim("lint"), "b": sim("lint")})
    trip(r, "a", now=0.0)
    result = route(r, "lint", now=1.0)
    assert isinstance(result, Route)
    assert result.tool == "b" and result.skipped == {"a": "breaker open"} and not result.probe


def test_every_skip_is_named() -> None:
    r = router(
        tools={
            "gone": cmd("lint", program=MISSING),
            "busy": sim("lint", max_parallel=1),
            "broken": sim("lint"),
            "ok": sim("lint"),
        }
    )
    r.started("busy")
    trip(r, "broken", now=0.0)
    result = route(r, "lint", now=1.0)
    assert isinstance(result, Route) and result.tool == "ok"
    assert result.skipped == {
        "gone": "not installed",
        "busy": "at its limit of 1",
        "broken": "breaker open",
    }


def test_tool_breaker_policy_overrides_the_default() -> None:
    r = router(
        breaker={"consecutive_failures": 9, "open_for": "1m"},
        tools={"a": sim(breaker={"open_for": "5s"})},
    )
    p = r.breaker("a").policy
    assert (p.consecutive_failures, p.open_for) == (9, 5.0)
    assert r.breaker("a") is r.breaker("a")


# --------------------------------------------------------------------------------------------
# Blocked


def test_all_busy_waits_for_a_completion() -> None:
    r = router(tools={"a": sim("lint", max_parallel=1), "b": sim("lint", max_parallel=1)})
    r.started("a")
    r.started("b")
    result = route(r, "lint")
    assert isinstance(result, Blocked)
    assert (result.until, result.final) == (None, False)
    assert "a: at its limit of 1" in result.reason and "b: at its limit of 1" in result.reason


def test_all_open_waits_for_the_earliest_probe() -> None:
    r = router(
        breaker={"consecutive_failures": 1},
        tools={
            "a": sim("lint", breaker={"open_for": "60s"}),
            "b": sim("lint", breaker={"open_for": "10s"}),
        },
    )
    trip(r, "a", now=100.0)
    trip(r, "b", now=105.0)
    result = route(r, "lint", now=106.0)
    assert isinstance(result, Blocked)
    assert (result.until, result.final) == (115.0, False)
    assert result.reason == "a: breaker open; b: breaker open"


def test_open_and_not_installed_waits_for_the_probe() -> None:
    r = router(
        breaker={"consecutive_failures": 1, "open_for": 30},
        tools={"gone": cmd("lint", program=MISSING), "a": sim("lint")},
    )
    trip(r, "a", now=0.0)
    result = route(r, "lint", now=1.0)
    assert isinstance(result, Blocked)
    assert (result.until, result.final) == (30.0, False)


def test_none_installed_is_final_and_names_the_tools() -> None:
    r = router(
        tools={"ruff": cmd("lint", program=MISSING), "flake": cmd("lint", program=MISSING + "-2")}
    )
    result = route(r, "lint")
    assert isinstance(result, Blocked)
    assert result.final and result.until is None
    assert "ruff: not installed" in result.reason and "flake: not installed" in result.reason


def test_no_candidate_for_a_kind_is_final() -> None:
    r = router(tools={"a": sim("lint")})
    result = route(r, "translate")
    assert isinstance(result, Blocked)
    assert result.final and "translate" in result.reason


# --------------------------------------------------------------------------------------------
# half-open probes through the router


def test_a_route_through_a_half_open_breaker_is_a_probe() -> None:
    r = router(
        breaker={"consecutive_failures": 1, "open_for": 10, "max_half_open": 100},
        tools={"a": sim("lint"), "b": sim("lint")},
    )
    trip(r, "a", now=0.0)
    first, change = r.route("kind:lint", {"kind": "lint"}, 10.0)
    assert isinstance(first, Route) and first.tool == "a" and first.probe
    assert change is not None and (change.source, change.target) == (
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
    )
    second, change2 = r.route("kind:lint", {"kind": "lint"}, 10.5)
    assert change2 is None
    assert isinstance(second, Route) and second.tool == "b" and not second.probe
    assert second.skipped == {"a": "breaker half_open"}
    # The probe's success closes the breaker; a is routed normally again.
    r.breaker("a").record("succeeded", 11.0, was_probe=first.probe)
    third = route(r, "lint", now=12.0)
    assert isinstance(third, Route) and third.tool == "a" and not third.probe


def test_a_lone_tool_waits_while_its_probe_is_in_flight() -> None:
    r = router(
        breaker={"consecutive_failures": 1, "open_for": 10, "max_half_open": 100},
        tools={"a": sim("lint")},
    )
    trip(r, "a", now=0.0)
    first = route(r, "lint", now=10.0)
    assert isinstance(first, Route) and first.probe
    second = route(r, "lint", now=11.0)
    assert isinstance(second, Blocked) and not second.final
    assert second.until == 110.0  # the probe's slot is freed after max_half_open


# --------------------------------------------------------------------------------------------
# run / call steps


def test_run_step_routes_to_its_executable() -> None:
    r = router(tools={"a": sim("lint")})
    spec = {"run": ["ruff", "check", "."], "kind": "lint"}
    result, change = r.route(r.key(spec), spec, 0.0)
    assert change is None
    assert isinstance(result, Route)
    assert (result.tool, result.adapter, result.spec, result.strategy) == (
        "ruff",
        "subprocess",
        None,
        "fixed",
    )


def test_run_step_naming_a_configured_tool_runs_its_argv_as_a_subprocess() -> None:
    r = router(tools={"fake": sim("lint")})
    spec = {"run": ["echo", "hi"], "tool": "fake"}
    result, _ = r.route(r.key(spec), spec, 0.0)
    assert isinstance(result, Route)
    assert (result.tool, result.adapter) == ("fake", "subprocess")


@pytest.mark.parametrize(
    "spec",
    [{"run": ["ruff", "check", "."], "tool": "ruff"}, {"kind": "lint"}, {"call": "pkg.mod:fn"}],
    ids=["run-naming-a-tool", "lone-capable-tool", "call"],
)
def test_a_kept_route_is_not_reused_once_its_breaker_opens(spec: dict[str, Any]) -> None:
    """A single-tool route is kept while its breaker is closed; tripping the breaker must
    block the next route, and its probe must be a probe, not the kept route again."""
    r = router(breaker={"consecutive_failures": 1, "open_for": "10s"}, tools={"only": sim("lint")})
    key = r.key(spec)
    first, _ = r.route(key, spec, 0.0)
    again, _ = r.route(key, spec, 0.5)
    assert isinstance(first, Route) and again is first, "the route is kept while the breaker is closed"
    trip(r, first.tool, now=1.0)
    blocked, _ = r.route(key, spec, 2.0)
    assert isinstance(blocked, Blocked)
    assert (blocked.until, blocked.final) == (11.0, False)
    assert f"{first.tool}: breaker open" in blocked.reason
    probe, change = r.route(key, spec, 11.0)
    assert isinstance(probe, Route) and probe.tool == first.tool and probe.probe
    assert change is not None


def test_call_step_uses_the_python_adapter() -> None:
    r = router()
    spec = {"call": "pkg.mod:fn"}
    result, _ = r.route(r.key(spec), spec, 0.0)
    assert isinstance(result, Route)
    assert (result.tool, result.adapter) == ("python", "python")


def test_kind_routed_python_tool() -> None:
    r = router(
        tools={
            "llm": {"adapter": "python", "callable": "pkg.mod:fn", "capabilities": ["summarize"]}
        }
    )
    result = route(r, "summarize")
    assert isinstance(result, Route) and (result.tool, result.adapter) == ("llm", "python")


@pytest.mark.parametrize("strategy", ["fixed", "round_robin", "auto"])
def test_rule_strategy_is_reported(strategy: str) -> None:
    r = router(
        "fixed",
        tools={"a": sim(), "b": sim()},
        rules=[{"kind": "x", "tools": ["a", "b"], "strategy": strategy}],
    )
    result = route(r, "x")
    assert isinstance(result, Route) and result.strategy == strategy


def test_busy_and_open_wakes_at_the_probe_time() -> None:
    r = router(
        breaker={"consecutive_failures": 1, "open_for": 10},
        tools={"slow": sim("lint", max_parallel=1), "flaky": sim("lint")},
    )
    r.started("slow")
    trip(r, "flaky", now=0.0)
    result = route(r, "lint", now=1.0)
    assert isinstance(result, Blocked) and not result.final
    assert result.until == 10.0


def test_an_ad_hoc_command_has_no_breaker() -> None:
    """Breakers belong to declared tools: a ``run:`` step naming none is never held by the
    breaker of its executable's name, and its failures trip nothing."""
    r = router(breaker={"consecutive_failures": 1, "open_for": "10s"}, tools={"python3": sim("lint")})
    spec = {"run": ["python3", "flaky.py"]}
    trip(r, "python3", now=1.0)  # the declared tool's breaker is open
    route, change = r.route(r.key(spec), spec, 2.0)
    assert isinstance(route, Route) and route.tool == "python3" and not route.breaker and change is None
    named = {"run": ["python3", "flaky.py"], "tool": "python3"}
    assert isinstance(r.route(r.key(named), named, 2.0)[0], Blocked), "naming the tool brings its breaker"
