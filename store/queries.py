"""Typed reads. Every function returns ``schemas`` records, never Peewee rows, and reads only
what it needs: the change feed reads events after a sequence number, tables read by index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from schemas.records import (
    AttemptRecord,
    BreakerRecord,
    CommandRecord,
    EventRecord,
    RunRecord,
    StepRecord,
    StepRow,
    ToolStatsRecord,
    WorkerRecord,
)
from store.errors import NoSuchRecord
from store.tables import Attempt, Breaker, Command, Event, Run, Step, ToolStat, Worker, database

_RUN_FIELDS = [f for f in RunRecord.model_fields]


def _run(row: Run) -> RunRecord:
    return RunRecord.model_validate({name: getattr(row, name) for name in _RUN_FIELDS})


def list_runs(limit: int = 50, offset: int = 0) -> list[RunRecord]:
    query = Run.select().order_by(Run.created_at.desc(), Run.id.desc()).limit(limit).offset(offset)
    return [_run(row) for row in query]


def count_runs() -> int:
    return Run.select().count()


def get_run(run_id: str) -> RunRecord:
    row = Run.get_or_none(Run.id == run_id)
    if row is None:
        raise NoSuchRecord(f"no run {run_id!r}")
    return _run(row)


def resolve_run_id(prefix: str) -> str:
    """The run whose id is ``prefix`` or starts with it; an ambiguous prefix is an error."""
    if not prefix:
        raise NoSuchRecord("a run id is needed")
    exact = Run.get_or_none(Run.id == prefix)
    if exact is not None:
        return str(exact.id)
    matches = [r.id for r in Run.select(Run.id).where(Run.id.startswith(prefix)).limit(6)]
    matches = [m for m in matches if m.startswith(prefix)]
    if not matches:
        raise NoSuchRecord(f"no run matches {prefix!r}; `uet runs` lists them")
    if len(matches) > 1:
        shown = ", ".join(matches[:5])
        raise NoSuchRecord(f"{prefix!r} matches several runs ({shown}); give more of the id")
    return str(matches[0])


def run_spec(run_id: str) -> dict:
    row = Run.get_or_none(Run.id == run_id)
    if row is None:
        raise NoSuchRecord(f"no run {run_id!r}")
    return json.loads(row.spec)


_STEP_SQL = (
    "SELECT run_id, id, kind, state, tool, needs, attempts, attempt_base, exit_code, started_at, ended_at, "
    "reason, spec FROM steps WHERE run_id = ?"
)
_decode = json.JSONDecoder().raw_decode


def _loads(text: str) -> Any:
    return [] if text == "[]" else {} if text == "{}" else _decode(text)[0]


def step_rows(run_id: str) -> list[StepRow]:
    """Every step of a run in plan order, as tuples: the engine's loading path (see StepRow)."""
    cursor = database.execute_sql(_STEP_SQL + " ORDER BY idx", (run_id,))
    return [
        StepRow(r[0], r[1], r[2], r[3], r[4], _loads(r[5]), r[6], r[7], r[8], r[9], r[10], r[11], _loads(r[12]))
        for r in cursor.fetchall()
    ]


def _record(row: StepRow) -> StepRecord:
    return StepRecord.model_construct(**row._asdict())


def steps(run_id: str) -> list[StepRecord]:
    return [_record(row) for row in step_rows(run_id)]


def get_step(run_id: str, step_id: str) -> StepRecord:
    r = database.execute_sql(_STEP_SQL + " AND id = ?", (run_id, step_id)).fetchone()
    if r is None:
        raise NoSuchRecord(f"run {run_id} has no step {step_id!r}")
    return _record(StepRow(r[0], r[1], r[2], r[3], r[4], _loads(r[5]), r[6], r[7], r[8], r[9], r[10], r[11],
                           _loads(r[12])))


def step_state_counts(run_id: str) -> dict[str, int]:
    from peewee import fn  # local: only counts need it

    query = Step.select(Step.state, fn.COUNT(Step.id)).where(Step.run_id == run_id).group_by(Step.state)
    return {state: count for state, count in query.tuples()}


