"""The column schema of ``uet export`` and of the ``uet sql`` views: one definition, read by the
exporter (``store.export``), the SQL views (``store.views``), ``uet schemas export`` (one JSON
Schema per dataset, ``schemas/json/export.<dataset>.v1.json``) and the README.

Types are few and fixed: ``string``, ``integer`` (64-bit), ``number`` (64-bit float),
``timestamp`` (UTC, microseconds; ISO 8601 with ``Z`` in CSV and JSON lines) and ``seconds``
(a duration, a 64-bit float). What the store holds that could be large or private is not a
column: step and run specs (they carry the steps' environment), logs, agents' answers, diffs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

ColumnType = Literal["string", "integer", "number", "timestamp", "seconds"]

_PYTHON: dict[str, Any] = {"string": str, "integer": int, "number": float, "timestamp": datetime,
                           "seconds": float}
_UNITS = {"timestamp": "UTC", "seconds": "s"}


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    description: str
    unit: str | None = None
    nullable: bool = True

    @property
    def unit_text(self) -> str:
        return self.unit or _UNITS.get(self.type, "")


@dataclass(frozen=True)
class Dataset:
    """One exportable table: its columns in order, the key it is read in, and the column
    ``--since`` compares with."""

    name: str
    description: str
    key: tuple[str, ...]
    time: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]


def _c(name: str, type_: ColumnType, description: str, unit: str | None = None, nullable: bool = True) -> Column:
    return Column(name, type_, description, unit, nullable)


_RUN_ID = _c("run_id", "string", "the run's id", nullable=False)
_STEP_ID = _c("step_id", "string", "the step's id within its run", nullable=False)
_TOKENS = (
    _c("tokens_in", "integer", "input tokens the tool reported", "tokens"),
    _c("tokens_out", "integer", "output tokens the tool reported", "tokens"),
    _c("tokens_cached", "integer", "input tokens served from the tool's cache", "tokens"),
    _c("usd", "number", "what the attempt cost", "USD"),
    _c("model", "string", "the model the tool used"),
)

DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset("runs", "one row per run", ("id",), "created_at", (
        _c("id", "string", "the run's id", nullable=False),
        _c("workstream", "string", "the workstream's name", nullable=False),
        _c("source", "string", "the workstream file the run was made from"),
        _c("state", "string", "pending, running, paused, succeeded, failed, canceled or quarantined",
           nullable=False),
        _c("created_at", "timestamp", "when the run was made", nullable=False),
        _c("started_at", "timestamp", "when an engine first started it"),
        _c("ended_at", "timestamp", "when it ended"),
        _c("duration", "seconds", "ended_at - started_at"),
        _c("total_steps", "integer", "steps in the run", "steps", False),
        _c("succeeded_steps", "integer", "steps that succeeded", "steps", False),
        _c("failed_steps", "integer", "steps that failed", "steps", False),
        _c("skipped_steps", "integer", "steps skipped because a dependency failed", "steps", False),
        _c("canceled_steps", "integer", "steps canceled", "steps", False),
        _c("max_parallel", "integer", "steps allowed to run at once", "steps", False),
        _c("reason", "string", "why it ended as it did (cancel reason, failure)"),
    )),
    Dataset("steps", "one row per step of a run", ("run_id", "step_id"), "started_at", (
        _RUN_ID, _STEP_ID,
        _c("idx", "integer", "the step's place in the run's plan", nullable=False),
        _c("kind", "string", "lint, test, code_edit, review, …", nullable=False),
        _c("state", "string", "pending, ready, running, retrying, succeeded, failed, skipped or canceled",
           nullable=False),
        _c("tool", "string", "the tool of its last attempt"),
        _c("needs", "string", "the steps it depends on, a JSON list", nullable=False),
        _c("attempts", "integer", "attempts made", "attempts", False),
        _c("exit_code", "integer", "the last attempt's exit code"),
        _c("started_at", "timestamp", "when its first attempt started"),
        _c("ended_at", "timestamp", "when it ended"),
        _c("duration", "seconds", "ended_at - started_at (retries and backoff included)"),
        _c("reason", "string", "why it failed, was skipped or canceled"),
    )),
    Dataset("attempts", "one row per try of a step by a tool", ("run_id", "step_id", "attempt"), "started_at", (
        _RUN_ID, _STEP_ID,
        _c("attempt", "integer", "the attempt's number within its step, from 1", nullable=False),
        _c("tool", "string", "the tool that ran it", nullable=False),
        _c("state", "string", "running, succeeded, failed, timed_out or crashed", nullable=False),
        _c("started_at", "timestamp", "when it started", nullable=False),
        _c("ended_at", "timestamp", "when it ended"),
        _c("duration", "seconds", "how long the tool ran"),
        _c("exit_code", "integer", "the process's exit code"),
        _c("error", "string", "what went wrong, in one line"),
        *_TOKENS,
    )),
    Dataset("events", "the append-only event log", ("seq",), "ts", (
        _c("seq", "integer", "the event's place in the log, increasing", nullable=False),
        _c("ts", "timestamp", "when it happened", nullable=False),
        _c("run_id", "string", "the run it is about"),
        _c("step_id", "string", "the step it is about"),
        _c("kind", "string", "what happened: run.state, step.state, breaker.state, …", nullable=False),
        _c("data", "string", "the event's details, a JSON object", nullable=False),
    )),
    Dataset("costs", "one row per attempt that ran a tool: tokens, dollars, wall time",
            ("run_id", "step_id", "attempt"), "ts", (
        _RUN_ID, _STEP_ID,
        _c("attempt", "integer", "the attempt's number within its step", nullable=False),
        _c("tool", "string", "the tool that ran it", nullable=False),
        *_TOKENS,
        _c("wall", "seconds", "how long the tool ran"),
        _c("ts", "timestamp", "when the attempt ended"),
    )),
    Dataset("patches", "one row per proposed change (the diff itself stays in the store)", ("id",),
            "created_at", (
        _c("id", "string", "the patch's id", nullable=False),
        _RUN_ID, _STEP_ID,
        _c("attempt", "integer", "the attempt that proposed it", nullable=False),
        _c("state", "string", "proposed, gating, gate_passed, gate_failed, approved, rejected, applied, …",
           nullable=False),
        _c("base_commit", "string", "the commit it applies to", nullable=False),
        _c("sha256", "string", "the diff's SHA-256", nullable=False),
        _c("files", "string", "the files it changes, a JSON list", nullable=False),
        _c("added", "integer", "lines added", "lines", False),
        _c("removed", "integer", "lines removed", "lines", False),
        _c("gate", "string", "the gate it must pass"),
        _c("round", "integer", "its round (1, then fix and revision rounds)", nullable=False),
        _c("round_kind", "string", "first, fix, revision or subset", nullable=False),
        _c("parent_id", "string", "the patch it came from"),
        _c("superseded_by", "string", "the patch of the round that replaced it"),
        _c("created_at", "timestamp", "when it was proposed", nullable=False),
        _c("updated_at", "timestamp", "when its state last changed", nullable=False),
        _c("decided_by", "string", "who approved or rejected it"),
        _c("reason", "string", "the reason given with the decision"),
        _c("applied_commit", "string", "the commit it was applied as"),
    )),
)}


def row_model(dataset: Dataset) -> type[BaseModel]:
    """A row of the dataset as JSON lines write it: the model ``uet schemas export`` turns into
    ``export.<dataset>.v1.json``. Each property carries ``x-type`` and ``x-unit``."""
    fields: dict[str, Any] = {}
    for column in dataset.columns:
        annotation: Any = _PYTHON[column.type]
        if column.nullable:
            annotation = annotation | None
        extra = {"x-type": column.type, **({"x-unit": column.unit_text} if column.unit_text else {})}
        fields[column.name] = (annotation, Field(..., description=column.description, json_schema_extra=extra))
    title = "".join(part.title() for part in dataset.name.split("_")) + "ExportRow"
    config = ConfigDict(extra="forbid", title=title)
    model = create_model(title, __config__=config, **fields)
    model.__doc__ = f"A row of `uet export {dataset.name}`: {dataset.description}."
    return model


ROW_MODELS: dict[str, type[BaseModel]] = {name: row_model(dataset) for name, dataset in DATASETS.items()}
