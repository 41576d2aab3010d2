"""Steering a run from outside its engine: cancel, pause, resume and retry as one call.

When a live engine owns the run, the request goes through the ``commands`` table and that
engine carries it out. When none does, the change is made here (cancel, pause) or a new
background engine is started for it (resume, retry), so a face such as the dashboard never
has to block on a run. Every request records who asked.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from engine.events import Event, EventBus, Recorder
from engine.liveness import live_owner
from engine.session import cancel_offline, claimed
from engine.states import RUN_TERMINAL
from schemas.states import RunState
from store import Store, ops, queries


@dataclass(frozen=True, slots=True)
class Started:
    pid: int
    log: Path


class EngineDidNotStart(RuntimeError):
    pass


# Background engines this process started: kept so their exit is reaped (no zombies in a
# long-lived dashboard) and so dropping the handle is not mistaken for a leak.
_children: list[subprocess.Popen[bytes]] = []


def _reap() -> None:
    _children[:] = [child for child in _children if child.poll() is None]


def spawn_engine(store: Store, root: Path, run_id: str, extra: list[str] | None = None,
                 wait: float = 10.0) -> Started:
    """Start ``uet _exec RUN`` in its own session, so it outlives the terminal that asked, and
    wait until it has claimed the run (or exited, which raises with the log's path)."""
    log_dir = root / ".uet" / "logs" / run_id
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "engine.log"
    argv = [sys.executable, "-m", "tui.cli", "_exec", run_id, "--db", str(store.path), "--project", str(root),
            *(extra or [])]
    before = queries.get_run(run_id).worker_id
    _reap()
    with open(log_path, "ab") as log:
        child = subprocess.Popen(argv, cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 start_new_session=True, close_fds=True)
    _children.append(child)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        run = queries.get_run(run_id)
        if run.worker_id and run.worker_id != before or run.state in RUN_TERMINAL and child.poll() is not None:
            break
        if child.poll() is not None:
            raise EngineDidNotStart(f"the background engine exited at once (code {child.returncode}); see {log_path}")
        time.sleep(0.05)
    return Started(child.pid, log_path)


def cancel(store: Store, run_id: str, by: str, reason: str | None = None) -> str:
    run = queries.get_run(run_id)
    if run.state in RUN_TERMINAL:
        return f"run {run_id} is already {run.state.value}"
    reason = reason or f"canceled by {by}"
    if live_owner(run) is not None:
        store.insert_command(run_id, "cancel", {"reason": reason}, by)
        return f"cancel requested for run {run_id}"
    state = cancel_offline(store, run_id, reason)
    return f"run {run_id} {state.value} (no engine was running it)"


def pause(store: Store, run_id: str, by: str, reason: str | None = None) -> str:
    run = queries.get_run(run_id)
    reason = reason or f"paused by {by}"
    if live_owner(run) is not None:
        store.insert_command(run_id, "pause", {"reason": reason}, by)
        return f"pause requested for run {run_id}: running steps finish, no new ones start"
    if run.state is not RunState.RUNNING:
        return f"run {run_id} is {run.state.value}; only a running run can be paused"
    with claimed(store, run_id):
        now = time.time()
        Recorder(store, EventBus()).write(
            [ops.run_state(run_id, "paused", ended_at=now, reason=reason)],
            [Event(now, "run.state", run_id, None, {"from": "running", "to": "paused", "reason": reason})],
        )
    return f"run {run_id} paused (no engine was running it)"


def resume(store: Store, run_id: str, by: str) -> str:
    run = queries.get_run(run_id)
    owner = live_owner(run)
    if owner is not None:
        store.insert_command(run_id, "resume", {}, by)
        return f"asked the engine running {run_id} to resume"
    if run.state is RunState.SUCCEEDED:
        return f"run {run_id} already succeeded; nothing to resume"
    operator_resume = run.state in (RunState.FAILED, RunState.CANCELED, RunState.QUARANTINED)
    started = spawn_engine(store, Path(run.root), run_id, ["--resume"] if operator_resume else [])
    return f"run {run_id} resumed in the background (pid {started.pid})"


def retry(store: Store, run_id: str, step_id: str, by: str) -> str:
    step = queries.get_step(run_id, step_id)
    run = queries.get_run(run_id)
    if live_owner(run) is not None:
        store.insert_command(run_id, "retry", {"step": step.id}, by)
        return f"retry of step {step.id} requested"
    if step.state not in ("failed", "canceled", "skipped"):
        return f"step {step.id} is {step.state}; only failed, canceled or skipped steps are retried"
    started = spawn_engine(store, Path(run.root), run_id, ["--reopen", step.id])
    return f"step {step.id} retried in the background (pid {started.pid})"
