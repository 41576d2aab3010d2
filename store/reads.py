"""Reads for what a person waits on (``uet runs``, ``status``, ``logs``, ``costs``, ``patches``,
and the dashboard's monitor): plain ``sqlite3`` rows into small named tuples and dictionaries,
no ORM and no Pydantic, so such a command costs little more than the interpreter's start and
the dashboard lists its runs before those load. ``store.queries`` reads through the same
functions where it makes records of the rows.

Every function takes the ``sqlite3.Connection`` to read: ``connect`` opens one for a read
command, and a process that opened the whole ``Store`` passes its own (``connection()``). A
database whose schema is not the one this version writes (older, or newer) is opened through
``Store`` once, which migrates it or says why it cannot; only then are the migrations imported.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from schemas.rows import EventRow, StepRow
from schemas.states import RunState
from store.db import BUSY_TIMEOUT_MS
from store.errors import NoSuchRecord, StoreError
from store.list_sql import PATCH_COLUMNS, patches_sql, runs_sql

#: The schema version this version of uet writes: ``store.migrations.LATEST`` (a test holds the
#: two equal). A store at another version is opened through the migrations first.
SCHEMA_VERSION = 16

_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit


def connection() -> sqlite3.Connection:
    """The connection of the ``Store`` this process opened (Peewee's, for this thread)."""
    from store.tables import database

    return database.connection()


def connect(path: Path) -> sqlite3.Connection:
    """A connection to read the store at ``path`` with, the schema brought up to date first."""
    try:
        conn = _open(path)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the database: {exc}") from exc
    if version != SCHEMA_VERSION:
        conn.close()
        from store.store import Store  # migrates an older store; says so for a newer one

        Store(path).close()
        return _open(path)
    return conn


def _open(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


# -- runs --------------------------------------------------------------------------------------


class RunRow(NamedTuple):
    """A run as ``schemas.records.RunRecord`` has it (same fields, same order), ``spec`` left out."""

    id: str
    workstream: str
    source: str | None
    root: str
    state: RunState
    created_at: float
    started_at: float | None
    ended_at: float | None
    worker_id: str | None
    total_steps: int
    done_steps: int
    failed_steps: int
    skipped_steps: int
    canceled_steps: int
    running_steps: int
    max_parallel: int
    reason: str | None
    pausing: str | None
    waiting_on: str | None
    waiting_until: float | None


_RUN_SQL = f"SELECT {', '.join(RunRow._fields)} FROM runs"


def _run(row: tuple[Any, ...]) -> RunRow:
    return RunRow(*row[:4], RunState(row[4]), *row[5:])


def list_runs(conn: sqlite3.Connection, limit: int = 50, offset: int = 0,
              states: Sequence[str] | None = None) -> list[RunRow]:
    """Newest first, as ``queries.list_runs``; with ``states``, only the runs in one of them."""
    rows = conn.execute(*runs_sql(RunRow._fields, limit, offset, states))
    return [_run(row) for row in rows]


def get_run(conn: sqlite3.Connection, run_id: str) -> RunRow:
    row = conn.execute(_RUN_SQL + " WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise NoSuchRecord(f"no run {run_id!r}")
    return _run(row)


def resolve_run_id(conn: sqlite3.Connection, prefix: str) -> str:
    """The run whose id is ``prefix`` or starts with it; an ambiguous prefix is an error."""
    if not prefix:
        raise NoSuchRecord("a run id is needed")
    if conn.execute("SELECT 1 FROM runs WHERE id = ?", (prefix,)).fetchone() is not None:
        return prefix
    rows = conn.execute("SELECT id FROM runs WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 6",
                        (len(prefix), prefix)).fetchall()
    matches = [str(r[0]) for r in rows]
    if not matches:
        raise NoSuchRecord(f"no run matches {prefix!r}; `uet runs` lists them")
    if len(matches) > 1:
        raise NoSuchRecord(f"{prefix!r} matches several runs ({', '.join(matches[:5])}); give more of the id")
    return matches[0]


def runs_by_id(conn: sqlite3.Connection, run_ids: Iterable[str]) -> list[RunRow]:
    """The runs named, in no particular order; unknown ids are left out."""
    ids = list(run_ids)
    out: list[RunRow] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        out += [_run(row) for row in conn.execute(_RUN_SQL + f" WHERE id IN ({', '.join('?' * len(chunk))})", chunk)]
    return out


COUNT_BY_STATE = "SELECT state, COUNT(*) FROM runs GROUP BY state"
COUNT_OLD = ("SELECT state, COUNT(*) FROM runs WHERE state IN ({marks}) "
             "AND COALESCE(ended_at, started_at, created_at) < ? GROUP BY state")


def run_counts(conn: sqlite3.Connection, finished: Iterable[str], ended_before: float) -> dict[str, tuple[int, int]]:
    """``{state: (runs, of them finished before ended_before)}`` over every run: what a page of
    the newest runs cannot count. A run ended at its ``ended_at``, else its ``started_at``, else
    its ``created_at``. Both counts search the index ``runs_age`` (state, that time): the runs by
    state, then the old ones of each finished state, without reading the table. One snapshot (a
    savepoint, inside a transaction or not): a run resumed between the two is in neither count."""
    states = sorted(set(finished))
    marks = ", ".join("?" * len(states))
    conn.execute("SAVEPOINT run_counts")
    try:
        runs = conn.execute(COUNT_BY_STATE).fetchall()
        old = dict(conn.execute(COUNT_OLD.format(marks=marks), (*states, ended_before)).fetchall())
    finally:
        conn.execute("RELEASE run_counts")
    return {str(state): (int(count), int(old.get(state, 0))) for state, count in runs}


# -- engines -----------------------------------------------------------------------------------


class WorkerRow(NamedTuple):
    id: str
    pid: int
    host: str
    state: str
    started_at: float
    heartbeat_at: float


_WORKER_SQL = f"SELECT {', '.join(WorkerRow._fields)} FROM workers"


def workers_by_id(conn: sqlite3.Connection, worker_ids: Iterable[str]) -> dict[str, WorkerRow]:
    """The workers named, by id; unknown ids are left out."""
    ids = list(worker_ids)
    out: dict[str, WorkerRow] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        for row in conn.execute(_WORKER_SQL + f" WHERE id IN ({', '.join('?' * len(chunk))})", chunk):
            out[row[0]] = WorkerRow(*row)
    return out


def get_worker(conn: sqlite3.Connection, worker_id: str) -> WorkerRow | None:
    row = conn.execute(_WORKER_SQL + " WHERE id = ?", (worker_id,)).fetchone()
    return None if row is None else WorkerRow(*row)


def last_event_at(conn: sqlite3.Connection, run_id: str) -> float | None:
    """When the run's newest event was written (one probe of the (run_id, seq) index)."""
    row = conn.execute("SELECT ts FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1", (run_id,)).fetchone()
    return None if row is None else float(row[0])


# -- steps and attempts ------------------------------------------------------------------------


class StepLine(NamedTuple):
    """What ``uet status`` shows of a step: ``needs`` decoded, its spec not read."""

    id: str
    kind: str
    state: str
    tool: str | None
    needs: list[str]
    attempts: int
    exit_code: int | None
    started_at: float | None
    ended_at: float | None
    reason: str | None
    due_at: float | None


def step_lines(conn: sqlite3.Connection, run_id: str) -> list[StepLine]:
    """Every step of a run in plan order. The ``needs`` lists are decoded in one call of the
    JSON decoder (one array of them all), not one call per step."""
    # Read in the table's own order (one pass over its primary key) and sorted here: ordering by
    # the plan-order index looked every row up from that index, a third slower.
    rows = conn.execute("SELECT idx, id, kind, state, tool, needs, attempts, exit_code, started_at, ended_at, "
                        "reason, due_at FROM steps WHERE run_id = ?", (run_id,)).fetchall()
    rows.sort(key=_first)
    needs = json.loads("[" + ",".join([r[5] for r in rows]) + "]") if rows else []
    return [StepLine(r[1], r[2], r[3], r[4], n, *r[6:]) for r, n in zip(rows, needs, strict=True)]


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


def get_step(conn: sqlite3.Connection, run_id: str, step_id: str) -> StepLine:
    row = conn.execute("SELECT id, kind, state, tool, needs, attempts, exit_code, started_at, ended_at, reason, "
                       "due_at FROM steps WHERE run_id = ? AND id = ?", (run_id, step_id)).fetchone()
    if row is None:
        raise NoSuchRecord(f"run {run_id} has no step {step_id!r}")
    return StepLine(row[0], row[1], row[2], row[3], json.loads(row[4]), *row[5:])


class AttemptRow(NamedTuple):
    """An attempt as ``schemas.records.AttemptRecord`` has it (same fields, same order)."""

    run_id: str
    step_id: str
    number: int
    tool: str
    state: str
    worker_id: str | None
    started_at: float
    ended_at: float | None
    exit_code: int | None
    log_path: str | None
    error: str | None
    tokens_in: int | None
    tokens_out: int | None
    usd: float | None
    model: str | None
    tokens_cached: int | None
    pid: int | None
    duration: float | None
    output: str | None


def attempts(conn: sqlite3.Connection, run_id: str, step_id: str) -> list[AttemptRow]:
    """A step's attempts, oldest first."""
    rows = conn.execute(f"SELECT {', '.join(AttemptRow._fields)} FROM attempts WHERE run_id = ? AND step_id = ? "
                        "ORDER BY started_at, number", (run_id, step_id))
    return [AttemptRow(*row) for row in rows]


_STEP_SQL = ("SELECT run_id, id, kind, state, tool, needs, attempts, attempt_base, exit_code, started_at, ended_at, "
             "reason, spec, due_at FROM steps WHERE run_id = ?")
_decode = json.JSONDecoder().raw_decode


def loads(text: str) -> Any:
    """A JSON value as the store keeps it (the empty list and mapping without the decoder)."""
    return [] if text == "[]" else {} if text == "{}" else _decode(text)[0]


def _loads_many(texts: list[str]) -> list[Any]:
    """Decode many stored JSON values in one call of the C decoder (one array), rather than
    one call per value: loading a run of 10,000 steps decodes 20,000 of them."""
    return json.loads("[" + ",".join(texts) + "]") if texts else []


def step_rows(conn: sqlite3.Connection, run_id: str) -> list[StepRow]:
    """Every step of a run in plan order, as tuples: the engine's loading path (see StepRow)."""
    rows = conn.execute(_STEP_SQL + " ORDER BY idx", (run_id,)).fetchall()
    needs = _loads_many([r[5] for r in rows])
    specs = _loads_many([r[12] for r in rows])
    return [StepRow(r[0], r[1], r[2], r[3], r[4], n, r[6], r[7], r[8], r[9], r[10], r[11], spec, r[13])
            for r, n, spec in zip(rows, needs, specs, strict=True)]


def _step(r: tuple[Any, ...]) -> StepRow:
    """One step row, its needs and spec decoded."""
    return StepRow(r[0], r[1], r[2], r[3], r[4], loads(r[5]), r[6], r[7], r[8], r[9], r[10], r[11], loads(r[12]), r[13])


def step_row(conn: sqlite3.Connection, run_id: str, step_id: str) -> StepRow | None:
    r = conn.execute(_STEP_SQL + " AND id = ?", (run_id, step_id)).fetchone()
    return None if r is None else _step(r)


def step_rows_by_id(conn: sqlite3.Connection, run_id: str, step_ids: Iterable[str]) -> list[StepRow]:
    """Only the steps named: what a reader following the feed re-reads after a change."""
    ids = list(step_ids)
    out: list[StepRow] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        out += [_step(r) for r in conn.execute(_STEP_SQL + f" AND id IN ({', '.join('?' * len(chunk))})",
                                              (run_id, *chunk))]
    return out


Span = tuple[str, int, str, float, "float | None", "str | None"]


def attempt_spans(conn: sqlite3.Connection, run_id: str, step_ids: Iterable[str] | None = None) -> list[Span]:
    """``(step_id, number, state, started_at, ended_at, log_path)`` of a run's attempts (or of the
    steps named only), in the order they started: what a screen of 10,000 steps needs of them,
    as plain tuples, in one query (one per 500 steps named) instead of a record per attempt."""
    sql = "SELECT step_id, number, state, started_at, ended_at, log_path FROM attempts WHERE run_id = ?"
    order = " ORDER BY started_at, number"
    if step_ids is None:
        return conn.execute(sql + order, (run_id,)).fetchall()
    ids = list(step_ids)
    out: list[Span] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        out.extend(conn.execute(sql + f" AND step_id IN ({', '.join('?' * len(chunk))})" + order,
                                (run_id, *chunk)).fetchall())
    out.sort(key=lambda a: (a[3], a[1]))
    return out


# -- commands, breakers, events ----------------------------------------------------------------


class CommandRow(NamedTuple):
    id: int
    kind: str
    args: dict[str, Any]
    created_by: str | None
    claimed_by: str | None
    done_at: float | None


def run_commands(conn: sqlite3.Connection, run_id: str, kinds: Iterable[str]) -> list[CommandRow]:
    """A run's commands of these kinds, oldest first; a run has few."""
    wanted = list(kinds)
    rows = conn.execute("SELECT id, kind, args, created_by, claimed_by, done_at FROM commands WHERE run_id = ? "
                        f"AND kind IN ({', '.join('?' * len(wanted))}) ORDER BY id", (run_id, *wanted))
    return [CommandRow(r[0], r[1], json.loads(r[2]) if r[2] not in ("{}", "") else {}, *r[3:]) for r in rows]


_BREAKER_SQL = "SELECT tool, state, consecutive_failures, window, opened_at, probe_started_at, updated_at FROM breakers"


def breakers(conn: sqlite3.Connection, tools: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The breakers of these tools (of every tool with None), by tool, as ``BreakerRecord``
    dumps them to JSON."""
    if tools is None:
        rows: list[Any] = conn.execute(_BREAKER_SQL).fetchall()
    else:
        names = list(tools)
        rows = []
        for start in range(0, len(names), _CHUNK):
            chunk = names[start:start + _CHUNK]
            rows += conn.execute(_BREAKER_SQL + f" WHERE tool IN ({', '.join('?' * len(chunk))})", chunk).fetchall()
    out = [{"tool": r[0], "state": r[1], "consecutive_failures": r[2], "window": [bool(x) for x in json.loads(r[3])],
            "opened_at": r[4], "probe_started_at": r[5], "updated_at": r[6]} for r in rows]
    return sorted(out, key=lambda b: b["tool"])


_EVENT_SQL = "SELECT seq, ts, run_id, step_id, kind, data FROM events"


def _event(row: tuple[Any, ...]) -> EventRow:
    seq, ts, run_id, step_id, kind, data = row
    return EventRow(seq, ts, run_id, step_id, kind, json.loads(data) if data != "{}" else {})


def events_since(conn: sqlite3.Connection, seq: int, limit: int = 5_000, run_id: str | None = None,
                 step_id: str | None = None) -> list[EventRow]:
    """The events after ``seq`` (of one run, of one step), oldest first, at most ``limit``."""
    sql, params = _EVENT_SQL + " WHERE seq > ?", [seq]
    for column, value in (("run_id", run_id), ("step_id", step_id)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    return [_event(row) for row in conn.execute(sql + " ORDER BY seq LIMIT ?", (*params, limit))]


def last_events(conn: sqlite3.Connection, run_id: str | None = None, limit: int = 100) -> list[EventRow]:
    """The newest ``limit`` events (of one run), oldest first."""
    where, params = (" WHERE run_id = ?", [run_id]) if run_id is not None else ("", [])
    rows = conn.execute(_EVENT_SQL + where + " ORDER BY seq DESC LIMIT ?", (*params, limit)).fetchall()
    return [_event(row) for row in reversed(rows)]


def last_breaker_events(conn: sqlite3.Connection, limit: int = 200) -> list[EventRow]:
    """The newest ``breaker.state`` events, oldest first. Breakers change seldom: without the
    partial index ``events_breaker`` the search walked back through every event of every run
    (0.2 s at two million events) to find the few there are. The kind is written in the SQL, not
    bound, so that SQLite may use that index."""
    rows = conn.execute(_EVENT_SQL + " WHERE kind = 'breaker.state' ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
    return [_event(row) for row in reversed(rows)]


def max_event_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return int(row[0]) if row else 0


def events(conn: sqlite3.Connection, run_id: str, after: int = 0) -> sqlite3.Cursor:
    """The run's events after ``after``, oldest first, as ``(seq, ts, step_id, kind, data)`` with
    ``data`` the stored JSON text: rows come as SQLite steps the cursor, nothing held whole."""
    return conn.execute("SELECT seq, ts, step_id, kind, data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq",
                        (run_id, after))


# -- the patch ledger and costs ----------------------------------------------------------------

def _patch_file(entry: dict[str, Any]) -> dict[str, Any]:
    return {"path": entry["path"], "old_path": entry.get("old_path"), "status": entry["status"],
            "added": int(entry.get("added", 0)), "removed": int(entry.get("removed", 0)),
            "binary": bool(entry.get("binary", False))}


def patches(conn: sqlite3.Connection, run_id: str | None = None, state: str | None = None,
            limit: int = 200) -> list[dict[str, Any]]:
    """The newest patches (of one run, in one state), each as ``PatchRecord`` dumps it to JSON."""
    out = []
    for row in conn.execute(*patches_sql(run_id, state, limit)):
        patch = dict(zip(PATCH_COLUMNS, row, strict=True))
        patch["files"] = [_patch_file(entry) for entry in json.loads(patch["files"])]
        patch["created_at"], patch["updated_at"] = float(patch["created_at"]), float(patch["updated_at"])
        out.append(patch)
    return out


def step_spec(conn: sqlite3.Connection, run_id: str, step_id: str) -> dict[str, Any] | None:
    """The step's spec as its run stored it; None for a step the run does not have."""
    row = conn.execute("SELECT spec FROM steps WHERE run_id = ? AND id = ?", (run_id, step_id)).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def runs_with_costs(conn: sqlite3.Connection, limit: int | None, since: float | None = None) -> list[str]:
    """The newest runs (all with ``limit=None``) that have costs (ended at ``since`` or later),
    newest first: through the runs' age index, each run asked for one attempt that ran a tool."""
    if since is None:
        sql = ("SELECT r.id FROM runs AS r WHERE EXISTS (SELECT 1 FROM attempts AS a WHERE a.run_id = r.id "
               "AND a.duration IS NOT NULL) ORDER BY r.created_at DESC, r.id DESC")
    else:  # the runs of the attempts that ended since then, found through the index of when attempts ended
        sql = ("SELECT r.id FROM runs AS r WHERE r.id IN (SELECT run_id FROM attempts WHERE ended_at >= ? "
               "AND duration IS NOT NULL) ORDER BY r.created_at DESC, r.id DESC")
    params: list[Any] = [since] if since is not None else []
    rows = conn.execute(sql + " LIMIT ?", (*params, limit)) if limit is not None else conn.execute(sql, params)
    return [run_id for (run_id,) in rows]


def cost_totals(conn: sqlite3.Connection, group_by: tuple[str, ...], run_id: str | None = None,
                run_ids: Sequence[str] | None = None, since: float | None = None,
                rounded: bool = True) -> list[dict[str, Any]]:
    """Totals over one run, these runs (in their order, when grouped by run) or all, of the
    attempts that ended at ``since`` or later (through the index of when attempts ended) or of
    all, grouped by any of run_id, step_id, tool, model, each as ``CostTotals`` dumps it to JSON
    (``queries.cost_totals`` reads the same for the engine's faces). Unknown dollars stay
    unknown: counted in ``unpriced``, never added as zero. ``rounded=False`` keeps the dollars
    as summed, for ``fold_costs`` to add up before rounding."""
    if not set(group_by) <= {"run_id", "step_id", "tool", "model"}:
        raise ValueError(f"cannot group costs by {set(group_by)}")
    if run_ids is not None and "run_id" not in group_by:  # each chunk of ids is grouped apart
        raise ValueError("costs of chosen runs are grouped by run")
    columns = ", ".join(group_by)
    select = (f"SELECT {columns + ', ' if group_by else ''}COUNT(*), COALESCE(SUM(tokens_in), 0), "
              "COALESCE(SUM(tokens_out), 0), COALESCE(SUM(tokens_cached), 0), COALESCE(SUM(usd), 0), "
              "SUM(usd IS NULL), SUM(tokens_in IS NULL AND tokens_out IS NULL), COALESCE(SUM(wall), 0) FROM costs")
    grouped = f" GROUP BY {columns}" if group_by else ""
    width = len(group_by)
    window = ([" ts >= ?"], [since]) if since is not None else ([], [])
    if run_ids is not None:
        ids = list(run_ids)
        rows = []
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            where = " AND".join([f" run_id IN ({', '.join('?' * len(chunk))})", *window[0]])
            rows += conn.execute(f"{select} WHERE{where}{grouped}", [*chunk, *window[1]]).fetchall()
    else:
        conditions = ([" run_id = ?"] if run_id is not None else []) + window[0]
        params = ([run_id] if run_id is not None else []) + window[1]
        where = " WHERE" + " AND".join(conditions) if conditions else ""
        rows = conn.execute(select + where + grouped, params).fetchall()
    rows = [row for row in rows if row[width] != 0]
    if run_ids is not None and group_by == ("run_id",):
        order = {rid: n for n, rid in enumerate(ids)}
        rows.sort(key=lambda row: order[row[0]])
    else:
        rows.sort(key=lambda row: tuple((v is not None, v) for v in row[:width]))
    return [{"key": dict(zip(group_by, row[:width], strict=True)), "attempts": n, "tokens_in": tin,
             "tokens_out": tout, "tokens_cached": cached, "usd": round(float(usd), 6) if rounded else float(usd),
             "unpriced": unpriced,
             "untokened": untokened, "wall": float(wall)}
            for row in rows for n, tin, tout, cached, usd, unpriced, untokened, wall in (row[width:],)]


_SUMMED = ("attempts", "tokens_in", "tokens_out", "tokens_cached", "usd", "unpriced", "untokened", "wall")


def fold_costs(rows: list[dict[str, Any]], group_by: tuple[str, ...]) -> list[dict[str, Any]]:
    """Totals of ``cost_totals`` grouped by more columns (read with ``rounded=False``), grouped
    again by some of them (none: the total, an empty list when there is nothing), in the order
    ``cost_totals`` gives: one pass over the attempts answers by tool, by model and in all."""
    folded: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row["key"][name] for name in group_by)
        into = folded.setdefault(key, {"key": dict(zip(group_by, key, strict=True)), **dict.fromkeys(_SUMMED, 0)})
        for name in _SUMMED:
            into[name] += row[name]
    out = sorted(folded.values(), key=lambda row: tuple((v is not None, v) for v in row["key"].values()))
    for row in out:
        row["usd"], row["wall"] = round(float(row["usd"]), 6), float(row["wall"])
    return out
