"""What ``uet tools`` and the dashboard's Tools screen say about each tool of a project's router.

``ToolUsage`` is what the store's attempts say about one tool (``store.tool_totals.tool_usage``);
``ToolInfo`` is a whole row: where the tool is defined, whether its program is here and which
version it is, its breaker and its record. Both cross ``--json`` as they are.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.memory import KindStats


class ToolUsage(BaseModel):
    """A tool's finished attempts (succeeded, failed, timed out or crashed; canceled and running
    ones say nothing about the tool). Dollars and tokens are summed over the attempts that
    reported them, and counted, so an unknown cost is never averaged as zero."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    tool: str
    attempts: int = 0
    succeeded: int = 0
    median_seconds: float | None = None
    usd: float = 0.0
    priced: int = Field(0, description="Attempts that reported dollars.")
    tokens: int = Field(0, description="Tokens in and out, over the attempts that reported any.")
    tokenized: int = Field(0, description="Attempts that reported tokens.")
    last_used_at: float | None = None


class ToolInfo(BaseModel):
    """One tool of the project's router, as ``uet tools --json`` prints it."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    name: str
    source: Literal["built-in", "project"] = Field(
        description="built-in: UET's own definition (an agent of the catalog, or the built-in router when the "
                    "project has no router file); project: defined in .uet/router.yaml.")
    adapter: str
    agent: str | None = Field(None, description="The agent family the tool runs, if it is an AI coding agent.")
    executable: str | None = Field(None, description="The program it needs; none for python and sim tools.")
    path: str | None = Field(None, description="Where the program was found.")
    found: bool | None = Field(None, description="Whether the program is here; null when none is needed.")
    install: str | None = Field(None, description="How to install a missing agent's CLI.")
    version: str | None = Field(
        None, description="The first line the program printed for version_args, or 'unknown (why)'; null when "
                          "not asked or nothing to ask.")
    capabilities: list[str] = Field(default_factory=list)
    breaker: Literal["closed", "open", "half_open"] | None = Field(
        None, description="The breaker the store keeps; null when the tool never ran.")
    breaker_opened_at: float | None = None
    attempts: int = 0
    succeeded: int = 0
    success_rate: float | None = None
    median_seconds: float | None = None
    usd_per_attempt: float | None = Field(None, description="Mean over the attempts that reported dollars.")
    tokens_per_attempt: float | None = Field(None, description="Mean over the attempts that reported tokens.")
    priced_attempts: int = 0
    last_used_at: float | None = None
    kinds: list[KindStats] = Field(
        default_factory=list, description="Its record per kind of step, as the router's `auto` strategy learns it.")
