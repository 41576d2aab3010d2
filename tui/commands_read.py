"""Read commands: runs, status, logs. Each takes ``--json``; ``logs --follow`` is driven by
the store's change feed."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from engine.session import live_owner
from engine.states import RUN_TERMINAL
from schemas.states import RunState
from store import ChangeFeed, EventCursor, Store, queries
from tui.cli import EXIT_OK
from tui.format import describe, duration, label
from tui.project import open_existing


def _elapsed(started: float | None, ended: float | None) -> float | None:
    if started is None:
        return None
    return (ended or time.time()) - started


def _progress(run) -> tuple[int, int]:  # noqa: ANN001
    """(finished, total); live counts for a run in progress, stored counts otherwise."""
    if run.state in (RunState.RUNNING, RunState.PENDING):
        counts = queries.step_state_counts(run.id)
        finished = sum(counts.get(s, 0) for s in ("succeeded", "failed", "skipped", "canceled"))
        return finished, run.total_steps
    return run.done_steps, run.total_steps


def cmd_runs(args: argparse.Namespace) -> int:
    store = open_existing(args)
    try:
        runs = queries.list_runs(limit=max(1, args.limit))
        if args.json:
            out = []
            for run in runs:
                finished, total = _progress(run)
                out.append({"id": run.id, "state": run.state.value, "workstream": run.workstream,
                            "steps": total, "finished": finished, "failed": run.failed_steps,
                            "created_at": run.created_at, "started_at": run.started_at, "ended_at": run.ended_at})
            print(json.dumps(out, indent=2))
            return EXIT_OK
        if not runs:
            print("no runs yet: start one with `uet run FILE`")
            return EXIT_OK
        rows = [("ID", "WORKSTREAM", "STATE", "PROGRESS", "DURATION", "CREATED")]
        for run in runs:
            finished, total = _progress(run)
            pct = 100 * finished / total if total else 100
            rows.append((run.id, run.workstream, label(run.state.value), f"{finished}/{total} {pct:3.0f}%",
                         duration(_elapsed(run.started_at, run.ended_at)),
                         time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created_at))))
        _table(rows)
        return EXIT_OK
    finally:
        store.close()


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def status_document(run_id: str) -> dict[str, Any]:
    run = queries.get_run(run_id)
    steps = queries.steps(run_id)
    counts: dict[str, int] = {}
    tools: set[str] = set()
    out_steps = []
    for step in steps:
        counts[step.state] = counts.get(step.state, 0) + 1
        if step.tool:
            tools.add(step.tool)
        out_steps.append({
            "id": step.id, "state": str(step.state), "attempts": step.attempts, "tool": step.tool,
            "kind": step.kind, "needs": step.needs, "exit_code": step.exit_code,
            "duration": _elapsed(step.started_at, step.ended_at) if step.ended_at else None,
            "reason": step.reason,
        })
    finished = sum(counts.get(s, 0) for s in ("succeeded", "failed", "skipped", "canceled"))
    return {
        "id": run.id, "state": run.state.value, "workstream": run.workstream, "source": run.source,
        "root": run.root, "reason": run.reason, "created_at": run.created_at, "started_at": run.started_at,
        "ended_at": run.ended_at, "worker": live_owner(run),
        "progress": {"total": len(steps), "finished": finished, "counts": counts,
                     "percent": round(100 * finished / len(steps), 1) if steps else 100.0},
        "steps": out_steps,
        "breakers": [b.model_dump(mode="json") for b in queries.breakers(sorted(tools))],
    }


def cmd_status(args: argparse.Namespace) -> int:
    store = open_existing(args)
    try:
        run_id = queries.resolve_run_id(args.run)
        doc = status_document(run_id)
        if args.json:
            print(json.dumps(doc, indent=2))
            return EXIT_OK
        progress = doc["progress"]
        print(f"run {doc['id']}  {doc['workstream']}  {label(doc['state'])}"
              + (f": {doc['reason']}" if doc["reason"] else ""))
        print(f"  {progress['finished']}/{progress['total']} steps finished ({progress['percent']}%), "
              + ", ".join(f"{n} {s}" for s, n in sorted(progress["counts"].items()))
              + f"; elapsed {duration(_elapsed(doc['started_at'], doc['ended_at']))}"
              + (f"; engine {doc['worker'][:8]}" if doc["worker"] else ""))
        rows = [("STEP", "STATE", "ATTEMPTS", "TOOL", "EXIT", "DURATION", "NOTE")]
        for step in doc["steps"]:
            rows.append((step["id"], label(step["state"]), str(step["attempts"]), step["tool"] or "-",
                         "-" if step["exit_code"] is None else str(step["exit_code"]), duration(step["duration"]),
                         (step["reason"] or "")[:60]))
        print()
        _table(rows)
        if doc["breakers"]:
            print()
            rows = [("TOOL", "BREAKER", "FAILURES IN A ROW", "RECENT FAILURES", "PROBE AT")]
            for b in doc["breakers"]:
                probe = "-"
                if b["state"] == "open" and b["opened_at"]:
                    probe = time.strftime("%H:%M:%S", time.localtime(b["opened_at"]))
                rows.append((b["tool"], label(b["state"]), str(b["consecutive_failures"]),
                             f"{sum(b['window'])}/{len(b['window'])}", probe))
            _table(rows)
        return EXIT_OK
    finally:
        store.close()


def _finished(run_id: str) -> bool:
    run = queries.get_run(run_id)
    return (run.state in RUN_TERMINAL or run.state is RunState.PAUSED) and live_owner(run) is None


async def _follow_events(store: Store, run_id: str, as_json: bool) -> None:
    cursor = EventCursor(run_id)
    stop = asyncio.Event()

    def flush() -> None:
        while True:
            batch = cursor.read()
            for event in batch:
                if as_json:
                    print(json.dumps(event.model_dump(mode="json")), flush=True)
                else:
                    stamp = time.strftime("%H:%M:%S", time.localtime(event.ts))
                    print(f"{stamp} {describe(event.kind, event.step_id, event.data)}", flush=True)
            if len(batch) < 5_000:
                return

    flush()
    if stop.is_set():
        return
    async for _ in ChangeFeed(store.path).changes(stop):
        flush()
        if _finished(run_id):
            flush()
            return


async def _follow_step(store: Store, run_id: str, step_id: str, attempt: int | None, follow: bool) -> None:
    current: int | None = None
    offset = 0
    stop = asyncio.Event()

    def pump() -> bool:
        """Print what is new; True when there is nothing more to wait for."""
        nonlocal current, offset
        attempts = queries.attempts(run_id, step_id)
        if attempt is not None:
            attempts = [a for a in attempts if a.number == attempt]
        if not attempts:
            return not follow
        latest = attempts[-1]
        if current != latest.number:
            if current is not None:
                print(f"── attempt {latest.number} ({latest.tool}) ──", flush=True)
            current, offset = latest.number, 0
        if latest.log_path and Path(latest.log_path).exists():
            with open(latest.log_path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            if chunk:
                offset += len(chunk)
                sys.stdout.write(chunk.decode("utf-8", errors="replace"))
                sys.stdout.flush()
        step = queries.get_step(run_id, step_id)
        ended = latest.state != "running" and step.state not in ("running", "retrying", "ready")
        return ended or attempt is not None and latest.state != "running"

    done = pump()
    if not follow or done and _finished(run_id) or done and not follow:
        return
    async for _ in ChangeFeed(store.path).changes(stop):
        if pump() and (attempt is not None or _finished(run_id) or
                       queries.get_step(run_id, step_id).state in ("succeeded", "failed", "canceled", "skipped")):
            return


def cmd_logs(args: argparse.Namespace) -> int:
    store = open_existing(args)
    try:
        run_id = queries.resolve_run_id(args.run)
        if args.step is None:
            if args.follow:
                asyncio.run(_follow_events(store, run_id, args.json))
            else:
                cursor = EventCursor(run_id)
                while batch := cursor.read():
                    for event in batch:
                        if args.json:
                            print(json.dumps(event.model_dump(mode="json")))
                        else:
                            stamp = time.strftime("%H:%M:%S", time.localtime(event.ts))
                            print(f"{stamp} {describe(event.kind, event.step_id, event.data)}")
            return EXIT_OK
        step = queries.get_step(run_id, args.step)
        if not queries.attempts(run_id, step.id) and not args.follow:
            print(f"step {step.id} has not run yet ({step.state})", file=sys.stderr)
            return EXIT_OK
        asyncio.run(_follow_step(store, run_id, step.id, args.attempt, args.follow))
        return EXIT_OK
    finally:
        store.close()
