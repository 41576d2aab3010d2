"""The workstream file: the contract users write.

A workstream is a DAG of steps. Templates (``matrix``) are kept as written here; the engine's
planner expands them into concrete steps before a run, and the expanded DAG is what is stored.
Every model forbids unknown keys so a typo is an error, not a silently ignored setting.
"""

from __future__ import annotations

import math
import re
import shlex
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    field_validator,
    model_validator,
)

from schemas.durations import Duration, Timeout, format_duration
from schemas.fields import MATRIX_VALUE, NAME, PLACEHOLDER, STEP_ID, Argv, ExitCode, ExitStatus
from schemas.placeholders import BUILT_IN_PLACEHOLDERS
from schemas.times import parse_not_before
from schemas.triggers import Trigger, inside_project, named_triggers, trigger_names

#: The most steps a workstream may have once its templates are expanded: as many as it may list
#: (the engine is benchmarked at 100,000). A matrix multiplies: ten keys of ten values would be
#: ten billion steps, so its size is computed before anything is expanded.
MAX_STEPS = 250_000
#: The longest prompt a step may hold (the rendered prompt is bounded separately, when upstream
#: outputs are put into it).
MAX_PROMPT_CHARS = 100_000

AttemptOutcome = Literal["failed", "timed_out", "crashed"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def split_command(value: Any) -> Any:
    """``run`` may be an argv list or one string split like a shell line (never run by a shell)."""
    if value is None:
        raise ValueError("`run` is empty: give a command, or remove the key")
    if isinstance(value, str):
        try:
            parts = shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split command line: {exc}") from exc
        if not parts:
            raise ValueError("the command is empty")
        return parts
    return value


def matrix_size(sizes: list[int]) -> str:
    """How many steps a matrix with keys of these many values makes, as a person would read it
    (the product of a few hundred keys has hundreds of digits)."""
    total = math.prod(sizes)
    shown = f"{total:,}" if total < 10**15 else f"about 10^{len(str(total)) - 1}"
    return f"{shown} ({' × '.join(map(str, sizes))})" if 1 < len(sizes) <= 8 else shown


def _inside(what: str, value: str) -> str:
    """A path relative to the project (or step) folder that cannot leave it."""
    if "\0" in value:
        raise ValueError(f"{what} holds a NUL character")
    if value.startswith("/"):
        raise ValueError(f"{value!r} is absolute: {what} is relative to the project root")
    if ".." in value.replace("\\", "/").split("/"):
        raise ValueError(f"{value!r} climbs out with '..': {what} must stay inside the project")
    return value


class RepoMapOptions(Strict):
    """How large the repository map in a step's prompt may be ({repo_map}, or `repo_map` in its
    context)."""

    tokens: int = Field(2048, ge=256, le=65536, description="At most this many tokens (about 4 characters each).")


def _delay(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError("a delay must be longer than 0s; leave it out for none")
    return seconds


#: How long a step waits after its needs finish: a duration longer than zero.
Delay = Annotated[Duration, AfterValidator(_delay)]


class RetryPolicy(Strict):
    """How a failed attempt is tried again: exponential backoff with full jitter, by outcome."""

    max_attempts: int = Field(1, ge=1, le=100, description="Attempts in all, the first included.")
    backoff: Duration = Field(1.0, description="Delay before the second attempt; doubles each time.")
    max_backoff: Duration = Field(60.0, description="Upper bound of one delay.")
    jitter: Literal["full", "none"] = Field(
        "full", description="full: each delay is drawn uniformly from [0, computed delay]."
    )
    retry_on: list[AttemptOutcome] = Field(
        default_factory=lambda: ["failed", "timed_out", "crashed"],
        description="Attempt outcomes that may be retried.",
    )
    exit_codes: list[ExitCode] | None = Field(
        None, description="When set, only a failure with one of these exit codes is retried."
    )
    non_retryable_exit_codes: list[ExitCode] = Field(
        default_factory=list, description="A failure with one of these exit codes is final."
    )

    @model_validator(mode="after")
    def _bounds(self) -> RetryPolicy:
        if self.max_backoff < self.backoff:
            raise ValueError(
                f"max_backoff ({format_duration(self.max_backoff)}) must not be shorter than "
                f"backoff ({format_duration(self.backoff)})"
            )
        return self


class FixLoop(Strict):
    """After a failed gate, give the editing tool the failure and let it try again, bounded."""

    max_rounds: int = Field(2, ge=1, le=20, description="Extra attempts fed with the gate failure.")


class ReviewPolicy(Strict):
    """How many rounds a reviewer may ask of the step's patch: each request for changes runs the
    step again with the comments (a revision round)."""

    max_rounds: int = Field(3, ge=1, le=20, description="The highest round a patch of this step may reach, fix "
                                                         "rounds included; 1 allows no request for changes.")


class Budget(Strict):
    """Upper bounds for a run; when one is reached no new attempt starts and the run pauses."""

    usd: float | None = Field(None, ge=0, le=1_000_000)
    tokens: int | None = Field(None, ge=0)
    wall: Duration | None = None


class Memory(Strict):
    """How much of the lessons of earlier runs a step's prompt may hold ({memory}, or `memory`
    in its context)."""

    tokens: int = Field(1024, ge=64, le=32_000, description="At most this many tokens (about 4 characters each).")


class Step(Strict):
    id: str = Field(pattern=STEP_ID, max_length=200)
    kind: str = Field("task", pattern=NAME, max_length=64, description="Capability the step needs.")
    description: str | None = Field(None, max_length=2000)
    prompt: str | None = Field(
        None, max_length=MAX_PROMPT_CHARS,
        description="The task for the step's tool (an AI agent's instructions), a template: {steps.ID.output} "
                    "(an upstream step's output), {gate.feedback} (a fix round's gate failure), {description}, "
                    "{root}, {run}, {step}, {attempt} and matrix keys; {{ and }} are literal braces.")
    repo_map: RepoMapOptions | None = Field(
        None, description="Bounds the repository map given to the step: {repo_map} in its prompt, or `repo_map` in "
                          "its context (default 2048 tokens).")
    context: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=list, max_length=200,
        description="Files or globs (relative to the project root) the task is about: named to the agent.")
    inputs: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=list, max_length=200,
        description="Globs (relative to the project root) of the files the step reads: a files trigger runs only "
                    "the steps whose inputs changed, and what depends on them.")
    memory: Memory | None = Field(
        None, description="Bounds the lessons of earlier runs given to the step: {memory} in its prompt, or "
                          "`memory` in its context (default 1024 tokens).")
    output_file: str | None = Field(
        None, max_length=4096, description="A file (relative to the step's working directory) whose text is the "
                                           "step's output, instead of its final message or last output.")
    run: Argv | None = Field(None, description="Command to run (argv list, or a string split like a shell line).")
    call: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="A Python callable, module:function, run by the python adapter.",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments for `call`.")
    tool: str | None = Field(None, pattern=NAME, max_length=64, description="Tool to use; overrides routing.")
    needs: list[str] = Field(default_factory=list, max_length=10_000)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = Field(None, max_length=4096, description="Working directory, relative to the project root.")
    timeout: Timeout | None = None
    retry: RetryPolicy | None = None
    delay: Delay | None = Field(
        None, description="After its needs finish, the step waits this long (state `waiting`) before it may start.")
    not_before: str | None = Field(
        None, max_length=100,
        description="The step does not start before this time: a time of day in the machine's local time (\"02:00\"), "
                    "in a time zone (\"02:00 Europe/Paris\"), or an ISO datetime; the next occurrence at or after its "
                    "needs finish. With `delay` too, the later of the two.")
    success_codes: list[ExitStatus] = Field(
        default_factory=lambda: [0], min_length=1, max_length=256,
        description="Exit codes that mean success, each 0 to 255 (a process killed by a signal never succeeds).")
    produces: Literal["patch"] | None = Field(
        None, description="patch: the step edits a scratch worktree and its change goes to the patch ledger.")
    gate: str | None = Field(None, pattern=NAME, description="Gate (under `gates:`) that tests the patch.")
    fix_loop: FixLoop | None = None
    review: ReviewPolicy | None = None
    allow_binary: bool = Field(False, description="Accept binary files in the step's patch.")
    network: bool | None = Field(
        None, description="Whether the step's sandbox has the network (default: its tool's `network`, else no).")
    matrix: dict[str, list[Annotated[str, Field(pattern=MATRIX_VALUE, max_length=100)] | StrictInt]] | None = Field(
        None, description="Expand this step into one step per combination of values."
    )

    _split_run = field_validator(
        "run", mode="before", json_schema_input_type=Annotated[str, Field(min_length=1)] | Argv | None
    )(split_command)

    @field_validator("run")
    @classmethod
    def _no_nul_in_run(cls, value: list[str] | None) -> list[str] | None:
        for position, arg in enumerate(value or ()):
            if "\0" in arg:
                raise ValueError(f"argument {position} holds a NUL character, which no command can receive")
        return value

    @field_validator("not_before")
    @classmethod
    def _time_gate(cls, value: str | None) -> str | None:
        if value is not None:
            parse_not_before(value)
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not name or "=" in name or "\0" in name:
                raise ValueError(f"{name!r} cannot be an environment variable name (empty, or holds '=' or NUL)")
            if "\0" in text:
                raise ValueError(f"the value of {name} holds a NUL character, which no environment can hold")
        return value

    @field_validator("context", mode="after")
    @classmethod
    def _relative_context(cls, value: list[str]) -> list[str]:
        for entry in value:
            _inside("a context entry", entry)
        return value

    @field_validator("inputs", mode="after")
    @classmethod
    def _relative_inputs(cls, value: list[str]) -> list[str]:
        for entry in value:
            inside_project("an input glob", entry)
        return value

    @field_validator("output_file")
    @classmethod
    def _relative_output(cls, value: str | None) -> str | None:
        return None if value is None else _inside("`output_file`", value)

    @field_validator("cwd")
    @classmethod
    def _relative_cwd(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "\0" in value:
            raise ValueError("the working directory holds a NUL character")
        if value.startswith("/"):
            raise ValueError(f"{value!r} is absolute: `cwd` is relative to the project root")
        if ".." in value.replace("\\", "/").split("/"):
            raise ValueError(f"{value!r} climbs out with '..': `cwd` must stay inside the project")
        return value

    @field_validator("needs")
    @classmethod
    def _unique_needs(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for need in value:
            if need in seen:
                raise ValueError(f"{need!r} is listed twice")
            seen.add(need)
        return value

    @field_validator("matrix")
    @classmethod
    def _matrix_values(cls, value: dict[str, list[str | int]] | None) -> dict[str, list[str | int]] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("matrix needs at least one key")
        for key, values in value.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise ValueError(f"matrix key {key!r} must be a plain name")
            if key in BUILT_IN_PLACEHOLDERS:
                raise ValueError(f"matrix key {key!r} would hide the built-in {{{key}}}; choose another name")
            if not values:
                raise ValueError(f"matrix key {key!r} has no values")
            if len(set(map(str, values))) != len(values):
                raise ValueError(f"matrix key {key!r} repeats a value")
        sizes = [len(values) for values in value.values()]
        if math.prod(sizes) > MAX_STEPS:
            raise ValueError(f"this matrix makes {matrix_size(sizes)} steps; a workstream may have at most "
                             f"{MAX_STEPS:,} steps once its templates are expanded")
        return value

    @model_validator(mode="after")
    def _shape(self) -> Step:
        if self.run is not None and self.call is not None:
            raise ValueError("a step has either `run` or `call`, not both")
        if self.produces is None and (self.gate or self.fix_loop or self.review or self.allow_binary):
            raise ValueError("`gate`, `fix_loop`, `review` and `allow_binary` belong to a step with "
                             "`produces: patch`")
        if self.produces is None and self.network is not None:
            raise ValueError("`network` belongs to a step with `produces: patch` (only patch steps run in a "
                             "sandbox; other steps have the network)")
        if self.fix_loop is not None and self.gate is None:
            raise ValueError("`fix_loop` needs a `gate` whose failure it can feed back")
        placeholders = set(PLACEHOLDER.findall(self.id))
        if self.matrix is not None and placeholders - set(self.matrix):
            unknown = ", ".join("{" + p + "}" for p in sorted(placeholders - set(self.matrix)))
            raise ValueError(f"id {self.id!r} uses {unknown}, which is not a matrix key")
        if self.matrix is None and placeholders:
            raise ValueError(f"id {self.id!r} has placeholders but the step has no matrix")
        if self.matrix is not None:
            missing = set(self.matrix) - placeholders
            if missing:
                raise ValueError(
                    f"id {self.id!r} must use every matrix key so expanded ids are unique: "
                    f"add {', '.join('{' + k + '}' for k in sorted(missing))}"
                )
        elif "{" in self.id or "}" in self.id:
            raise ValueError(f"id {self.id!r} has a brace but no matrix")
        return self


class Workstream(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, title="UET workstream")

    name: str = Field(pattern=NAME, max_length=100)
    description: str | None = Field(None, max_length=4000)
    max_parallel: int = Field(4, ge=1, le=1024)
    budget: Budget | None = None
    retry: RetryPolicy | None = Field(None, description="Default retry policy for steps that set none.")
    timeout: Timeout | None = Field(None, description="Default timeout for steps that set none.")
    on_failure: Literal["continue", "stop"] = Field(
        "continue",
        description="continue: independent branches go on after a step fails; stop: no new step starts.",
    )
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    gates: dict[str, list[Argv]] = Field(default_factory=dict)
    on: list[Trigger] = Field(
        default_factory=list, max_length=100,
        description="Triggers: what starts a run of this workstream under `uet serve` (files, schedule, every, "
                    "event); a list, or a mapping of name to trigger.")

    _named_triggers = field_validator(
        "on", mode="before", json_schema_input_type=list[Trigger] | dict[str, Trigger]
    )(named_triggers)

    @field_validator("on")
    @classmethod
    def _unique_trigger_names(cls, value: list[Trigger]) -> list[Trigger]:
        seen: set[str] = set()
        for name in trigger_names(value):
            if name in seen:
                raise ValueError(f"two triggers are named {name!r}; give each a distinct `name`")
            seen.add(name)
        return value
