"""Typed reads. Every function returns ``schemas`` records, never Peewee rows, and reads only
what it needs: the change feed reads events after a sequence number, tables read by index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from schemas.patch import (
    CommentRecord,
    CostRecord,
    CostTotals,
    GateResultRecord,
    PatchFileRecord,
    PatchRecord,
)
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
from schemas.rows import EventRow
from schemas.states import RunState
from store import reads
from store.errors import NoSuchRecord
from store.list_sql import PATCH_COLUMNS, patches_sql, runs_sql
from store.tables import Attempt, Command, Run, Step, ToolStat, Worker, database

_RUN_FIELDS = [f for f in RunRecord.model_fields]
_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit


def _run(row: Run) -> RunRecord:
    return RunRecord.model_validate({name: getattr(row, name) for name in _RUN_FIELDS})


#: The runs' columns as RunRecord names them, read as plain rows: a page of 1,000 runs read
#: through the ORM and validated row by row took about 55 ms of the dashboard's first read.
_RUN_SELECT = f"SELECT {', '.join(_RUN_FIELDS)} FROM runs"
_STATE_AT = _RUN_FIELDS.index("state")


def _run_rows(sql: str, params: Sequence[Any]) -> list[RunRecord]:
    """Runs from the store's own rows (written by the engine, so their types are the record's);
    the state becomes its enum, as validation would make it."""
    out = []
    construct, state_at, names = RunRecord.model_construct, _STATE_AT, _RUN_FIELDS
    for row in database.execute_sql(sql, params).fetchall():
        values = dict(zip(names, row, strict=True))
        values["state"] = RunState(row[state_at])
        out.append(construct(**values))
    return out


def list_runs(limit: int = 50, offset: int = 0, states: Sequence[str] | None = None) -> list[RunRecord]:
    """Newest first; with ``states``, only the runs in one of them (the dashboard adds the
    unfinished ones, however many runs came after them)."""
    return _run_rows(*runs_sql(_RUN_FIELDS, limit, offset, states))


def runs_by_id(run_ids: Iterable[str]) -> list[RunRecord]:
    """The runs named, in no particular order; unknown ids are left out."""
    ids = list(run_ids)
    out: list[RunRecord] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        out.extend(_run_rows(_RUN_SELECT + f" WHERE id IN ({', '.join('?' * len(chunk))})", chunk))
    return out


def count_runs() -> int:
    return Run.select().count()


COUNT_BY_STATE, COUNT_OLD = reads.COUNT_BY_STATE, reads.COUNT_OLD


def run_counts(finished: Iterable[str], ended_before: float) -> dict[str, tuple[int, int]]:
    """``{state: (runs, of them finished before ended_before)}`` over every run (see
    ``store.reads.run_counts``, which reads the same on any connection)."""
    return reads.run_counts(database.connection(), finished, ended_before)


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


def step_rows(run_id: str) -> list[StepRow]:
    """Every step of a run in plan order, as tuples: the engine's loading path (see StepRow)."""
    return reads.step_rows(database.connection(), run_id)


def step_rows_by_id(run_id: str, step_ids: Iterable[str]) -> list[StepRow]:
    """Only the steps named: what a reader following the feed re-reads after a change."""
    return reads.step_rows_by_id(database.connection(), run_id, step_ids)


def _record(row: StepRow) -> StepRecord:
    return StepRecord.model_construct(**row._asdict())


def steps(run_id: str) -> list[StepRecord]:
    return [_record(row) for row in step_rows(run_id)]


def get_step(run_id: str, step_id: str) -> StepRecord:
    row = reads.step_row(database.connection(), run_id, step_id)
    if row is None:
        raise NoSuchRecord(f"run {run_id} has no step {step_id!r}")
    return _record(row)


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


def attempt_spans(run_id: str, step_ids: Iterable[str] | None = None) -> list[reads.Span]:
    """``(step_id, number, state, started_at, ended_at, log_path)`` of a run's attempts, as
    ``store.reads.attempt_spans`` reads them."""
    return reads.attempt_spans(database.connection(), run_id, step_ids)


def running_attempts(run_id: str) -> list[AttemptRecord]:
    query = Attempt.select().where((Attempt.run_id == run_id) & (Attempt.state == "running"))
    return [_attempt(row) for row in query]


def _event(row: EventRow) -> EventRecord:
    return EventRecord.model_construct(**row._asdict())


