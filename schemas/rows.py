"""Rows the store hands to its readers as plain tuples, without Pydantic: what a face loads by
the thousand (the steps of a run, the events of a feed) and what the dashboard lists before the
record models are imported. ``schemas.records`` gives the same step row under its old name.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class StepRow(NamedTuple):
    """A step as the engine loads it: the same fields as StepRecord, as a plain tuple.

    Loading a 10,000-step run builds 10,000 of these; a NamedTuple costs a microsecond where a
    Pydantic model costs over ten, and the values come from our own store, already validated.
    """

    run_id: str
    id: str
    kind: str
    state: str
    tool: str | None
    needs: list[str]
    attempts: int
    attempt_base: int
    exit_code: int | None
    started_at: float | None
    ended_at: float | None
    reason: str | None
    spec: dict[str, Any]
    due_at: float | None = None


class EventRow(NamedTuple):
    """An event as ``schemas.records.EventRecord`` has it (same fields, same order)."""

    seq: int
    ts: float
    run_id: str | None
    step_id: str | None
    kind: str
    data: dict[str, Any]
