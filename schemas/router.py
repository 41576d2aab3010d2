"""Router configuration: the tools a project can use and how steps are routed to them."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.durations import Duration, Timeout
from schemas.fields import NAME, Argv, ExitCode, ExitStatus

Strategy = Literal["fixed", "round_robin", "auto"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


class BreakerPolicy(Strict):
    """When a tool's breaker opens, how long it stays open, and how it probes."""

    consecutive_failures: int = Field(5, ge=1, le=1000, description="Open after this many failures in a row.")
    window: int = Field(10, ge=1, le=1000, description="Recent attempts looked at for the failure rate.")
    min_calls: int = Field(5, ge=1, le=1000, description="No rate is judged before this many calls in the window.")
    failure_rate: float = Field(0.5, gt=0, le=1, description="Open when this share of the window failed.")
    open_for: Duration = Field(30.0, description="Time open before one half-open probe is let through.")
    trips_on: list[Literal["failed", "timed_out", "crashed"]] = Field(
        default_factory=lambda: ["failed", "timed_out", "crashed"],
        description="Attempt outcomes that count as failures of the tool (a test runner that finds failing tests is healthy).",
    )
    max_half_open: Duration = Field(
        600.0, description="A probe that never reports frees the half-open slot after this long."
    )

    @model_validator(mode="after")
    def _window_holds_min_calls(self) -> BreakerPolicy:
        """A small window brings the default min_calls down with it; an explicit min_calls
        larger than the window would silently turn the rate rule off, so it is an error."""
        if self.min_calls > self.window:
            if "min_calls" in self.model_fields_set:
                raise ValueError(
                    f"min_calls ({self.min_calls}) cannot exceed window ({self.window}): the rate would never be judged"
                )
            object.__setattr__(self, "min_calls", self.window)
        return self


class Normal(Strict):
    dist: Literal["normal"]
    mean: float
    stddev: float = Field(ge=0)
    min: float | None = None
    max: float | None = None


class LogNormal(Strict):
    dist: Literal["lognormal"]
    mu: float
    sigma: float = Field(ge=0)
    min: float | None = None
    max: float | None = None


class Categorical(Strict):
    dist: Literal["categorical"]
    weights: dict[str, float] = Field(min_length=1)

    @model_validator(mode="after")
    def _positive(self) -> Categorical:
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        return self


class Sequence(Strict):
    dist: Literal["sequence"]
    values: list[Any] = Field(min_length=1)
    cycle: bool = Field(True, description="Start again at the first value when the list runs out.")


class Constant(Strict):
    dist: Literal["constant"]
    value: Any


Distribution = Annotated[Normal | LogNormal | Categorical | Sequence | Constant, Field(discriminator="dist")]


class SimSpec(Strict):
    """What a simulated tool does: every draw comes from a seeded generator, so runs repeat."""

    seed: int = 0
    duration: Distribution | None = Field(None, description="Seconds an attempt takes.")
    outcome: Distribution | None = Field(
        None, description="succeeded, failed, timed_out or crashed (a categorical or sequence)."
    )
    exit_code: ExitCode = Field(1, description="Exit code reported for a failed outcome.")
    tokens_in: Distribution | None = None
    tokens_out: Distribution | None = None
    model: str | None = None


CostField = Literal["tokens_in", "tokens_out", "tokens_cached", "model", "usd"]
COST_FIELDS = ("tokens_in", "tokens_out", "tokens_cached", "model", "usd")
#: A cost pattern is a short expression, not a program.
MAX_PATTERN_CHARS = 1000


@lru_cache(maxsize=64)
def cost_regex(pattern: str) -> Any:
    """``pattern`` compiled by RE2, whose matching time grows linearly with the text: no pattern
    can make it backtrack for ever (Python's ``re`` took minutes on ``(a|aa)+$`` against 5,000
    a's, holding the engine's loop). RE2 refuses what it cannot match in linear time
    (backreferences, lookaround); ``re2.error`` says so."""
    import re2

    options = re2.Options()
    options.log_errors = False  # the error is raised to the caller; RE2 would also print it
    return re2.compile(pattern, options)


