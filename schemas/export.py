"""JSON Schema export: ``uet schemas export`` writes ``schemas/json/<name>.v1.json``.

The committed files are checked against the models by a test, so an editor that validates a
workstream through its ``$schema`` line always sees what the engine accepts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from schemas.analytics import ROW_MODELS
from schemas.bootstrap import BootstrapReport, ProjectManifest
from schemas.execution import ExecutionRequest, ExecutionResult
from schemas.patch import CostRecord, GateResultRecord, PatchRecord
from schemas.profile import Profile
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
from schemas.router import RouterConfig
from schemas.scan import ScanReport
from schemas.workstream import Workstream

JSON_DIR = Path(__file__).resolve().parent / "json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
VERSION = 1

EXPORTED: dict[str, type[Any]] = {
    "workstream": Workstream,
    "router": RouterConfig,
    "profile": Profile,
    "execution_request": ExecutionRequest,
    "execution_result": ExecutionResult,
    "run": RunRecord,
    "step": StepRecord,
    "attempt": AttemptRecord,
    "event": EventRecord,
    "breaker": BreakerRecord,
    "tool_stats": ToolStatsRecord,
    "worker": WorkerRecord,
    "command": CommandRecord,
    "progress": ProgressSnapshot,
    "patch": PatchRecord,
    "gate_result": GateResultRecord,
    "cost": CostRecord,
    "scan_report": ScanReport,
    "bootstrap": BootstrapReport,
    "project": ProjectManifest,
    # The column schema of `uet export` (schemas.analytics): one file per dataset.
    **{f"export.{name}": model for name, model in ROW_MODELS.items()},
}


def file_name(name: str) -> str:
    return f"{name}.v{VERSION}.json"


def render(name: str) -> str:
    """The exact text of one schema file, stable across runs so diffs stay meaningful."""
    model = EXPORTED[name]
    if isinstance(model, type) and issubclass(model, BaseModel):
        schema = model.model_json_schema(mode="validation")
    else:
        schema = TypeAdapter(model).json_schema(mode="validation")
    document = {"$schema": DIALECT, "$id": f"https://uet.dev/schemas/{file_name(name)}", **schema}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def export_all(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(EXPORTED):
        path = directory / file_name(name)
        path.write_text(render(name), encoding="utf-8")
        written.append(path)
    return written


def stale_files(directory: Path = JSON_DIR) -> list[str]:
    """Names of schema files that are missing or differ from what the models produce."""
    stale = []
    for name in sorted(EXPORTED):
        path = directory / file_name(name)
        if not path.is_file() or path.read_text(encoding="utf-8") != render(name):
            stale.append(file_name(name))
    return stale
