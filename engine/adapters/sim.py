"""The ``sim`` adapter: a simulated tool for demos and load tests, with no process behind it.

Every draw is reproducible. Non-sequence distributions get a generator derived from
``(seed, tool, step_id, attempt, field)``, so results do not depend on how attempts of
concurrent steps interleave, and changing one field's distribution leaves the others alone.
Sequence distributions are the exception: they script a tool's calls in order (``[failed,
failed, succeeded]`` means its 1st, 2nd and 3rd calls), so they follow a per-tool call order.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import random
from pathlib import Path
from typing import Any

from engine.adapters.base import OutputCallback, tail
from schemas.execution import ExecutionRequest, ExecutionResult
from schemas.router import Categorical, Constant, LogNormal, Normal, Sequence, SimSpec

OUTCOMES = ("succeeded", "failed", "timed_out", "crashed")
FIELDS = ("duration", "outcome", "tokens_in", "tokens_out")


def _clamp(value: float, low: float | None, high: float | None) -> float:
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    return value


class Sampler:
    """Draws values from one Distribution model; stateful only for sequences (their position)."""

    def __init__(
        self, dist: Normal | LogNormal | Categorical | Sequence | Constant, rng: random.Random
    ) -> None:
        self.dist = dist
        self.rng = rng
        self._position = 0

    def draw(self) -> Any:
        dist = self.dist
        if isinstance(dist, Normal):
            return _clamp(self.rng.gauss(dist.mean, dist.stddev), dist.min, dist.max)
        if isinstance(dist, LogNormal):
            return _clamp(self.rng.lognormvariate(dist.mu, dist.sigma), dist.min, dist.max)
        if isinstance(dist, Categorical):
            return self.rng.choices(list(dist.weights), weights=list(dist.weights.values()))[0]
        if isinstance(dist, Sequence):
            index = (
                self._position % len(dist.values)
                if dist.cycle
                else min(self._position, len(dist.values) - 1)
            )
            self._position += 1
            return dist.values[index]
        return dist.value


def _derived_rng(*parts: object) -> random.Random:
    """A generator seeded from a stable hash: Python's hash() is salted per process, sha256 is not."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _number(value: Any, field: str) -> float:
    """A drawn value as a number. Infinity and NaN are refused (an infinite duration would sleep
    for ever, and neither rounds to a count); a huge finite count is the runner's to bound."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"sim {field} value {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"sim {field} value {str(value)[:40]!r} is not a finite number")
    return number


class SimTool:
    """One simulated tool. Sequence samplers live here so they advance once per call, in call order."""

    def __init__(self, name: str, spec: SimSpec) -> None:
        self.name = name
        self.spec = spec
        self.calls = 0
        # Single-threaded asyncio: draws happen before the first await, so a plain counter is safe.
        self._sequences = {
            field: Sampler(dist, random.Random(0))
            for field in FIELDS
            if isinstance(dist := getattr(spec, field), Sequence)
        }

    def _draws(self, request: ExecutionRequest) -> dict[str, Any]:
        self.calls += 1
        values: dict[str, Any] = {}
        for field in FIELDS:
            dist = getattr(self.spec, field)
            if dist is None:
                values[field] = None
            elif field in self._sequences:
                values[field] = self._sequences[field].draw()
            else:
                rng = _derived_rng(
                    self.spec.seed, self.name, request.step_id, request.attempt, field
                )
                values[field] = Sampler(dist, rng).draw()
        return values

    async def __call__(
        self,
        request: ExecutionRequest,
        cancel: asyncio.Event,
        on_output: OutputCallback | None = None,
    ) -> ExecutionResult:
        drawn = self._draws(request)
        outcome: str = "succeeded" if drawn["outcome"] is None else str(drawn["outcome"])
        error: str | None = None
        try:
            duration = max(0.0, _number(drawn["duration"] or 0.0, "duration"))
            tokens_in, tokens_out = (
                None if drawn[f] is None else max(0, round(_number(drawn[f], f)))
                for f in ("tokens_in", "tokens_out")
            )
        except ValueError as exc:
            duration, tokens_in, tokens_out = 0.0, None, None
            outcome, error = "failed", str(exc)
        if outcome not in OUTCOMES:
            error = f"simulated outcome {outcome!r} is not one of {', '.join(OUTCOMES)}"
            outcome = "failed"

        sleep = duration
        if request.timeout is not None and duration > request.timeout:
            sleep, outcome, error = (
                request.timeout,
                "timed_out",
                f"timed out after {request.timeout:g}s",
            )

        loop = asyncio.get_running_loop()
        started = loop.time()
        if not cancel.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(cancel.wait(), sleep)
        if cancel.is_set():
            elapsed = loop.time() - started
            line = f"sim tool {self.name}: outcome=canceled, duration={elapsed:.3f}s"
            self._emit(request, line, on_output)
            return ExecutionResult(
                outcome="canceled",
                duration=elapsed,
                error="canceled",
                model=self.spec.model,
                output_tail=line,
            )

        exit_code: int | None = None
        if outcome == "succeeded":
            exit_code = 0
        elif outcome == "failed":
            exit_code = self.spec.exit_code
            error = error or f"simulated failure (exit {exit_code})"
        elif outcome == "crashed":
            error = "simulated crash"
        elif error is None:
            error = "simulated timeout"
        line = (
            f"sim tool {self.name}: outcome={outcome}, duration={sleep:.3f}s, "
            f"tokens={tokens_in}/{tokens_out}" + (f", error={error}" if error else "")
        )
        self._emit(request, line, on_output)
        return ExecutionResult(
            outcome=outcome,  # type: ignore[arg-type]
            exit_code=exit_code,
            duration=sleep,
            error=error,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            model=self.spec.model,
            output_tail=tail(line),
        )

    @staticmethod
    def _emit(request: ExecutionRequest, line: str, on_output: OutputCallback | None) -> None:
        if request.log_path:
            path = Path(request.log_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        if on_output is not None:
            on_output(line + "\n")


_CACHE: dict[tuple[str, str], SimTool] = {}


def sim_tool(name: str, spec: SimSpec) -> SimTool:
    """The process-wide SimTool for (name, spec), so sequence positions persist across attempts.

    Keyed by the spec's JSON because specs holding lists or dicts are not hashable.
    """
    key = (name, spec.model_dump_json())
    tool = _CACHE.get(key)
    if tool is None:
        tool = _CACHE[key] = SimTool(name, spec)
    return tool
