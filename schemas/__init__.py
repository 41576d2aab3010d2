"""Contracts: Pydantic v2 models of every UET artifact, and their JSON Schema export."""

from __future__ import annotations

from schemas.durations import Duration, format_duration, parse_duration
from schemas.execution import ExecutionRequest, ExecutionResult
from schemas.profile import FACT_NAMES, PhaseTemplate, Profile, ProfileDefaults, Signal
from schemas.records import (
    AttemptRecord,
    BreakerRecord,
    CommandRecord,
    EventRecord,
    ProgressSnapshot,
    RunRecord,
    StepRecord,
    ToolStatsRecord,
    WorkerRecord,
)
from schemas.router import BreakerPolicy, RouterConfig, RoutingRule, SimSpec, ToolSpec
from schemas.states import (
    AttemptState,
    BreakerState,
    CommandKind,
    PatchState,
    RunState,
    StepState,
    WorkerState,
)
from schemas.workstream import Budget, RetryPolicy, Step, Workstream

__all__ = [
    "AttemptRecord",
    "AttemptState",
    "BreakerPolicy",
    "BreakerRecord",
    "BreakerState",
    "Budget",
    "CommandKind",
    "CommandRecord",
    "Duration",
    "EventRecord",
    "ExecutionRequest",
    "ExecutionResult",
    "FACT_NAMES",
    "PatchState",
    "PhaseTemplate",
    "Profile",
    "ProfileDefaults",
    "ProgressSnapshot",
    "RetryPolicy",
    "RouterConfig",
    "RoutingRule",
    "RunRecord",
    "RunState",
    "Signal",
    "SimSpec",
    "Step",
    "StepRecord",
    "StepState",
    "ToolSpec",
    "ToolStatsRecord",
    "WorkerRecord",
    "WorkerState",
    "Workstream",
    "format_duration",
    "parse_duration",
]
