"""Statement builders for the engine's writes. Each returns one ``(sql, params)`` pair; the
engine groups them into units for ``Writer.submit`` so a state change and its event commit
together. Builders are plain functions so the hot path pays no ORM cost.
"""

from __future__ import annotations

from typing import Any

from store.codec import dumps
from store.writer import EVENT_SQL, RowImage, Statement

#: A step row's whole mutable part, keyed by (run_id, id). The runner builds its images in place
#: (a RowImage of these parameters plus the key), three times per step, without a builder call.
STEP_ROW_SQL = (
    "UPDATE steps SET state = ?, tool = ?, attempts = ?, attempt_base = ?, exit_code = ?, started_at = ?, "
    "ended_at = ?, reason = ? WHERE run_id = ? AND id = ?"
)
#: An attempt's whole row, keyed by (run_id, step_id, number): inserted, or the row there updated,
#: so that the triggers keeping each tool's totals (``store.tool_totals``) see the row it was
#: (``INSERT OR REPLACE`` deletes it without a trigger seeing).
ATTEMPT_ROW_SQL = (
    "INSERT INTO attempts (run_id, step_id, number, tool, state, worker_id, started_at, ended_at, "
    "exit_code, log_path, error, tokens_in, tokens_out, usd, model, pid, tokens_cached, duration, output) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, step_id, number) DO UPDATE SET tool = excluded.tool, state = excluded.state, "
    "worker_id = excluded.worker_id, started_at = excluded.started_at, ended_at = excluded.ended_at, "
    "exit_code = excluded.exit_code, log_path = excluded.log_path, error = excluded.error, "
    "tokens_in = excluded.tokens_in, tokens_out = excluded.tokens_out, usd = excluded.usd, model = excluded.model, "
    "pid = excluded.pid, tokens_cached = excluded.tokens_cached, duration = excluded.duration, "
    "output = excluded.output"
)


def insert_event(ts: float, kind: str, run_id: str | None, step_id: str | None, data: dict[str, Any]) -> Statement:
    return (EVENT_SQL, (ts, run_id, step_id, kind, dumps(data) if data else "{}"))


def attempt_row(
    run_id: str,
    step_id: str,
    number: int,
    tool: str,
    state: str,
    worker_id: str | None,
    started_at: float,
    ended_at: float | None = None,
    exit_code: int | None = None,
    log_path: str | None = None,
    error: str | None = None,
    tokens_in: int | None = None,
    tokens_out: int | None = None,
    usd: float | None = None,
    model: str | None = None,
    pid: int | None = None,
    tokens_cached: int | None = None,
    duration: float | None = None,
    output: str | None = None,
) -> RowImage:
    """An attempt's row. ``duration`` (seconds the tool ran) is set once the attempt finished
    after really running a tool; such rows are what the ``costs`` view lists. ``output`` is
    what the attempt answered (an agent's final message; see ``engine.outputs``)."""
    return RowImage(
        ATTEMPT_ROW_SQL,
        (run_id, step_id, number),
        (run_id, step_id, number, tool, state, worker_id, started_at, ended_at, exit_code, log_path, error,
         tokens_in, tokens_out, usd, model, pid, tokens_cached, duration, output),
    )


PATCH_INSERT_SQL = (
    "INSERT INTO patches (id, run_id, step_id, attempt, state, base_commit, diff, sha256, files, added, removed, gate, "
    "round, parent_id, worktree, created_at, updated_at, decided_by, reason, round_kind) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def insert_patch(patch_id: str, run_id: str, step_id: str, attempt: int, state: str, base_commit: str, diff: str,
                 sha256: str, files: list[dict[str, Any]], added: int, removed: int, gate: str | None, round_: int,
                 parent_id: str | None, worktree: str | None, ts: float, by: str | None, reason: str | None,
                 round_kind: str = "first") -> Statement:
    return (PATCH_INSERT_SQL, (patch_id, run_id, step_id, attempt, state, base_commit, diff, sha256, dumps(files),
                               added, removed, gate, round_, parent_id, worktree, ts, ts, by, reason, round_kind))


