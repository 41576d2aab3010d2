"""The patch ledger's records: proposed changes, the gate results that judged them, and what
each attempt cost."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.states import PatchState

RoundKind = Literal["first", "fix", "revision", "subset"]

#: Bounds on reviewers' comments, so nothing unbounded reaches the store or a prompt.
COMMENT_MAX_BYTES = 8 * 1024
COMMENTS_PER_PATCH = 50


class Record(BaseModel):
    # Validators and serializers are built the first time a model validates or dumps, not at
    # import: the store makes records with model_construct, and a read command uses a few of the
    # models it imports (importing them went from about 60 ms to 12 ms).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


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
    round: int = Field(1, description="The round of its step's patch that produced it (1 = the first).")
    parent_id: str | None = Field(
        None, description="The patch this one came from: the previous round (round_kind fix or revision) or the "
                          "patch it was cut from (round_kind subset).")
    worktree: str | None = None
    created_at: float
    updated_at: float
    decided_by: str | None = None
    reason: str | None = None
    applied_commit: str | None = None
    round_kind: RoundKind = Field(
        "first", description="What made it: first (the step's first patch), fix (a round after its gate failed), "
                             "revision (a round after a reviewer requested changes) or subset (hunks kept from "
                             "parent_id, same round).")
    superseded_by: str | None = Field(None, description="The next round's patch, once one replaced this one.")


class CommentRecord(Record):
    """A reviewer's comment on a patch: on the whole patch (no path), a file, a hunk of it or a
    line (new-side number). A draft until submitted with a request for changes."""

    id: int
    patch_id: str
    path: str | None = None
    line: int | None = Field(None, description="New-side line number in path.")
    hunk: int | None = Field(None, description="0-based index of the hunk in path's part of the diff.")
    body: str
    context: str = Field("", description="The diff lines the comment points at.")
    by: str
    created_at: float
    submitted_at: float | None = Field(None, description="None while a draft.")


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
