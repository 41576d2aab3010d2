"""Every state machine's rules, as data: one enum per machine, its TERMINAL set, its ALLOWED map.

``transition()`` is the one gate every state change passes through; the engine writes the event
for it in the same transaction as the new state. Transitions out of a terminal state exist only
where an operator asks for them (retry a failed step, resume a failed run) and say so below.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from engine.errors import InvalidTransition
from schemas.states import (
    AttemptState,
    BreakerState,
    PatchState,
    RunState,
    StepState,
    WorkerState,
)

S = TypeVar("S", bound=StrEnum)

R, T, A, P, B, W = RunState, StepState, AttemptState, PatchState, BreakerState, WorkerState

RUN_TERMINAL = frozenset({R.SUCCEEDED, R.FAILED, R.CANCELED})
#: Pending, running, paused, quarantined: as the store spells them, for a query of the runs not finished.
RUN_UNFINISHED = tuple(state.value for state in RunState if state not in RUN_TERMINAL)
RUN_ALLOWED: Mapping[RunState, frozenset[RunState]] = {
    R.PENDING: frozenset({R.RUNNING, R.CANCELED, R.QUARANTINED}),
    R.RUNNING: frozenset({R.SUCCEEDED, R.FAILED, R.CANCELED, R.PAUSED, R.QUARANTINED}),
    R.PAUSED: frozenset({R.RUNNING, R.CANCELED, R.QUARANTINED}),
    # Operator resume/retry reopens a finished run; a succeeded run stays done.
    R.FAILED: frozenset({R.RUNNING}),
    R.CANCELED: frozenset({R.RUNNING}),
    # Only a review's revision round reopens a succeeded run (engine.review.rounds); nothing
    # else asks for this move (a resume or a retry of a succeeded run is refused before it).
    R.SUCCEEDED: frozenset({R.RUNNING}),
    # Quarantine needs a human: only an explicit resume or cancel leaves it.
    R.QUARANTINED: frozenset({R.RUNNING, R.CANCELED}),
}

STEP_TERMINAL = frozenset({T.SUCCEEDED, T.FAILED, T.SKIPPED, T.CANCELED})
STEP_ALLOWED: Mapping[StepState, frozenset[StepState]] = {
    T.PENDING: frozenset({T.READY, T.WAITING, T.SKIPPED, T.CANCELED}),
    # A step with a `delay` or `not_before` waits for its due time; a cancel or a stop ends the wait.
    T.WAITING: frozenset({T.READY, T.SKIPPED, T.CANCELED}),
    T.READY: frozenset({T.RUNNING, T.SKIPPED, T.CANCELED}),
    T.RUNNING: frozenset({T.SUCCEEDED, T.FAILED, T.RETRYING, T.CANCELED}),
    T.RETRYING: frozenset({T.RUNNING, T.FAILED, T.CANCELED}),
    # Only a review's revision round puts a succeeded patch step back in line.
    T.SUCCEEDED: frozenset({T.PENDING}),
    # `uet retry RUN STEP` / `uet resume` put unfinished work back in line.
    T.FAILED: frozenset({T.PENDING}),
    T.SKIPPED: frozenset({T.PENDING}),
    T.CANCELED: frozenset({T.PENDING}),
}

ATTEMPT_TERMINAL = frozenset({A.SUCCEEDED, A.FAILED, A.TIMED_OUT, A.CRASHED, A.CANCELED})
ATTEMPT_ALLOWED: Mapping[AttemptState, frozenset[AttemptState]] = {
    A.RUNNING: ATTEMPT_TERMINAL,
    **{state: frozenset() for state in ATTEMPT_TERMINAL},
}

PATCH_TERMINAL = frozenset({P.REJECTED, P.REVERTED, P.SUPERSEDED})
PATCH_ALLOWED: Mapping[PatchState, frozenset[PatchState]] = {
    # A patch from a step without a gate is reviewed as proposed.
    P.PROPOSED: frozenset({P.GATING, P.APPROVED, P.REJECTED, P.CHANGES_REQUESTED}),
    P.GATING: frozenset({P.GATE_PASSED, P.GATE_FAILED}),
    P.GATE_PASSED: frozenset({P.APPROVED, P.REJECTED, P.GATING, P.CHANGES_REQUESTED}),
    # A fix round's new patch supersedes the one whose gate failed.
    P.GATE_FAILED: frozenset({P.APPROVED, P.REJECTED, P.GATING, P.CHANGES_REQUESTED, P.SUPERSEDED}),
    # The revision round's patch supersedes it, or the reviewer gives up on it.
    P.CHANGES_REQUESTED: frozenset({P.SUPERSEDED, P.REJECTED}),
    P.APPROVED: frozenset({P.APPLIED}),
    P.APPLIED: frozenset({P.REVERTED}),
    P.REJECTED: frozenset(),
    P.REVERTED: frozenset(),
    P.SUPERSEDED: frozenset(),
}

BREAKER_TERMINAL: frozenset[BreakerState] = frozenset()
BREAKER_ALLOWED: Mapping[BreakerState, frozenset[BreakerState]] = {
    B.CLOSED: frozenset({B.OPEN}),
    B.OPEN: frozenset({B.HALF_OPEN}),
    B.HALF_OPEN: frozenset({B.CLOSED, B.OPEN}),
}

WORKER_TERMINAL = frozenset({W.STOPPED, W.LOST})
WORKER_ALLOWED: Mapping[WorkerState, frozenset[WorkerState]] = {
    W.STARTING: frozenset({W.IDLE, W.STOPPED, W.LOST}),
    W.IDLE: frozenset({W.BUSY, W.DRAINING, W.STOPPED, W.LOST}),
    W.BUSY: frozenset({W.IDLE, W.DRAINING, W.LOST}),
    W.DRAINING: frozenset({W.STOPPED, W.LOST}),
    W.STOPPED: frozenset(),
    W.LOST: frozenset(),
}

MACHINES: Mapping[str, tuple[type[StrEnum], Mapping, frozenset]] = {
    "run": (RunState, RUN_ALLOWED, RUN_TERMINAL),
    "step": (StepState, STEP_ALLOWED, STEP_TERMINAL),
    "attempt": (AttemptState, ATTEMPT_ALLOWED, ATTEMPT_TERMINAL),
    "patch": (PatchState, PATCH_ALLOWED, PATCH_TERMINAL),
    "breaker": (BreakerState, BREAKER_ALLOWED, BREAKER_TERMINAL),
    "worker": (WorkerState, WORKER_ALLOWED, WORKER_TERMINAL),
}


def can_transition(machine: str, source: StrEnum, target: StrEnum) -> bool:
    return target in MACHINES[machine][1][source]


def transition(machine: str, source: S, target: S, subject: str = "") -> S:
    """Return ``target`` if ``machine`` allows ``source → target``; raise InvalidTransition otherwise."""
    if target not in MACHINES[machine][1][source]:
        raise InvalidTransition(machine, str(source), str(target), subject)
    return target