def patch_state(patch_id: str, state: str, ts: float, by: str | None, reason: str | None,
                applied_commit: str | None = None, worktree: str | None = None, clear_worktree: bool = False,
                applied_diff: str | None = None, superseded_by: str | None = None) -> Statement:
    return (
        "UPDATE patches SET state = ?, updated_at = ?, decided_by = COALESCE(?, decided_by), "
        "reason = COALESCE(?, reason), applied_commit = COALESCE(?, applied_commit), "
        "applied_diff = COALESCE(?, applied_diff), superseded_by = COALESCE(?, superseded_by), "
        "worktree = CASE WHEN ? THEN NULL ELSE COALESCE(?, worktree) END WHERE id = ?",
        (state, ts, by, reason, applied_commit, applied_diff, superseded_by, 1 if clear_worktree else 0, worktree,
         patch_id),
    )


def insert_comment(patch_id: str, path: str | None, line: int | None, hunk: int | None, body: str, context: str,
                   by: str, ts: float, submitted_at: float | None = None) -> Statement:
    return (
        "INSERT INTO patch_comments (patch_id, path, line, hunk, body, context, by, created_at, submitted_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (patch_id, path, line, hunk, body, context, by, ts, submitted_at),
    )


def submit_comments(patch_id: str, ts: float) -> Statement:
    """Every draft comment of the patch becomes submitted."""
    return ("UPDATE patch_comments SET submitted_at = ? WHERE patch_id = ? AND submitted_at IS NULL", (ts, patch_id))


def delete_comment(comment_id: int) -> Statement:
    """A draft only: a submitted comment is part of the patch's history."""
    return ("DELETE FROM patch_comments WHERE id = ? AND submitted_at IS NULL", (comment_id,))


def insert_gate_result(patch_id: str, gate: str, round_: int, index: int, command: list[str], outcome: str,
                       exit_code: int | None, duration: float, output_tail: str, ts: float) -> Statement:
    return (
        "INSERT INTO gate_results (patch_id, gate, round, idx, command, outcome, exit_code, duration, output_tail, ts) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (patch_id, gate, round_, index, dumps(command), outcome, exit_code, duration, output_tail, ts),
    )


def run_spec(run_id: str, spec: dict[str, Any]) -> Statement:
    return ("UPDATE runs SET spec = ? WHERE id = ?", (dumps(spec), run_id))




def step_due(run_id: str, step_id: str, due_at: float | None) -> Statement:
    """When a waiting step may start (None once it no longer waits)."""
    return "UPDATE steps SET due_at = ? WHERE run_id = ? AND id = ?", (due_at, run_id, step_id)


def step_finished(
    run_id: str, step_id: str, state: str, exit_code: int | None, ts: float | None, reason: str | None
) -> Statement:
    return (
        "UPDATE steps SET state = ?, exit_code = ?, ended_at = ?, reason = ? WHERE run_id = ? AND id = ?",
        (state, exit_code, ts, reason, run_id, step_id),
    )




def finish_attempt(
    run_id: str,
    step_id: str,
    number: int,
    state: str,
    ts: float,
    exit_code: int | None,
    error: str | None,
    tokens_in: int | None,
    tokens_out: int | None,
    usd: float | None,
    model: str | None,
) -> Statement:
    return (
        "UPDATE attempts SET state = ?, ended_at = ?, exit_code = ?, error = ?, tokens_in = ?, "
        "tokens_out = ?, usd = ?, model = ? WHERE run_id = ? AND step_id = ? AND number = ?",
        (state, ts, exit_code, error, tokens_in, tokens_out, usd, model, run_id, step_id, number),
    )


def run_state(
    run_id: str,
    state: str,
    *,
    started_at: float | None = None,
    ended_at: float | None = None,
    reason: str | None = None,
    clear_end: bool = False,
) -> Statement:
    return (
        "UPDATE runs SET state = ?, started_at = COALESCE(started_at, ?), "
        "ended_at = CASE WHEN ? THEN NULL ELSE COALESCE(?, ended_at) END, reason = ?, "
        "pausing = NULL, waiting_on = NULL, waiting_until = NULL WHERE id = ?",
        (state, started_at, 1 if clear_end else 0, ended_at, reason, run_id),
    )


