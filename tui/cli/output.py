"""What several commands print: the status document (``uet status --json``, and the final word
of ``uet run --json``), its pieces, and plain aligned tables.

The documents are read with ``store.reads`` (plain rows, no Pydantic) on the connection given: a
read command's own, or by default the connection of the ``Store`` the process opened.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from engine.liveness import RunEngine, live_owner, run_engine
from engine.progress import Tally
from schemas.states import RunState
from store import reads

if TYPE_CHECKING:
    import sqlite3

    from schemas.records import RunRecord


PATCH_GLYPHS = {
    "proposed": "○", "gating": "▶", "gate_passed": "✔", "gate_failed": "✘", "approved": "◉",
    "rejected": "⊘", "applied": "⬤", "reverted": "↺", "changes_requested": "✎", "superseded": "⇢",
}


def patch_label(state: str) -> str:
    return f"{PATCH_GLYPHS.get(state, '?')} {state}"


def elapsed(started: float | None, ended: float | None) -> float | None:
    """Seconds from ``started`` to ``ended`` (or now, while it goes on); None before it started."""
    if started is None:
        return None
    return (ended or time.time()) - started


def engine_fields(engine: RunEngine | None) -> dict[str, Any]:
    """``engine``: live, lost, or null when no engine is expected (finished, paused, pending);
    ``engine_lost_at``: the lost engine's last sign of life."""
    return {"engine": engine.word if engine else None,
            "engine_lost_at": engine.last_seen if engine and not engine.live else None}


def print_table(rows: list[tuple[str, ...]]) -> None:
    """Columns padded to their widest cell, two spaces apart; the first row is the header. One
    write for the whole table: a run of 10,000 steps is 10,000 lines."""
    cells = [tuple(map(str, row)) for row in rows]
    widths = [max(map(len, column)) for column in zip(*cells, strict=True)]
    line = "  ".join(f"{{:<{width}}}" for width in widths).format  # one call a row, not one a cell
    print("\n".join([line(*row).rstrip() for row in cells]))


def activity_fields(run: RunRecord | reads.RunRow) -> dict[str, Any]:
    """``pausing``: why a running run is pausing; ``waiting_on``/``waiting_until``: the tool
    whose open breaker holds it with nothing executing, and when that breaker probes."""
    running = run.state is RunState.RUNNING
    return {"pausing": run.pausing if running else None, "waiting_on": run.waiting_on if running else None,
            "waiting_until": run.waiting_until if running else None}


def pause_requested(run: RunRecord | reads.RunRow, worker: str | None,
                    conn: sqlite3.Connection | None = None) -> str | None:
    """Why a running run is pausing, when a pause was asked of the engine executing it (or is
    waiting for it) and no resume came after; None otherwise."""
    if run.state is not RunState.RUNNING or worker is None:
        return None
    commands = reads.run_commands(conn or reads.connection(), run.id, ("pause", "resume"))
    if not commands:
        return None
    last = commands[-1]
    if last.kind == "resume" or last.claimed_by not in (None, worker):
        return None  # answered by a resume, or taken by an engine before this one
    if last.claimed_by is None and last.done_at is not None:
        return None  # answered without being carried out (its engine stopped before it took it)
    return str(last.args.get("reason") or f"paused by {last.created_by or 'operator'}")


def step_document(run_id: str, step_id: str, conn: sqlite3.Connection | None = None) -> dict[str, Any]:
    """One step: its state and every attempt, with what each cost and answered (``output``),
    and where its prompt and log are."""
    conn = conn or reads.connection()
    step = reads.get_step(conn, run_id, step_id)
    attempts = []
    for a in reads.attempts(conn, run_id, step.id):
        prompt = a.log_path[: -len(".log")] + ".prompt.md" if a.log_path and a.log_path.endswith(".log") else None
        attempts.append({
            "number": a.number, "tool": a.tool, "state": str(a.state), "started_at": a.started_at,
            "ended_at": a.ended_at, "duration": a.duration, "exit_code": a.exit_code, "error": a.error,
            "model": a.model, "tokens_in": a.tokens_in, "tokens_out": a.tokens_out, "tokens_cached": a.tokens_cached,
            "usd": a.usd, "log_path": a.log_path,
            "prompt_path": prompt if prompt and os.path.isfile(prompt) else None, "output": a.output,
        })
    output = next((a["output"] for a in reversed(attempts) if a["output"] is not None), None)
    return {"run": run_id, "id": step.id, "kind": step.kind, "state": str(step.state), "tool": step.tool,
            "needs": step.needs, "attempts": attempts, "exit_code": step.exit_code, "reason": step.reason,
            "duration": elapsed(step.started_at, step.ended_at) if step.ended_at else None, "output": output,
            "due_at": step.due_at if step.state == "waiting" else None}


def status_document(run_id: str, conn: sqlite3.Connection | None = None,
                    states: Collection[str] | None = None) -> dict[str, Any]:
    """The run, its progress, its steps (with ``states``, those in one of them) and breakers."""
    doc, steps = status_parts(run_id, conn, states)
    doc["steps"] = [{
        "id": step.id, "state": step.state, "attempts": step.attempts, "tool": step.tool,
        "kind": step.kind, "needs": step.needs, "exit_code": step.exit_code,
        "duration": elapsed(step.started_at, step.ended_at) if step.ended_at else None,
        "reason": step.reason, "due_at": step.due_at if step.state == "waiting" else None,
    } for step in steps]
    doc["breakers"] = doc.pop("breakers")  # after the steps, as it always was
    return doc


def status_parts(run_id: str, conn: sqlite3.Connection | None = None, states: Collection[str] | None = None,
                 ) -> tuple[dict[str, Any], list[reads.StepLine]]:
    """The status document but its ``steps``, and the steps as read (with ``states``, those in
    one of them; the progress counts every step): ``uet status`` prints a table of them without
    making a dictionary per step first."""
    conn = conn or reads.connection()
    run = reads.get_run(conn, run_id)
    worker = live_owner(run, conn)
    engine = run_engine(run, conn=conn)
    steps = reads.step_lines(conn, run_id)  # tuples: a Pydantic model per step cost 10x more, for a read
    counts: dict[str, int] = {}
    tools: set[str] = set()
    for step in steps:
        counts[step.state] = counts.get(step.state, 0) + 1
        if step.tool:
            tools.add(step.tool)
    tally = Tally.of_states(counts, len(steps))
    activity = activity_fields(run)
    if engine is not None and not engine.live:
        activity = dict.fromkeys(activity)  # its engine is gone: nothing pauses or waits
    activity["pausing"] = activity["pausing"] or pause_requested(run, worker, conn)  # asked, not taken yet
    return {
        "id": run.id, "state": run.state.value, "workstream": run.workstream, "source": run.source,
        "root": run.root, "reason": run.reason, "created_at": run.created_at, "started_at": run.started_at,
        "ended_at": run.ended_at, "worker": worker, **activity,
        **engine_fields(engine),
        "progress": {**tally.as_dict(), "counts": counts},
        "breakers": reads.breakers(conn, sorted(tools)),
    }, steps if states is None else [step for step in steps if step.state in states]