def events_after(seq: int, run_id: str | None = None, limit: int = 5_000, step_id: str | None = None) -> list[EventRecord]:
    return [_event(row) for row in reads.events_since(database.connection(), seq, limit, run_id, step_id)]


def last_events(run_id: str | None = None, limit: int = 100) -> list[EventRecord]:
    return [_event(row) for row in reads.last_events(database.connection(), run_id, limit)]


def last_breaker_events(limit: int = 200) -> list[EventRecord]:
    """The newest ``breaker.state`` events, oldest first (see ``store.reads.last_breaker_events``)."""
    return [_event(row) for row in reads.last_breaker_events(database.connection(), limit)]


def max_event_seq() -> int:
    return reads.max_event_seq(database.connection())


def breakers(tools: Iterable[str] | None = None) -> list[BreakerRecord]:
    return [BreakerRecord(**row) for row in reads.breakers(database.connection(), tools)]


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


_COMMAND_COLUMNS = tuple(CommandRecord.model_fields)


def _command(values: Sequence[Any]) -> CommandRecord:
    """A command from its columns, in ``_COMMAND_COLUMNS`` order (``args`` is stored as JSON)."""
    fields = dict(zip(_COMMAND_COLUMNS, values, strict=True))
    fields["args"] = reads.loads(fields["args"])
    return CommandRecord.model_validate(fields)


def open_commands(run_ids: Iterable[str], after_id: int = 0) -> list[CommandRecord]:
    """Commands not yet done for these runs, oldest first. The engine asks this every tenth of a
    second while it runs, so it is plain SQL (no query builder) and costs one index probe per
    chunk of run ids when there is none."""
    ids = list(run_ids)
    sql = f"SELECT {', '.join(_COMMAND_COLUMNS)} FROM commands WHERE id > ? AND done_at IS NULL AND run_id IN "
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        rows += database.execute_sql(f"{sql}({', '.join('?' * len(chunk))})", (after_id, *chunk)).fetchall()
    if len(ids) > _CHUNK:
        rows.sort(key=lambda row: row[0])
    return [_command(row) for row in rows]


def run_commands(run_id: str, kinds: Sequence[str] | None = None) -> list[CommandRecord]:
    """A run's commands (only these kinds, if given), oldest first; a run has few."""
    sql = f"SELECT {', '.join(_COMMAND_COLUMNS)} FROM commands WHERE run_id = ?"
    params: list[Any] = [run_id]
    if kinds:
        sql += f" AND kind IN ({', '.join('?' * len(kinds))})"
        params += list(kinds)
    return [_command(row) for row in database.execute_sql(sql + " ORDER BY id", params).fetchall()]


def get_command(command_id: int) -> CommandRecord:
    row = Command.get_or_none(Command.id == command_id)
    if row is None:
        raise NoSuchRecord(f"no command {command_id}")
    return _command([getattr(row, name) for name in _COMMAND_COLUMNS])


# -- patch ledger ----------------------------------------------------------------------------

_PATCH_COLUMNS = ", ".join(PATCH_COLUMNS)


def _patch(row: tuple) -> PatchRecord:
    (pid, run_id, step_id, attempt, state, base, sha, files, added, removed, gate, round_, parent, worktree,
     created, updated, by, reason, applied, kind, superseded_by) = row
    return PatchRecord(
        id=pid, run_id=run_id, step_id=step_id, attempt=attempt, state=state, base_commit=base, sha256=sha,
        files=[PatchFileRecord(**f) for f in json.loads(files)], added=added, removed=removed, gate=gate,
        round=round_, parent_id=parent, worktree=worktree, created_at=created, updated_at=updated, decided_by=by,
        reason=reason, applied_commit=applied, round_kind=kind, superseded_by=superseded_by,
    )


#: The states of a patch still to be decided or applied: its scratch copy is gated, approved or
#: applied from, so ``uet gc`` keeps it.
WORKTREE_NEEDED = ("proposed", "gating", "gate_passed", "gate_failed", "approved")


def worktrees_in_use() -> set[str]:
    """The scratch copy of every patch in a ``WORKTREE_NEEDED`` state, however old (through the
    index of patches by state)."""
    marks = ", ".join("?" * len(WORKTREE_NEEDED))
    rows = database.execute_sql(
        f"SELECT worktree FROM patches WHERE state IN ({marks}) AND worktree IS NOT NULL", WORKTREE_NEEDED)
    return {row[0] for row in rows}


