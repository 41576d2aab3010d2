"""Contracts: Pydantic v2 models of every UET artifact, and their JSON Schema export.

The names below are imported from their modules when first asked for (``from schemas import
Workstream``), not when the package is: a command that needs the workstream model does not pay
for building the profile, router and record models too.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "AttemptRecord": "schemas.records",
    "AttemptState": "schemas.states",
    "BreakerPolicy": "schemas.router",
    "BreakerRecord": "schemas.records",
    "BreakerState": "schemas.states",
    "Budget": "schemas.workstream",
    "CommandKind": "schemas.states",
    "CommandRecord": "schemas.records",
    "Duration": "schemas.durations",
    "EventRecord": "schemas.records",
    "ExecutionRequest": "schemas.execution",
    "ExecutionResult": "schemas.execution",
    "FACT_NAMES": "schemas.profile",
    "PatchState": "schemas.states",
    "PhaseTemplate": "schemas.profile",
    "Profile": "schemas.profile",
    "ProfileDefaults": "schemas.profile",
    "ProgressSnapshot": "schemas.records",
    "RetryPolicy": "schemas.workstream",
    "RouterConfig": "schemas.router",
    "RoutingRule": "schemas.router",
    "RunRecord": "schemas.records",
    "RunState": "schemas.states",
    "Signal": "schemas.profile",
    "SimSpec": "schemas.router",
    "Step": "schemas.workstream",
    "StepRecord": "schemas.records",
    "StepState": "schemas.states",
    "ToolSpec": "schemas.router",
    "ToolStatsRecord": "schemas.records",
    "WorkerRecord": "schemas.records",
    "WorkerState": "schemas.states",
    "Workstream": "schemas.workstream",
    "format_duration": "schemas.durations",
    "parse_duration": "schemas.durations",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'schemas' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
