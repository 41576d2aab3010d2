"""Episodic memory: a lesson (what an attempt taught: the failure and what fixed it) and the
learned record of a tool on one kind of step, as the store returns them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FailureKind = Literal["error", "gate", "review"]
Outcome = Literal["fixed", "unresolved"]


class Lesson(BaseModel):
    """One failure of a step and, when a later attempt or round got past it, the fix.

    ``source`` names what it was harvested from (an attempt or a patch), and is unique: harvesting
    a run again updates its lessons (an unresolved one may since have been fixed) and never adds
    a second copy."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: int
    created_at: float
    run_id: str
    step_id: str
    kind: str = Field(description="The step's kind (the capability the router routed by).")
    tool: str
    task: str = Field("", description="What the step was asked (its prompt or description), bounded.")
    files: list[str] = Field(default_factory=list, description="Paths the step touched or was pointed at.")
    failure_kind: FailureKind
    failure: str = Field(description="The error, the gate's output or the reviewer's comments, bounded and masked.")
    fix: str = Field("", description="The diff of the round that passed (empty when unresolved or not a patch).")
    outcome: Outcome
    rounds: int = Field(1, description="Attempts or rounds the step needed to get past the failure.")
    source: str


class Recalled(BaseModel):
    """A lesson offered to a step, with how relevant it was found."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    lesson: Lesson
    score: float = Field(description="0 to 1: file overlap and text similarity, more for the same kind of step.")
    files: float = Field(description="The file-overlap part of the score.")
    text: float = Field(description="The text-similarity part of the score.")


class KindStats(BaseModel):
    """How one tool has done on one kind of step, over the store's finished attempts.

    An attempt is *accepted* when the patch it proposed was approved or applied, or, for a step
    that proposes no patch, when it succeeded."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    tool: str
    kind: str
    attempts: int = 0
    succeeded: int = 0
    accepted: int = 0
    success_rate: float | None = None
    mean_rounds: float | None = Field(None, description="Mean round of the accepted patches (1: the first try).")
    usd: float = Field(0.0, description="Dollars over the attempts that reported them.")
    priced: int = Field(0, description="Attempts that reported dollars.")
    usd_per_accepted: float | None = None
    accepted_per_usd: float | None = None