def latest_patch_id(run_id: str, step_id: str) -> str | None:
    """The id of the patch ``step_id`` of ``run_id`` proposed last, however many patches the run
    has (through the index of patches by run and step)."""
    row = database.execute_sql("SELECT id FROM patches WHERE run_id = ? AND step_id = ? "
                               "ORDER BY created_at DESC, id LIMIT 1", (run_id, step_id)).fetchone()
    return row[0] if row else None


def run_roots() -> list[str]:
    """Every project root a run of this store ran in."""
    return [row[0] for row in database.execute_sql("SELECT DISTINCT root FROM runs ORDER BY root")]


def list_patches(run_id: str | None = None, state: str | None = None, limit: int | None = 200) -> list[PatchRecord]:
    return [_patch(row) for row in database.execute_sql(*patches_sql(run_id, state, limit)).fetchall()]


def get_patch(patch_id: str) -> PatchRecord:
    row = database.execute_sql(f"SELECT {_PATCH_COLUMNS} FROM patches WHERE id = ?", (patch_id,)).fetchone()
    if row is None:
        raise NoSuchRecord(f"no patch {patch_id!r}")
    return _patch(row)


def patch_diff(patch_id: str, *, applied: bool = False) -> str:
    """The proposed diff; with ``applied``, what `patch apply` wrote: empty when it found the
    change already there, the proposal when that was not recorded."""
    row = database.execute_sql("SELECT diff, applied_diff FROM patches WHERE id = ?", (patch_id,)).fetchone()
    if row is None:
        raise NoSuchRecord(f"no patch {patch_id!r}")
    return str(row[1] if applied and row[1] is not None else row[0])


def resolve_patch_id(prefix: str) -> str:
    """The patch whose id is ``prefix`` or starts with it; an ambiguous prefix is an error."""
    if not prefix:
        raise NoSuchRecord("a patch id is needed")
    rows = database.execute_sql(
        "SELECT id FROM patches WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 6", (len(prefix), prefix)
    ).fetchall()
    ids = [r[0] for r in rows]
    if prefix in ids:
        return prefix
    if not ids:
        raise NoSuchRecord(f"no patch matches {prefix!r}; `uet patches` lists them")
    if len(ids) > 1:
        raise NoSuchRecord(f"{prefix!r} matches several patches ({', '.join(ids[:5])}); give more of the id")
    return str(ids[0])


def patch_rounds(patch_id: str) -> list[PatchRecord]:
    """Every round of the patch's lineage, round 1 first, whichever member's id is given: the
    patches linked to it through ``parent_id`` (previous rounds and the patches hunks were cut
    from) back to the first, then every patch descended from that one."""
    rows = database.execute_sql(
        f"""WITH RECURSIVE up(id, parent_id, depth) AS (
                SELECT id, parent_id, 0 FROM patches WHERE id = ?
                UNION ALL
                SELECT p.id, p.parent_id, up.depth + 1 FROM patches AS p JOIN up ON p.id = up.parent_id
                WHERE up.depth < 1000),
            root(id) AS (SELECT id FROM up WHERE parent_id IS NULL OR parent_id NOT IN (SELECT id FROM patches)),
            down(id, depth) AS (
                SELECT id, 0 FROM root
                UNION
                SELECT p.id, down.depth + 1 FROM patches AS p JOIN down ON p.parent_id = down.id
                WHERE down.depth < 1000)
            SELECT {_PATCH_COLUMNS} FROM patches WHERE id IN (SELECT id FROM down)
            ORDER BY round, created_at, id""",
        (patch_id,),
    ).fetchall()
    if not rows:
        raise NoSuchRecord(f"no patch {patch_id!r}")
    return [_patch(row) for row in rows]


_COMMENT_COLUMNS = "id, patch_id, path, line, hunk, body, context, by, created_at, submitted_at"


def patch_comments(patch_id: str, *, drafts: bool = True) -> list[CommentRecord]:
    """The comments on one patch, oldest first; without ``drafts``, only the submitted ones."""
    sql = f"SELECT {_COMMENT_COLUMNS} FROM patch_comments WHERE patch_id = ?"
    if not drafts:
        sql += " AND submitted_at IS NOT NULL"
    rows = database.execute_sql(sql + " ORDER BY id", (patch_id,)).fetchall()
    return [_comment(row) for row in rows]


