"""What a run has spent (tokens, dollars, executing time) against its budget.

Kept apart from the attempts that spend it so the rule "the first budget reached pauses the
run" can be read and tested without running anything.
"""

from __future__ import annotations

from collections.abc import Callable

from schemas.execution import ExecutionResult
from schemas.workstream import Budget

_SHOWN: dict[str, Callable[[float], str]] = {
    "usd": lambda v: f"${v:,.4f}",
    "tokens": lambda v: f"{int(v):,} tokens",
    "wall": lambda v: f"{v:,.1f}s",
}


class Spend:
    """The run's spending over every engine session; ``executed`` is the executing time of the
    sessions before this one (pauses excluded)."""

    def __init__(self, budget: Budget | None, tokens: int, usd: float, executed: float,
                 clock: Callable[[], float]) -> None:
        self.budget = budget
        self.tokens_used = tokens
        self.usd_used = usd
        self.executed = executed
        self.clock = clock
        self.session_started: float | None = None

    def add(self, result: ExecutionResult) -> None:
        tokens = result.tokens
        if tokens is not None:
            self.tokens_used += tokens
        if result.usd is not None:
            self.usd_used += result.usd

    def wall_used(self) -> float:
        """Seconds this run has been executing, over every engine session (pauses excluded)."""
        session = self.clock() - self.session_started if self.session_started is not None else 0.0
        return self.executed + session

    def reached(self) -> tuple[str, float, float] | None:
        """The first budget reached, as (name, used, limit); None while every one has room."""
        budget = self.budget
        if budget is None:
            return None
        if budget.usd is not None and self.usd_used >= budget.usd:
            return ("usd", self.usd_used, budget.usd)
        if budget.tokens is not None and self.tokens_used >= budget.tokens:
            return ("tokens", self.tokens_used, budget.tokens)
        if budget.wall is not None and self.wall_used() >= budget.wall:
            return ("wall", self.wall_used(), budget.wall)
        return None

    @staticmethod
    def describe(found: tuple[str, float, float]) -> str:
        name, used, limit = found
        shown = _SHOWN[name]
        return f"{name} budget reached: {shown(used)} of {shown(limit)}"
