"""The names of every state machine's states.

The enums live here, in the contracts layer, because stored records carry them; the rules
that say which transitions are allowed live in ``engine.states``.
"""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    QUARANTINED = "quarantined"


class StepState(StrEnum):
    PENDING = "pending"
    # Its needs are met; a `delay` or `not_before` keeps it from starting until its due time.
    WAITING = "waiting"
    READY = "ready"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELED = "canceled"


class AttemptState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CRASHED = "crashed"
    CANCELED = "canceled"


class PatchState(StrEnum):
    PROPOSED = "proposed"
    GATING = "gating"
    GATE_PASSED = "gate_passed"
    GATE_FAILED = "gate_failed"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPLIED = "applied"
    REVERTED = "reverted"
    # A reviewer asked for another round; the step runs again with their comments.
    CHANGES_REQUESTED = "changes_requested"
    # The next round (a fix or a revision) proposed the patch that replaces this one.
    SUPERSEDED = "superseded"


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class WorkerState(StrEnum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    DRAINING = "draining"
    STOPPED = "stopped"
    LOST = "lost"


class CommandKind(StrEnum):
    CANCEL = "cancel"
    RETRY = "retry"
    PAUSE = "pause"
    RESUME = "resume"
    APPROVE = "approve"
    REJECT = "reject"
    RESET_BREAKER = "reset_breaker"