def get_comment(comment_id: int) -> CommentRecord:
    row = database.execute_sql(f"SELECT {_COMMENT_COLUMNS} FROM patch_comments WHERE id = ?", (comment_id,)).fetchone()
    if row is None:
        raise NoSuchRecord(f"no comment {comment_id}")
    return _comment(row)


def _comment(row: tuple) -> CommentRecord:
    cid, patch_id, path, line, hunk, body, context, by, created, submitted = row
    return CommentRecord(id=cid, patch_id=patch_id, path=path, line=line, hunk=hunk, body=body, context=context,
                         by=by, created_at=created, submitted_at=submitted)


def gate_results(patch_id: str) -> list[GateResultRecord]:
    rows = database.execute_sql(
        "SELECT id, patch_id, gate, round, idx, command, outcome, exit_code, duration, output_tail, ts "
        "FROM gate_results WHERE patch_id = ? ORDER BY round, idx",
        (patch_id,),
    ).fetchall()
    return [
        GateResultRecord(id=r[0], patch_id=r[1], gate=r[2], round=r[3], index=r[4], command=json.loads(r[5]),
                         outcome=r[6], exit_code=r[7], duration=r[8], output_tail=r[9], ts=r[10])
        for r in rows
    ]


# -- costs -------------------------------------------------------------------------------------

def costs(run_id: str | None = None) -> list[CostRecord]:
    sql = ("SELECT run_id, step_id, attempt, tool, model, tokens_in, tokens_out, tokens_cached, usd, wall, ts "
           "FROM costs")
    params: tuple = ()
    if run_id is not None:
        sql += " WHERE run_id = ?"
        params = (run_id,)
    rows = database.execute_sql(sql + " ORDER BY ts", params).fetchall()
    return [
        CostRecord(run_id=r[0], step_id=r[1], attempt=r[2], tool=r[3], model=r[4], tokens_in=r[5], tokens_out=r[6],
                   tokens_cached=r[7], usd=r[8], wall=r[9], ts=r[10])
        for r in rows
    ]


def cost_totals(group_by: tuple[str, ...], run_id: str | None = None,
                run_ids: Iterable[str] | None = None) -> list[CostTotals]:
    """Totals grouped by any of run_id, step_id, tool, model, over one run, the runs named (any
    number: they are asked about chunk by chunk and the sums merged) or all. Unknown dollars
    stay unknown: they are counted in ``unpriced``, never added as zero."""
    allowed = {"run_id", "step_id", "tool", "model"}
    if not set(group_by) <= allowed:
        raise ValueError(f"cannot group costs by {set(group_by) - allowed}")
    columns = ", ".join(group_by)
    select = (columns + ", ") if group_by else ""
    sql = (f"SELECT {select}COUNT(*), COALESCE(SUM(tokens_in), 0), COALESCE(SUM(tokens_out), 0), "
           "COALESCE(SUM(tokens_cached), 0), COALESCE(SUM(usd), 0), SUM(usd IS NULL), "
           "SUM(tokens_in IS NULL AND tokens_out IS NULL), COALESCE(SUM(wall), 0) "
           "FROM costs")
    tail = f" GROUP BY {columns}" if group_by else ""
    if run_id is not None:
        batches = [(sql + " WHERE run_id = ?" + tail, (run_id,))]
    elif run_ids is not None:
        ids = list(run_ids)
        batches = [(sql + f" WHERE run_id IN ({', '.join('?' * len(chunk))})" + tail, tuple(chunk))
                   for chunk in (ids[start:start + _CHUNK] for start in range(0, len(ids), _CHUNK))]
    else:
        batches = [(sql + tail, ())]
    width = len(group_by)
    sums: dict[tuple[Any, ...], list[Any]] = {}
    for statement, params in batches:
        for row in database.execute_sql(statement, params).fetchall():
            key, values = tuple(row[:width]), row[width:]
            if values[0] == 0:
                continue
            found = sums.get(key)  # the same group may come from more than one chunk of runs
            sums[key] = list(values) if found is None else [a + b for a, b in zip(found, values, strict=True)]
    out = []
    for key in sorted(sums, key=lambda k: tuple((v is not None, v) for v in k)):
        n, tin, tout, tcached, usd, unpriced, untokened, wall = sums[key]
        out.append(CostTotals(key=dict(zip(group_by, key, strict=True)), attempts=n, tokens_in=tin,
                              tokens_out=tout, tokens_cached=tcached, usd=round(usd, 6), unpriced=unpriced,
                              untokened=untokened, wall=wall))
    return out
