"""One attempt's request to an adapter and the adapter's result: small frozen value objects."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Outcome = Literal["succeeded", "failed", "timed_out", "crashed", "canceled"]


class ExecutionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    step_id: str
    attempt: int = Field(ge=1)
    tool: str
    adapter: Literal["subprocess", "python", "sim"]
    argv: list[str] | None = None
    callable: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    cwd: str
    env: dict[str, str] = Field(default_factory=dict)
    timeout: float | None = Field(None, gt=0)
    grace: float = Field(5.0, ge=0, description="Seconds between SIGTERM and SIGKILL.")
    log_path: str | None = None
    success_codes: tuple[int, ...] = (0,)


class ExecutionResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Outcome
    exit_code: int | None = None
    duration: float = 0.0
    error: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    model: str | None = None
    output_tail: str = ""