def _attempt(row: Attempt) -> AttemptRecord:
    return AttemptRecord.model_construct(**{name: getattr(row, name) for name in AttemptRecord.model_fields})


def attempts(run_id: str, step_id: str | None = None) -> list[AttemptRecord]:
    query = Attempt.select().where(Attempt.run_id == run_id)
    if step_id is not None:
        query = query.where(Attempt.step_id == step_id)
    return [_attempt(row) for row in query.order_by(Attempt.started_at, Attempt.number)]


def running_attempts(run_id: str) -> list[AttemptRecord]:
    query = Attempt.select().where((Attempt.run_id == run_id) & (Attempt.state == "running"))
    return [_attempt(row) for row in query]


def _event(row: tuple) -> EventRecord:
    seq, ts, run_id, step_id, kind, data = row
    return EventRecord.model_construct(
        seq=seq, ts=ts, run_id=run_id, step_id=step_id, kind=kind, data=json.loads(data) if data != "{}" else {}
    )


def events_after(seq: int, run_id: str | None = None, limit: int = 5_000, step_id: str | None = None) -> list[EventRecord]:
    query = Event.select(Event.seq, Event.ts, Event.run_id, Event.step_id, Event.kind, Event.data).where(Event.seq > seq)
    if run_id is not None:
        query = query.where(Event.run_id == run_id)
    if step_id is not None:
        query = query.where(Event.step_id == step_id)
    return [_event(row) for row in query.order_by(Event.seq).limit(limit).tuples()]


def last_events(run_id: str | None = None, limit: int = 100) -> list[EventRecord]:
    query = Event.select(Event.seq, Event.ts, Event.run_id, Event.step_id, Event.kind, Event.data)
    if run_id is not None:
        query = query.where(Event.run_id == run_id)
    rows = list(query.order_by(Event.seq.desc()).limit(limit).tuples())
    return [_event(row) for row in reversed(rows)]


def max_event_seq() -> int:
    row = Event.select(Event.seq).order_by(Event.seq.desc()).limit(1).tuples().first()
    return int(row[0]) if row else 0


def breakers(tools: Iterable[str] | None = None) -> list[BreakerRecord]:
    query = Breaker.select().order_by(Breaker.tool)
    if tools is not None:
        query = query.where(Breaker.tool.in_(list(tools)))
    return [
        BreakerRecord(
            tool=row.tool,
            state=row.state,
            consecutive_failures=row.consecutive_failures,
            window=[bool(x) for x in json.loads(row.window)],
            opened_at=row.opened_at,
            probe_started_at=row.probe_started_at,
            updated_at=row.updated_at,
        )
        for row in query
    ]


def tool_stats() -> list[ToolStatsRecord]:
    return [
        ToolStatsRecord.model_construct(**{name: getattr(row, name) for name in ToolStatsRecord.model_fields})
        for row in ToolStat.select().order_by(ToolStat.tool)
    ]


def get_worker(worker_id: str) -> WorkerRecord | None:
    row = Worker.get_or_none(Worker.id == worker_id)
    if row is None:
        return None
    return WorkerRecord.model_validate({name: getattr(row, name) for name in WorkerRecord.model_fields})


def _command(row: Command) -> CommandRecord:
    return CommandRecord.model_validate(
        {**{name: getattr(row, name) for name in CommandRecord.model_fields if name != "args"}, "args": json.loads(row.args)}
    )


def open_commands(run_ids: Iterable[str], after_id: int = 0) -> list[CommandRecord]:
    query = (
        Command.select()
        .where((Command.run_id.in_(list(run_ids))) & (Command.done_at.is_null()) & (Command.id > after_id))
        .order_by(Command.id)
    )
    return [_command(row) for row in query]


def get_command(command_id: int) -> CommandRecord:
    row = Command.get_or_none(Command.id == command_id)
    if row is None:
        raise NoSuchRecord(f"no command {command_id}")
    return _command(row)
