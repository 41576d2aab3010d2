"""What the store hands back: typed, frozen records, never ORM rows.

Times are UNIX seconds (float) so records cross process boundaries and JSON unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.rows import StepRow  # noqa: F401 - the step row, long imported from here
from schemas.states import (
    AttemptState,
    BreakerState,
    CommandKind,
    RunState,
    StepState,
    WorkerState,
)


class Record(BaseModel):
    # Validators and serializers are built the first time a model validates or dumps, not at
    # import: the store makes records with model_construct, and a read command uses a few of the
    # models it imports (importing them went from about 60 ms to 12 ms).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class RunRecord(Record):
    id: str
    workstream: str
    source: str | None = Field(None, description="Path of the workstream file the run came from.")
    root: str = Field(description="Project root the steps run in.")
    state: RunState
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None
    worker_id: str | None = None
    total_steps: int = 0
    done_steps: int = Field(0, description="Finished steps, whatever their end: succeeded + failed + skipped + canceled.")
    failed_steps: int = 0
    skipped_steps: int = 0
    canceled_steps: int = 0
    running_steps: int = 0
    max_parallel: int = 1
    reason: str | None = None
    pausing: str | None = Field(None, description="Why the run is pausing: a pause was asked and running steps finish.")
    waiting_on: str | None = Field(None, description="The tool whose open breaker holds the run, nothing executing.")
    waiting_until: float | None = Field(None, description="When that breaker lets a probe through.")


class StepRecord(Record):
    run_id: str
    id: str
    kind: str
    state: StepState
    tool: str | None = None
    needs: list[str] = Field(default_factory=list)
    attempts: int = 0
    attempt_base: int = Field(0, description="Attempts made before the latest operator retry or resume.")
    exit_code: int | None = None
    started_at: float | None = None
    ended_at: float | None = None
    reason: str | None = None
    spec: dict[str, Any] = Field(default_factory=dict, description="The expanded step as written.")
    due_at: float | None = Field(None, description="When a waiting step may start (its `delay` or `not_before`).")


class AttemptRecord(Record):
    run_id: str
    step_id: str
    number: int
    tool: str
    state: AttemptState
    worker_id: str | None = None
    started_at: float
    ended_at: float | None = None
    exit_code: int | None = None
    log_path: str | None = None
    error: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    usd: float | None = None
    model: str | None = None
    tokens_cached: int | None = None
    pid: int | None = Field(None, description="Process group leader of a subprocess attempt.")
    duration: float | None = Field(None, description="Seconds the tool ran; set once it finished.")
    output: str | None = Field(
        None, description="What the attempt answered: an agent's final message, the file its step names, or "
                          "the last block of its output; at most 256 KiB (the log has the rest).")


class EventRecord(Record):
    seq: int
    ts: float
    run_id: str | None = None
    step_id: str | None = None
    kind: str
    data: dict[str, Any] = Field(default_factory=dict)


class BreakerRecord(Record):
    tool: str
    state: BreakerState
    consecutive_failures: int = 0
    window: list[bool] = Field(default_factory=list, description="Recent outcomes, newest last; True is a failure.")
    opened_at: float | None = None
    probe_started_at: float | None = None
    updated_at: float = 0.0


class ToolStatsRecord(Record):
    tool: str
    attempts: int = 0
    successes: int = 0
    failures: int = 0
    total_seconds: float = 0.0
    ewma_seconds: float | None = None
    ewma_success: float | None = None
    last_used_at: float | None = None


class WorkerRecord(Record):
    id: str
    pid: int
    host: str
    state: WorkerState
    started_at: float
    heartbeat_at: float


class CommandRecord(Record):
    id: int
    run_id: str
    kind: CommandKind
    args: dict[str, Any] = Field(default_factory=dict)
    created_at: float
    created_by: str | None = None
    claimed_by: str | None = None
    done_at: float | None = None
    result: str | None = None


class ProgressSnapshot(Record):
    run_id: str
    total: int
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    canceled: int = 0
    running: int = 0
    percent: float = 0.0
    elapsed: float = 0.0
    eta_seconds: float | None = Field(None, description="None until enough steps finished to estimate.")