class CostParser(Strict):
    """How a tool reports what it cost, read from the end of its output.

    ``json_line``: the last line that is a JSON object holding the mapped keys (dotted paths,
    e.g. ``usage.input_tokens``). ``regex``: the last match of ``pattern`` (RE2 syntax: no
    backreferences or lookaround), whose named groups are the fields (``(?P<tokens_in>\\d+)``)."""

    format: Literal["json_line", "regex"]
    fields: dict[CostField, str] = Field(default_factory=dict, description="json_line: field → dotted key path.")
    pattern: str | None = Field(
        None, max_length=MAX_PATTERN_CHARS,
        description="regex (RE2 syntax): named groups tokens_in, tokens_out, tokens_cached, model, usd.")

    @field_validator("pattern")
    @classmethod
    def _linear_time(cls, pattern: str | None) -> str | None:
        if pattern is None:
            return None
        import re2

        try:
            groups = set(cost_regex(pattern).groupindex)
        except re2.error as exc:
            why = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            raise ValueError(f"RE2, which matches in linear time, refuses it ({why}); backreferences and "
                             "lookaround are not supported") from None
        unknown = groups - set(COST_FIELDS)
        if unknown or not groups:
            raise ValueError("named groups among " + ", ".join(COST_FIELDS) + " are needed"
                             + (f"; {', '.join(sorted(unknown))} is not one" if unknown else ""))
        return pattern

    @model_validator(mode="after")
    def _complete(self) -> CostParser:
        if self.format == "json_line" and not self.fields:
            raise ValueError("a json_line parser needs `fields`")
        if self.format == "regex" and not self.pattern:
            raise ValueError("a regex parser needs `pattern`")
        return self


class Price(Strict):
    """US dollars per million tokens for one model."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(None, ge=0, description="Default: the input price.")


AgentFamily = Literal["claude", "codex", "gemini", "aider", "opencode"]
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class ToolSpec(Strict):
    adapter: Literal["subprocess", "python", "sim"] = "subprocess"
    agent: AgentFamily | None = Field(
        None, description="The AI coding agent this tool runs: UET builds its command line, gives every attempt "
                          "its own home, passes the prompt and reads its stream (final message, tokens, cost).")
    command: Argv | None = Field(
        None, description="argv template for steps routed here without `run`: {root}, {prompt}, {prompt_file}, "
                          "{model} and the step's own placeholders. An agent tool without one uses its family's.")
    stdin: Literal["prompt"] | None = Field(None, description="prompt: the step's prompt is the tool's stdin.")
    args: list[Annotated[str, Field(max_length=10_000)]] = Field(
        default_factory=list, max_length=200, description="Extra arguments appended to an agent's command line.")
    base_url: str | None = Field(
        None, pattern=r"^https?://[^\s]+$", max_length=2000,
        description="The model API's address for an agent tool (a proxy, a local model server).")
    env_passthrough: list[Annotated[str, Field(pattern=ENV_NAME, max_length=200)]] = Field(
        default_factory=list, max_length=100,
        description="Variables of UET's environment the tool receives (API keys). An agent tool receives only "
                    "these, PATH, locale and its own; their values are masked in its log.")
    version_args: list[str] = Field(default_factory=lambda: ["--version"], max_length=10,
                                    description="Arguments that make the executable print its version (uet tools).")
    executable: str | None = Field(None, description="Program that must be on PATH (default: command[0]).")
    callable: str | None = Field(None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    sim: SimSpec | None = None
    capabilities: list[str] = Field(default_factory=list)
    max_parallel: int | None = Field(None, ge=1, le=1024, description="Attempts of this tool at once.")
    timeout: Timeout | None = None
    breaker: BreakerPolicy | None = None
    env: dict[str, str] = Field(default_factory=dict)
    diff_output: bool = Field(False, description="The tool prints a unified diff instead of editing files.")
    network: bool | None = Field(
        None, description="Whether the tool has the network when it runs a patch step in the sandbox "
                          "(agents that call a model need it); a step's own `network` wins. Default: no.")
    success_codes: list[ExitStatus] | None = Field(
        None, description="Exit codes that mean success for this tool (e.g. [0, 1] for `ruff --diff`).")
    cost: CostParser | None = None
    model: str | None = Field(None, description="Model to price with when the output names none.")
    prices: dict[str, Price] = Field(default_factory=dict, description="Model → price; tokens are priced with it.")

    @model_validator(mode="after")
    def _adapter_fields(self) -> ToolSpec:
        if self.adapter == "sim" and self.sim is None:
            raise ValueError("a sim tool needs a `sim:` section")
        if self.adapter == "python" and self.callable is None:
            raise ValueError("a python tool needs `callable: module:function`")
        if self.agent is not None and self.adapter != "subprocess":
            raise ValueError("an agent tool runs its CLI: its adapter is subprocess")
        return self


class RoutingRule(Strict):
    kind: str = Field(pattern=NAME)
    tools: list[str] = Field(min_length=1, description="Candidates, in fallback order.")
    strategy: Strategy | None = None


class RouterConfig(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, title="UET router config", defer_build=True)

    strategy: Strategy = "auto"
    breaker: BreakerPolicy = Field(default_factory=BreakerPolicy, description="Default for every tool.")
    tools: dict[Annotated[str, Field(pattern=NAME)], ToolSpec] = Field(default_factory=dict)
    rules: list[RoutingRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_tools(self) -> RouterConfig:
        for index, rule in enumerate(self.rules):
            for tool in rule.tools:
                if tool not in self.tools:
                    raise ValueError(f"rules[{index}] names unknown tool {tool!r}")
        return self


