"""The patch ledger's records: proposed changes, the gate results that judged them, and what
each attempt cost."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.states import PatchState


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PatchFileRecord(Record):
    path: str
    old_path: str | None = None
    status: str = Field(description="added, modified, deleted, renamed, copied or mode")
    added: int = 0
    removed: int = 0
    binary: bool = False


class PatchRecord(Record):
    id: str
    run_id: str
    step_id: str
    attempt: int
    state: PatchState
    base_commit: str
    sha256: str
    files: list[PatchFileRecord] = Field(default_factory=list)
    added: int = 0
    removed: int = 0
    gate: str | None = None
    round: int = Field(1, description="Fix-loop round that produced it.")
    parent_id: str | None = Field(None, description="The patch this one was cut from (a subset of hunks).")
    worktree: str | None = None
    created_at: float
    updated_at: float
    decided_by: str | None = None
    reason: str | None = None
    applied_commit: str | None = None


class GateResultRecord(Record):
    id: int
    patch_id: str
    gate: str
    round: int
    index: int = Field(description="Position of the command in the gate.")
    command: list[str]
    outcome: str
    exit_code: int | None = None
    duration: float = 0.0
    output_tail: str = ""
    ts: float


class CostRecord(Record):
    run_id: str
    step_id: str
    attempt: int
    tool: str
    model: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    tokens_cached: int | None = None
    usd: float | None = Field(None, description="None when the cost could not be priced: unknown, not zero.")
    wall: float = 0.0
    ts: float


class CostTotals(Record):
    """Sums over a set of attempts. Dollars are summed over priced attempts only;
    ``unpriced`` counts the attempts whose cost is unknown."""

    key: dict[str, Any] = Field(default_factory=dict)
    attempts: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0
    usd: float = 0.0
    unpriced: int = 0
    untokened: int = Field(0, description="Attempts that reported no token counts (their tokens are unknown, not zero).")
    wall: float = 0.0
