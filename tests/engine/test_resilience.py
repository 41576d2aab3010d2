"""Retries (decision + backoff) and the per-tool circuit breaker, driven with explicit clocks."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.pipeline import enforce, retry_policy
from engine.resilience import (
    NO_RETRY,
    Breaker,
    BreakerChange,
    backoff_delay,
    effective_policy,
    retry_decision,
)
from schemas.execution import ExecutionResult
from schemas.records import BreakerRecord
from schemas.router import BreakerPolicy
from schemas.states import BreakerState
from schemas.workstream import RetryPolicy

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def retry(**fields: Any) -> RetryPolicy:
    return RetryPolicy.model_validate(fields)


def policy(**fields: Any) -> BreakerPolicy:
    return BreakerPolicy.model_validate(fields)


# --------------------------------------------------------------------------------------------
# retry_decision


@pytest.mark.parametrize("outcome", ["succeeded", "canceled"])
def test_succeeded_and_canceled_are_never_retried(outcome: str) -> None:
    generous = retry(max_attempts=10, retry_on=["failed", "timed_out", "crashed"])
    assert retry_decision(generous, outcome, 0, 1) == (False, outcome)
    assert retry_decision(generous, outcome, None, 1) == (False, outcome)


def test_the_default_policy_makes_one_attempt() -> None:
    assert NO_RETRY.max_attempts == 1
    again, why = retry_decision(NO_RETRY, "failed", 1, 1)
    assert not again
    assert why == "1 of 1 attempts used"


def test_max_attempts_is_respected() -> None:
    p = retry(max_attempts=3)
    assert retry_decision(p, "failed", 1, 1) == (True, "attempt 1 failed; retrying")
    assert retry_decision(p, "failed", 1, 2) == (True, "attempt 2 failed; retrying")
    assert retry_decision(p, "failed", 1, 3) == (False, "3 of 3 attempts used")
    assert retry_decision(p, "failed", 1, 4)[0] is False


def test_retry_on_filters_outcomes() -> None:
    p = retry(max_attempts=5, retry_on=["timed_out"])
    assert retry_decision(p, "failed", 1, 1) == (False, "failed is not in retry_on")
    assert retry_decision(p, "crashed", None, 1) == (False, "crashed is not in retry_on")
    assert retry_decision(p, "timed_out", None, 1)[0] is True


def test_non_retryable_exit_codes_are_final() -> None:
    p = retry(max_attempts=5, non_retryable_exit_codes=[2, 127])
    assert retry_decision(p, "failed", 2, 1) == (False, "exit code 2 is not retryable")
    assert retry_decision(p, "failed", 127, 1)[0] is False
    assert retry_decision(p, "failed", 1, 1)[0] is True


def test_exit_codes_is_an_allow_list() -> None:
    p = retry(max_attempts=5, exit_codes=[75, 1])
    assert retry_decision(p, "failed", 75, 1)[0] is True
    assert retry_decision(p, "failed", 1, 1)[0] is True
    assert retry_decision(p, "failed", 3, 1) == (False, "exit code 3 is not in retry exit_codes")


def test_non_retryable_wins_over_the_allow_list() -> None:
    p = retry(max_attempts=5, exit_codes=[1, 2], non_retryable_exit_codes=[2])
    assert retry_decision(p, "failed", 2, 1) == (False, "exit code 2 is not retryable")


def test_exit_code_rules_only_judge_failures() -> None:
    # A timeout is reported with the signal's exit code; exit-code rules are about the tool's
    # own verdicts, so they must not stop the retry of a timeout.
    p = retry(max_attempts=5, exit_codes=[1], non_retryable_exit_codes=[-15])
    assert retry_decision(p, "timed_out", -15, 1)[0] is True


def test_crashed_without_exit_code_is_retried_when_in_retry_on() -> None:
    p = retry(max_attempts=2, retry_on=["crashed"], exit_codes=[1], non_retryable_exit_codes=[0])
    assert retry_decision(p, "crashed", None, 1) == (True, "attempt 1 crashed; retrying")


def test_allow_list_does_not_retry_a_failure_without_exit_code() -> None:
    p = retry(max_attempts=5, exit_codes=[75])
    # e.g. the python adapter's "cannot load module:function" failure has no exit code
    assert retry_decision(p, "failed", None, 1)[0] is False


# --------------------------------------------------------------------------------------------
# backoff_delay


def test_durations_are_parsed() -> None:
    p = retry(backoff="500ms", max_backoff="1m")
    assert (p.backoff, p.max_backoff) == (0.5, 60.0)


def test_no_jitter_doubles_up_to_the_cap() -> None:
    p = retry(backoff=1, max_backoff=60, jitter="none")
    rng = random.Random(0)
    delays = [backoff_delay(p, n, rng) for n in range(1, 10)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_no_jitter_does_not_touch_the_rng() -> None:
    p = retry(backoff=2, max_backoff=10, jitter="none")
    rng = random.Random(5)
    state = rng.getstate()
    backoff_delay(p, 3, rng)
    assert rng.getstate() == state


@settings(max_examples=300, deadline=None, database=None)
@given(
    backoff=st.floats(min_value=0, max_value=1000, allow_nan=False, allow_infinity=False),
    extra=st.floats(min_value=0, max_value=5000, allow_nan=False, allow_infinity=False),
    attempt=st.integers(min_value=1, max_value=80),
    jitter=st.sampled_from(["full", "none"]),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_backoff_bounds(backoff: float, extra: float, attempt: int, jitter: str, seed: int) -> None:
    p = retry(backoff=backoff, max_backoff=backoff + extra, jitter=jitter)
    cap = min(p.max_backoff, p.backoff * 2 ** (attempt - 1))
    delay = backoff_delay(p, attempt, random.Random(seed))
    assert 0.0 <= delay <= cap
    if jitter == "none":
        assert delay == cap
        assert backoff_delay(p, attempt + 1, random.Random(seed)) >= delay


def test_full_jitter_spreads_and_stays_under_the_cap() -> None:
    p = retry(backoff=1, max_backoff=8, jitter="full")
    rng = random.Random(1)
    delays = [backoff_delay(p, 10, rng) for _ in range(500)]
    assert all(0.0 <= d <= 8.0 for d in delays)
    assert min(delays) < 1.0 and max(delays) > 7.0  # drawn from the whole range, not a fixed value


def test_seeded_rng_reproduces_the_sequence() -> None:
    p = retry(backoff=1, max_backoff=30, jitter="full")

    def sequence(seed: int) -> list[float]:
        rng = random.Random(seed)
        return [backoff_delay(p, n, rng) for n in range(1, 8)]

    assert sequence(42) == sequence(42)
    assert sequence(42) != sequence(43)


# --------------------------------------------------------------------------------------------
# enforce / retry_policy (the pipeline's use of the two functions above)


def test_enforce_verdicts() -> None:
    p = retry(max_attempts=2, backoff=3, jitter="none")
    rng = random.Random(0)
    assert enforce(ExecutionResult("succeeded", 0), p, 1, rng, False).state == "succeeded"
    canceled = enforce(ExecutionResult("canceled", error="canceled by operator"), p, 1, rng, False)
    assert (canceled.state, canceled.reason) == ("canceled", "canceled by operator")
    again = enforce(ExecutionResult("failed", 1, error="exit 1"), p, 1, rng, False)
    assert (again.state, again.delay, again.reason) == ("retrying", 3.0, "exit 1")
    final = enforce(ExecutionResult("failed", 1, error="exit 1"), p, 2, rng, False)
    assert (final.state, final.reason) == ("failed", "exit 1 (2 of 2 attempts used)")
    stopping = enforce(ExecutionResult("failed", 1, error="exit 1"), p, 1, rng, True)
    assert stopping.state == "failed"


def test_retry_policy_from_step_or_default() -> None:
    default = retry(max_attempts=4)
    assert retry_policy({}, None) is NO_RETRY
    assert retry_policy({}, default) is default
    assert retry_policy({"retry": {"max_attempts": 2, "backoff": "2s"}}, default) == retry(
        max_attempts=2, backoff=2
    )


# --------------------------------------------------------------------------------------------
# Breaker: closed → open


def feed(breaker: Breaker, outcomes: str, start: float = 0.0) -> list[BreakerChange | None]:
    """F = failed, S = succeeded, T = timed_out, C = crashed, X = canceled; one call per second."""
    names = {"F": "failed", "S": "succeeded", "T": "timed_out", "C": "crashed", "X": "canceled"}
    return [breaker.record(names[c], start + i, was_probe=False) for i, c in enumerate(outcomes)]


def test_opens_after_consecutive_failures() -> None:
    b = Breaker("ruff", policy(consecutive_failures=3, window=10, min_calls=10))
    assert feed(b, "FF") == [None, None]
    assert b.state is CLOSED and b.consecutive == 2
    change = b.record("failed", 7.0, was_probe=False)
    assert change == BreakerChange("ruff", CLOSED, OPEN, "3 failures in a row")
    assert b.state is OPEN and b.opened_at == 7.0


def test_a_success_resets_the_run_of_failures() -> None:
    b = Breaker("ruff", policy(consecutive_failures=3, window=10, min_calls=10))
    assert feed(b, "FFSFF") == [None] * 5
    assert b.state is CLOSED and b.consecutive == 2
    change = b.record("crashed", 9.0, was_probe=False)
    assert change is not None and change.target is OPEN


def test_rate_is_not_judged_before_min_calls() -> None:
    b = Breaker("t", policy(consecutive_failures=100, window=10, min_calls=5, failure_rate=0.5))
    assert feed(b, "FFFF") == [None] * 4  # 4 of 4 failed, but only 4 calls
    assert b.state is CLOSED
    change = b.record("failed", 10.0, was_probe=False)
    assert change == BreakerChange("t", CLOSED, OPEN, "5 of the last 5 calls failed")


def test_the_fifth_call_making_three_of_five_opens() -> None:
    b = Breaker("t", policy(consecutive_failures=100, window=10, min_calls=5, failure_rate=0.5))
    assert feed(b, "FFSS") == [None] * 4
    change = b.record("failed", 10.0, was_probe=False)
    assert change == BreakerChange("t", CLOSED, OPEN, "3 of the last 5 calls failed")


def test_below_the_rate_stays_closed_and_equal_opens() -> None:
    b = Breaker("t", policy(consecutive_failures=100, window=10, min_calls=5, failure_rate=0.5))
    assert feed(b, "FSSSF") == [None] * 5  # 2 of 5 = 0.4
    assert b.state is CLOSED
    change = b.record("failed", 10.0, was_probe=False)  # 3 of 6 = 0.5
    assert change == BreakerChange("t", CLOSED, OPEN, "3 of the last 6 calls failed")


def test_old_failures_slide_out_of_the_window() -> None:
    b = Breaker("t", policy(consecutive_failures=100, window=4, min_calls=4, failure_rate=0.75))
    assert feed(b, "FFSSSSFF") == [None] * 8  # window now S S F F: 2 of 4
    assert list(b.window) == [False, False, True, True]
    change = b.record("failed", 20.0, was_probe=False)  # S F F F: 3 of 4
    assert change == BreakerChange("t", CLOSED, OPEN, "3 of the last 4 calls failed")


def test_rate_reached_by_a_success_reaching_min_calls_opens() -> None:
    b = Breaker("t", policy(consecutive_failures=100, window=10, min_calls=5, failure_rate=0.5))
    feed(b, "FFFFS")
    assert b.state is OPEN


def test_outcomes_outside_trips_on_are_not_failures() -> None:
    b = Breaker(
        "pytest",
        policy(consecutive_failures=2, window=10, min_calls=2, trips_on=["timed_out", "crashed"]),
    )
    assert feed(b, "FFFFFFFFFF") == [None] * 10  # failing tests: the tool itself is healthy
    assert b.state is CLOSED and b.consecutive == 0 and not any(b.window)
    assert feed(b, "TFT", start=20) == [None] * 3  # 'failed' breaks the run like a success
    assert b.state is CLOSED
    change = b.record("crashed", 30.0, was_probe=False)
    assert change is not None and change.target is OPEN and change.reason == "2 failures in a row"


def test_canceled_outcomes_are_ignored_when_closed() -> None:
    b = Breaker("t", policy(consecutive_failures=3, window=10, min_calls=10))
    assert feed(b, "FFXXX") == [None] * 5
    assert b.consecutive == 2 and list(b.window) == [True, True]  # not reset, not counted
    assert b.record("failed", 9.0, was_probe=False) is not None


# --------------------------------------------------------------------------------------------
# Breaker: open → half_open → closed | open


def opened(open_for: float = 30.0, max_half_open: float = 600.0, at: float = 100.0) -> Breaker:
    b = Breaker(
        "aider", policy(consecutive_failures=1, open_for=open_for, max_half_open=max_half_open)
    )
    change = b.record("failed", at, was_probe=False)
    assert change is not None and b.state is OPEN
    return b


def test_closed_breaker_admits_everything_without_changes() -> None:
    b = Breaker("t", policy())
    assert b.available(0.0)
    assert b.acquire(0.0) == (True, None)
    assert b.acquire(0.0) == (True, None)
    assert b.next_probe_at() is None
    assert b.probe_started_at is None


def test_open_breaker_is_unavailable_until_open_for_has_passed() -> None:
    b = opened(open_for=30.0, at=100.0)
    assert b.next_probe_at() == 130.0
    assert not b.available(129.9)
    assert b.acquire(129.9) == (False, None)
    assert b.state is OPEN
    assert b.available(130.0)
    assert b.state is OPEN  # available() never changes state


def test_acquire_half_opens_and_admits_exactly_one_probe() -> None:
    b = opened(open_for=30.0, max_half_open=600.0, at=100.0)
    admitted, change = b.acquire(131.0)
    assert admitted
    assert change == BreakerChange("aider", OPEN, HALF_OPEN, "open for 30s; probing")
    assert b.state is HALF_OPEN and b.probe_started_at == 131.0
    assert b.acquire(131.5) == (False, None)  # the probe is still in flight
    assert not b.available(200.0)
    assert b.next_probe_at() == 731.0


def test_probe_success_closes_and_clears_counters() -> None:
    b = Breaker("t", policy(consecutive_failures=100, window=10, min_calls=3, open_for=10))
    feed(b, "FFF")
    assert b.state is OPEN
    b.acquire(20.0)
    change = b.record("succeeded", 21.0, was_probe=True)
    assert change == BreakerChange("t", HALF_OPEN, CLOSED, "probe succeeded")
    assert b.state is CLOSED
    assert (b.consecutive, list(b.window), b.opened_at, b.probe_started_at) == (0, [], None, None)
    assert b.next_probe_at() is None
    # A fresh start: it takes min_calls again before the rate is judged.
    assert feed(b, "FF", start=30) == [None, None]
    assert b.state is CLOSED


def test_probe_failure_reopens_with_a_fresh_opened_at() -> None:
    b = opened(open_for=30.0, at=100.0)
    b.acquire(130.0)
    change = b.record("timed_out", 135.0, was_probe=True)
    assert change == BreakerChange("aider", HALF_OPEN, OPEN, "probe timed_out")
    assert b.state is OPEN and b.opened_at == 135.0 and b.probe_started_at is None
    assert b.next_probe_at() == 165.0
    assert not b.available(164.0)
    admitted, again = b.acquire(165.0)
    assert admitted and again is not None and (again.source, again.target) == (OPEN, HALF_OPEN)


def test_probe_outcome_outside_trips_on_closes() -> None:
    b = Breaker("pytest", policy(consecutive_failures=1, trips_on=["crashed"], open_for=5))
    b.record("crashed", 0.0, was_probe=False)
    b.acquire(5.0)
    change = b.record("failed", 6.0, was_probe=True)  # failing tests: the runner works
    assert change is not None and change.target is CLOSED


def test_non_probe_results_while_half_open_change_nothing() -> None:
    b = opened(open_for=30.0, at=100.0)
    b.acquire(130.0)
    assert b.record("failed", 131.0, was_probe=False) is None
    assert b.record("succeeded", 132.0, was_probe=False) is None
    assert b.state is HALF_OPEN
    assert b.probe_started_at == 130.0
    assert not b.available(133.0)  # the probe still holds the slot


def test_a_probe_that_never_reports_frees_the_slot_after_max_half_open() -> None:
    b = opened(open_for=30.0, max_half_open=60.0, at=100.0)
    b.acquire(130.0)
    assert not b.available(189.9)
    assert b.acquire(189.9) == (False, None)
    assert b.available(190.0)
    assert b.acquire(190.0) == (True, None)  # a new probe; already half-open, so no change
    assert b.state is HALF_OPEN and b.probe_started_at == 190.0
    assert b.acquire(190.0) == (False, None)


def test_release_frees_the_probe_slot() -> None:
    b = opened(at=100.0)
    b.acquire(130.0)
    b.release()
    assert b.state is HALF_OPEN and b.probe_started_at is None
    assert b.available(130.0)
    assert b.acquire(130.0) == (True, None)
    assert b.acquire(130.0) == (False, None)


def test_release_is_a_no_op_unless_half_open() -> None:
    b = opened(at=100.0)
    b.release()
    assert b.state is OPEN and b.opened_at == 100.0


def test_a_canceled_probe_frees_the_slot_and_changes_nothing_else() -> None:
    b = opened(at=100.0)
    b.acquire(130.0)
    window = list(b.window)
    assert b.record("canceled", 131.0, was_probe=True) is None
    assert b.state is HALF_OPEN and list(b.window) == window
    assert b.available(131.0)


def test_a_canceled_non_probe_keeps_the_probe_slot() -> None:
    b = opened(at=100.0)
    b.acquire(130.0)
    assert b.record("canceled", 131.0, was_probe=False) is None
    assert not b.available(131.0)


def test_straggler_results_while_open_do_not_move_the_breaker() -> None:
    b = opened(open_for=30.0, at=100.0)
    assert b.record("failed", 101.0, was_probe=False) is None
    assert b.record("succeeded", 102.0, was_probe=False) is None
    assert b.state is OPEN and b.opened_at == 100.0


def test_reasons_are_readable() -> None:
    b = Breaker("gemini", policy(consecutive_failures=2, open_for="2m"))
    opened_change = feed(b, "FC")[-1]
    assert opened_change is not None
    _, probing = b.acquire(1000.0)
    assert probing is not None
    reopened = b.record("crashed", 1001.0, was_probe=True)
    _, probing_again = b.acquire(2000.0)
    closed = b.record("succeeded", 2001.0, was_probe=True)
    changes = [opened_change, probing, reopened, probing_again, closed]
    assert [(c.source, c.target) for c in changes] == [
        (CLOSED, OPEN),
        (OPEN, HALF_OPEN),
        (HALF_OPEN, OPEN),
        (OPEN, HALF_OPEN),
        (HALF_OPEN, CLOSED),
    ]
    assert [c.reason for c in changes] == [
        "2 failures in a row",
        "open for 120s; probing",
        "probe crashed",
        "open for 120s; probing",
        "probe succeeded",
    ]
    assert all(c.tool == "gemini" for c in changes)


# --------------------------------------------------------------------------------------------
# persistence and policy merging


@pytest.mark.parametrize("phase", ["closed", "open", "half_open"])
def test_snapshot_round_trips(phase: str) -> None:
    p = policy(consecutive_failures=3, window=6, min_calls=6, open_for=10, max_half_open=50)
    b = Breaker("t", p)
    feed(b, "FSFF" if phase == "closed" else "SFFF")
    if phase == "half_open":
        b.acquire(20.0)
    assert b.state.value == phase
    record = b.snapshot(42.0)
    assert record.updated_at == 42.0 and record.tool == "t"
    restored_record = BreakerRecord.model_validate_json(record.model_dump_json())
    again = Breaker("t", p, record=restored_record)
    assert again.state is b.state
    assert (again.consecutive, list(again.window), again.opened_at, again.probe_started_at) == (
        b.consecutive,
        list(b.window),
        b.opened_at,
        b.probe_started_at,
    )
    assert again.snapshot(42.0) == record
    for now in (5.0, 12.0, 20.0, 69.0, 70.0):
        assert again.available(now) == b.available(now)
        assert again.next_probe_at() == b.next_probe_at()


def test_restoring_trims_the_window_to_the_policy() -> None:
    record = BreakerRecord(
        tool="t", state=CLOSED, consecutive_failures=1, window=[True, False, False, True]
    )
    b = Breaker("t", policy(window=2), record=record)
    assert list(b.window) == [False, True]
    b.record("succeeded", 0.0, was_probe=False)
    assert list(b.window) == [True, False]  # still bounded after restore


def test_effective_policy_merges_only_the_fields_the_tool_set() -> None:
    default = policy(consecutive_failures=7, window=20, min_calls=8, open_for="1m")
    assert effective_policy(default, None) is default
    override = policy(open_for="5s", trips_on=["crashed"])
    merged = effective_policy(default, override)
    assert merged.open_for == 5.0 and merged.trips_on == ["crashed"]
    assert (merged.consecutive_failures, merged.window, merged.min_calls) == (7, 20, 8)
    # A field the tool set explicitly wins even if it equals BreakerPolicy's own default.
    explicit = effective_policy(default, policy(consecutive_failures=5))
    assert explicit.consecutive_failures == 5 and explicit.open_for == 60.0
    # An empty override changes nothing.
    assert effective_policy(default, policy()) == default


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["succeeded", "failed", "timed_out", "canceled"]), max_size=60),
       st.integers(min_value=1, max_value=6), st.integers(min_value=1, max_value=8))
def test_the_breaker_counts_failures_in_its_window_as_calls_come_and_go(
        outcomes: list[str], window: int, threshold: int) -> None:
    """The running failure count always equals the failures among the window's calls, and the
    breaker opens exactly when the rule over the window (or the run of failures) says so."""
    policy = BreakerPolicy(consecutive_failures=threshold, window=window, min_calls=min(window, 3),
                           failure_rate=0.5, open_for=60)
    breaker = Breaker("t", policy)
    now = 0.0
    for outcome in outcomes:
        now += 1.0
        was_closed = breaker.state is BreakerState.CLOSED
        change = breaker.record(outcome, now, False)
        assert breaker.failures == sum(breaker.window)
        if was_closed and outcome != "canceled":
            window_rule = (len(breaker.window) >= policy.min_calls
                           and sum(breaker.window) / len(breaker.window) >= policy.failure_rate)
            run_rule = outcome in policy.trips_on and breaker.consecutive >= threshold
            assert (change is not None) == (window_rule or run_rule)
