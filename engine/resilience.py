"""Retries and circuit breakers.

Retry sits *outside* the breaker: an open breaker never burns an attempt, it defers the step
until the breaker lets a probe through. Backoff is exponential with full jitter (each delay
drawn from [0, min(max_backoff, backoff·2ⁿ⁻¹)]), which spreads retries of many steps apart.

A breaker opens on ``consecutive_failures`` in a row, or when at least ``min_calls`` of the
last ``window`` calls were recorded and ``failure_rate`` of them failed. After ``open_for`` it
lets exactly one probe through (half-open); the probe's result closes or re-opens it. A probe
that never reports frees the slot after ``max_half_open``. State changes are persisted so every
process sees them.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

from engine.states import transition
from schemas.records import BreakerRecord
from schemas.router import BreakerPolicy
from schemas.states import BreakerState
from schemas.workstream import RetryPolicy

NO_RETRY = RetryPolicy()


def retry_decision(policy: RetryPolicy, outcome: str, exit_code: int | None, attempts_this_round: int) -> tuple[bool, str]:
    """Whether another attempt should follow, and why (or why not)."""
    if outcome == "succeeded" or outcome == "canceled":
        return False, outcome
    if attempts_this_round >= policy.max_attempts:
        return False, f"{attempts_this_round} of {policy.max_attempts} attempts used"
    if outcome not in policy.retry_on:
        return False, f"{outcome} is not in retry_on"
    if outcome == "failed" and exit_code is None and policy.exit_codes is not None:
        return False, "no exit code, and retry exit_codes is set"
    if outcome == "failed" and exit_code is not None:
        if exit_code in policy.non_retryable_exit_codes:
            return False, f"exit code {exit_code} is not retryable"
        if policy.exit_codes is not None and exit_code not in policy.exit_codes:
            return False, f"exit code {exit_code} is not in retry exit_codes"
    return True, f"attempt {attempts_this_round} {outcome}; retrying"


def backoff_delay(policy: RetryPolicy, attempts_this_round: int, rng: random.Random) -> float:
    ceiling = min(policy.max_backoff, policy.backoff * (2 ** max(0, attempts_this_round - 1)))
    return rng.uniform(0.0, ceiling) if policy.jitter == "full" else ceiling


def effective_policy(default: BreakerPolicy, override: BreakerPolicy | None) -> BreakerPolicy:
    """A tool's breaker settings: the router default with the fields the tool set replaced."""
    if override is None:
        return default
    return default.model_copy(update={name: getattr(override, name) for name in override.model_fields_set})


@dataclass(frozen=True)
class BreakerChange:
    tool: str
    source: BreakerState
    target: BreakerState
    reason: str


class Breaker:
    def __init__(self, tool: str, policy: BreakerPolicy, record: BreakerRecord | None = None) -> None:
        self.tool = tool
        self.policy = policy
        self.state = BreakerState.CLOSED
        self.consecutive = 0
        self.window: deque[bool] = deque(maxlen=policy.window)
        self.opened_at: float | None = None
        self.probe_started_at: float | None = None
        if record is not None:
            self.state = BreakerState(record.state)
            self.consecutive = record.consecutive_failures
            self.window.extend(record.window[-policy.window :])
            self.opened_at = record.opened_at
            self.probe_started_at = record.probe_started_at
        self.failures = sum(self.window)  # failures in the window, kept as calls come and go

    def _move(self, target: BreakerState, reason: str) -> BreakerChange:
        source = self.state
        self.state = transition("breaker", source, target, self.tool)
        return BreakerChange(self.tool, source, target, reason)

    def next_probe_at(self) -> float | None:
        """When a blocked caller should look again."""
        if self.state is BreakerState.OPEN and self.opened_at is not None:
            return self.opened_at + self.policy.open_for
        if self.state is BreakerState.HALF_OPEN and self.probe_started_at is not None:
            return self.probe_started_at + self.policy.max_half_open
        return None

    def available(self, now: float) -> bool:
        """Would ``acquire`` let a call through now? (No state change.)"""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            return self.opened_at is None or now >= self.opened_at + self.policy.open_for
        return self.probe_started_at is None or now >= self.probe_started_at + self.policy.max_half_open

    def acquire(self, now: float) -> tuple[bool, BreakerChange | None]:
        """Ask to make a call. In half-open exactly one probe is admitted at a time."""
        if self.state is BreakerState.CLOSED:
            return True, None
        if not self.available(now):
            return False, None
        change = None
        if self.state is BreakerState.OPEN:
            change = self._move(BreakerState.HALF_OPEN, f"open for {self.policy.open_for:g}s; probing")
        self.probe_started_at = now
        return True, change

    def release(self) -> None:
        """A probe slot was taken but the call never happened."""
        if self.state is BreakerState.HALF_OPEN:
            self.probe_started_at = None

    def record(self, outcome: str, now: float, was_probe: bool) -> BreakerChange | None:
        if outcome == "canceled":
            self.release() if was_probe else None
            return None
        failed = outcome in self.policy.trips_on
        window = self.window
        if len(window) == window.maxlen and window[0]:
            self.failures -= 1  # the oldest call leaves the window
        window.append(failed)
        self.failures += failed
        self.consecutive = self.consecutive + 1 if failed else 0
        if self.state is BreakerState.HALF_OPEN:
            if not was_probe:
                return None  # a call admitted before the breaker opened; the probe decides
            self.probe_started_at = None
            if failed:
                self.opened_at = now
                return self._move(BreakerState.OPEN, f"probe {outcome}")
            self.window.clear()
            self.failures = 0
            self.consecutive = 0
            self.opened_at = None
            return self._move(BreakerState.CLOSED, "probe succeeded")
        if self.state is BreakerState.CLOSED:
            reason = None
            if failed and self.consecutive >= self.policy.consecutive_failures:
                reason = f"{self.consecutive} failures in a row"
            elif len(self.window) >= self.policy.min_calls:
                rate = self.failures / len(self.window)
                if rate >= self.policy.failure_rate:
                    reason = f"{self.failures} of the last {len(self.window)} calls failed"
            if reason:
                self.opened_at = now
                return self._move(BreakerState.OPEN, reason)
        return None

    def reset(self) -> None:
        """Closed by a person, not by a probe: no state-machine move (open → closed is not one),
        the failures forgotten. The store row and its event are written by ``engine.breakers``."""
        self.state = BreakerState.CLOSED
        self.window.clear()
        self.failures = 0
        self.consecutive = 0
        self.opened_at = None
        self.probe_started_at = None

    def snapshot(self, now: float) -> BreakerRecord:
        return BreakerRecord(
            tool=self.tool,
            state=self.state,
            consecutive_failures=self.consecutive,
            window=list(self.window),
            opened_at=self.opened_at,
            probe_started_at=self.probe_started_at,
            updated_at=now,
        )
