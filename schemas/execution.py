"""One attempt's request to an adapter and the adapter's result: small value objects.

They are stdlib dataclasses rather than Pydantic models because the engine builds two of them
per attempt from data that was validated when the workstream was loaded; at 10,000 attempts a
second, Pydantic's construction cost would be a tenth of the budget. For the same reason they
are not ``frozen`` (a frozen dataclass sets each field through ``object.__setattr__`` and costs
five times as much to build), but nothing changes one after it is made: ``replace`` makes a new
one. Their JSON Schema is still exported (through a Pydantic TypeAdapter), and
``validate_request`` checks one from outside.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["succeeded", "failed", "timed_out", "crashed", "canceled"]

#: The exit codes a process can have, as the adapters report them: 0 to 255 from exit(), and
#: -1 to -64 for a process killed by that signal. A tool's configuration may name no other,
#: and a reported code outside this range is recorded as unknown (engine.toolvalues).
EXIT_CODE_MIN, EXIT_CODE_MAX = -64, 255
AdapterName = Literal["subprocess", "python", "sim"]


@dataclass(slots=True)
class ExecutionRequest:
    run_id: str
    step_id: str
    attempt: int
    tool: str
    adapter: AdapterName
    cwd: str
    argv: list[str] | None = None
    callable: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    grace: float = 5.0
    log_path: str | None = None
    success_codes: tuple[int, ...] = (0,)
    #: A file given to the tool as stdin (its prompt); None: /dev/null, never an open pipe.
    stdin_path: str | None = None
    #: Whole lines between the tool's output and its log (engine.agents.stream.LineStream):
    #: secrets masked, an agent's stream made readable. None: the output goes to the log as it is.
    stream: Any = None
    #: The tool gets only PATH, locale, TERM, proxy and certificate variables of UET's
    #: environment, and its own (``env``); an agent's, whose keys are passed through by name.
    clean_env: bool = False

    def __post_init__(self) -> None:
        if self.attempt < 1:
            raise ValueError("attempt numbers start at 1")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.grace < 0:
            raise ValueError("grace cannot be negative")


@dataclass(slots=True)
class ExecutionResult:
    outcome: Outcome
    exit_code: int | None = None
    duration: float = 0.0
    error: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    model: str | None = None
    output_tail: str = ""
    tokens_cached: int | None = None
    usd: float | None = None
    #: What the attempt answered (an agent's final message); bounded by engine.toolvalues.
    output: str | None = None

    @property
    def tokens(self) -> int | None:
        """Tokens in and out together; None when the attempt reported neither."""
        if self.tokens_in is None and self.tokens_out is None:
            return None
        return (self.tokens_in or 0) + (self.tokens_out or 0)

    def replace(self, **changes: Any) -> ExecutionResult:
        return dataclasses.replace(self, **changes)
