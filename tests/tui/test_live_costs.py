"""LiveCosts, the usage so far of the attempts at work, over event records as the feed gives
them: the latest word of each attempt, ended by its step's move, kept until the recorded
costs are read again, and never thrown by what an event's data holds."""

from __future__ import annotations

import math
from typing import Any

from engine.monitor import RunCost
from schemas.records import EventRecord
from tui.feed import LiveCosts

RUN = "r1"


def event(kind: str, step: str | None, **data: Any) -> EventRecord:
    return EventRecord.model_construct(seq=0, ts=0.0, run_id=RUN, step_id=step, kind=kind, data=data)


def output(step: str, attempt: Any, **usage: Any) -> EventRecord:
    return event("step.output", step, attempt=attempt, chars=10, line="x", **usage)


def test_the_latest_word_of_an_attempt_counts_and_its_end_waits_for_the_recorded_costs() -> None:
    live = LiveCosts()
    live.note([output("a", 1, tokens_in=100, tokens_out=10, usd=0.01), output("b", 1, tokens_in=5)])
    live.note([output("a", 1, tokens_in=300, tokens_out=30, usd=0.03)])  # totals so far replace the last
    assert live.of_step(RUN, "a") == RunCost(0.03, 0, 330)
    assert live.of_run(RUN) == RunCost(0.03, 1, 335)  # b reports no dollars: unpriced, never $0
    assert live.note([event("step.state", "a", **{"from": "running", "to": "succeeded", "attempt": 1})]) == {(RUN, "a")}
    ended_at = live.generation
    assert live.of_step(RUN, "a") == RunCost(0.03, 0, 330)  # until the recorded costs are read again
    live.note([])
    assert live.settle(ended_at - 1) == set() and live.of_step(RUN, "a") is not None
    assert live.settle(ended_at) == {(RUN, "a")} and live.of_step(RUN, "a") is None
    assert live.of_run(RUN) == RunCost(0.0, 1, 5)


def test_a_late_word_from_a_replaced_attempt_and_an_ended_run() -> None:
    live = LiveCosts()
    live.note([output("a", 2, usd=0.5), output("a", 1, usd=9.0)])
    assert live.of_step(RUN, "a") == RunCost(0.5, 0, 0)
    live.note([event("step.state", "a", **{"from": "retrying", "to": "running", "attempt": 2})])
    assert live.running[(RUN, "a")] == (2, RunCost(0.5, 0, 0)) and not live.ending  # its own start does not end it
    live.note([event("run.state", None, **{"from": "running", "to": "canceled"})])
    assert not live.running and live.of_step(RUN, "a") == RunCost(0.5, 0, 0)
    live.settle()
    assert live.of_run(RUN) is None
    live.note([output("b", 1, usd=0.25)])
    assert live.of_run(RUN, running=False) is None and live.of_run(RUN) == RunCost(0.25, 0, 0)


def test_what_an_event_holds_never_throws_and_only_counts_when_it_is_a_count() -> None:
    live = LiveCosts()
    odd: list[Any] = ["12", True, -5, 1.5, None, [], {"n": 1}, math.nan, math.inf, -0.1, 10**30]
    for n, value in enumerate(odd):
        live.note([output(f"s{n}", 1, tokens_in=value, tokens_out=value, usd=value)])
        live.note([output(f"t{n}", value, usd=0.1)])
    counted = {key[1]: usage for key, (_attempt, usage) in live.running.items()}
    assert counted == {"s10": RunCost(1e30, 0, 2 * 10**30), "s3": RunCost(1.5, 0, 0), "t10": RunCost(0.1, 0, 0)}
    live.note([event("step.state", "s3", to="failed"), event("step.state", None, to="failed"),
               event("attempt.crashed", "s10", attempt="x"), event("run.state", None, to=["failed"])])
    assert set(live.running) == {(RUN, "t10")}
