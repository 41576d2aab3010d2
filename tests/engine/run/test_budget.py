"""The run's spending against its budget, alone, on a clock the test moves."""

from __future__ import annotations

from engine.run.budget import Spend
from schemas.execution import ExecutionResult
from schemas.workstream import Budget
from tests.engine.run.parts import Clock


def test_the_first_budget_reached_is_named_with_what_was_used() -> None:
    spend = Spend(Budget.model_validate({"usd": 1.0, "tokens": 100}), 0, 0.0, 0.0, Clock())
    spend.add(ExecutionResult(outcome="succeeded", tokens_in=60, tokens_out=40, usd=0.25))
    assert spend.reached() == ("tokens", 100, 100)
    spend.add(ExecutionResult(outcome="failed", usd=0.75))
    found = spend.reached()
    assert found == ("usd", 1.0, 1.0)  # dollars are looked at first
    assert Spend.describe(found) == "usd budget reached: $1.0000 of $1.0000"


def test_wall_time_counts_earlier_sessions_and_this_one_but_not_the_pauses_between() -> None:
    clock = Clock()
    spend = Spend(Budget.model_validate({"wall": "10s"}), 0, 0.0, 4.0, clock)
    clock.now += 100.0  # paused: no session running
    assert spend.reached() is None and spend.wall_used() == 4.0
    spend.session_started = clock.now
    clock.now += 5.9
    assert spend.reached() is None
    clock.now += 0.1
    assert spend.reached() == ("wall", 10.0, 10.0)


def test_unknown_spending_counts_nothing_and_no_budget_is_never_reached() -> None:
    spend = Spend(None, 7, 0.5, 0.0, Clock())
    spend.add(ExecutionResult(outcome="succeeded"))
    assert (spend.tokens_used, spend.usd_used, spend.reached()) == (7, 0.5, None)