def run_counts(run_id: str, succeeded: int, failed: int, skipped: int, canceled: int, running: int) -> Statement:
    """A run's progress as its engine counts it (``done_steps`` is every finished step)."""
    return ("UPDATE runs SET done_steps = ?, failed_steps = ?, skipped_steps = ?, canceled_steps = ?, "
            "running_steps = ? WHERE id = ?",
            (succeeded + failed + skipped + canceled, failed, skipped, canceled, running, run_id))


#: A run's progress counted again from its steps: for every path that changes steps without
#: an engine's counts (a cancel, retry or resume with no engine, a reopen).
RECOUNT_SQL = (
    "UPDATE runs SET (done_steps, failed_steps, skipped_steps, canceled_steps, running_steps) = ("
    "SELECT COALESCE(SUM(state IN ('succeeded', 'failed', 'skipped', 'canceled')), 0), "
    "COALESCE(SUM(state = 'failed'), 0), COALESCE(SUM(state = 'skipped'), 0), "
    "COALESCE(SUM(state = 'canceled'), 0), COALESCE(SUM(state = 'running'), 0) "
    "FROM steps WHERE steps.run_id = runs.id) WHERE id = ?"
)


def recount_run(run_id: str) -> Statement:
    return (RECOUNT_SQL, (run_id,))


def run_activity(run_id: str, pausing: str | None, waiting_on: str | None, waiting_until: float | None) -> Statement:
    """What a running run is doing besides executing steps: pausing (why), or waiting on an open
    breaker (whose, and when it lets a probe through); NULLs when neither."""
    return ("UPDATE runs SET pausing = ?, waiting_on = ?, waiting_until = ? WHERE id = ?",
            (pausing, waiting_on, waiting_until, run_id))


def upsert_breaker(
    tool: str,
    state: str,
    consecutive_failures: int,
    window: list[bool],
    opened_at: float | None,
    probe_started_at: float | None,
    ts: float,
) -> Statement:
    return (
        "INSERT INTO breakers (tool, state, consecutive_failures, window, opened_at, probe_started_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tool) DO UPDATE SET state = excluded.state, "
        "consecutive_failures = excluded.consecutive_failures, window = excluded.window, "
        "opened_at = excluded.opened_at, probe_started_at = excluded.probe_started_at, "
        "updated_at = excluded.updated_at",
        (tool, state, consecutive_failures, dumps([int(x) for x in window]), opened_at, probe_started_at, ts),
    )


def upsert_tool_stats(
    tool: str,
    attempts: int,
    successes: int,
    failures: int,
    total_seconds: float,
    ewma_seconds: float | None,
    ewma_success: float | None,
    ts: float,
) -> Statement:
    return (
        "INSERT INTO tool_stats (tool, attempts, successes, failures, total_seconds, ewma_seconds, ewma_success, last_used_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tool) DO UPDATE SET attempts = excluded.attempts, "
        "successes = excluded.successes, failures = excluded.failures, total_seconds = excluded.total_seconds, "
        "ewma_seconds = excluded.ewma_seconds, ewma_success = excluded.ewma_success, last_used_at = excluded.last_used_at",
        (tool, attempts, successes, failures, total_seconds, ewma_seconds, ewma_success, ts),
    )


def heartbeat(worker_id: str, state: str, ts: float) -> Statement:
    # A worker another engine declared lost stays lost: its late heartbeat must not revive it.
    return ("UPDATE workers SET state = ?, heartbeat_at = ? WHERE id = ? AND state != 'lost'", (state, ts, worker_id))


#: The answer to a request the run's engine never took.
NOT_CARRIED_OUT = "not carried out: the run's engine stopped before it took the request; ask again"


def expire_commands(run_id: str, worker_id: str, ts: float) -> Statement:
    """Answer the run's untaken requests as not carried out, if ``worker_id`` owns the run."""
    return ("UPDATE commands SET done_at = ?, result = ? WHERE run_id = ? AND done_at IS NULL AND claimed_by IS NULL "
            "AND (SELECT worker_id FROM runs WHERE id = ?) = ?", (ts, NOT_CARRIED_OUT, run_id, run_id, worker_id))


def command_done(command_id: int, ts: float, result: str) -> Statement:
    return ("UPDATE commands SET done_at = ?, result = ? WHERE id = ?", (ts, result, command_id))
