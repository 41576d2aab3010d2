"""The sim adapter: distributions, reproducibility per (seed, step, attempt), timeout and cancel."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from engine.adapters.sim import Sampler, SimTool, sim_tool
from schemas.execution import ExecutionRequest, ExecutionResult
from schemas.router import Distribution, SimSpec

DIST: TypeAdapter[Any] = TypeAdapter(Distribution)


def sampler(seed: int = 7, **fields: Any) -> Sampler:
    return Sampler(DIST.validate_python(fields), random.Random(seed))


def request(step: str = "s1", attempt: int = 1, **extra: Any) -> ExecutionRequest:
    return ExecutionRequest(
        run_id="r-random",
        step_id=step,
        attempt=attempt,
        tool="sim",
        adapter="sim",
        cwd=".",
        **extra,
    )


def call(
    tool: SimTool, req: ExecutionRequest, cancel: asyncio.Event | None = None
) -> ExecutionResult:
    async def go() -> ExecutionResult:
        return await tool(req, cancel or asyncio.Event())

    return asyncio.run(go())


# -- distributions ----------------------------------------------------------------------------


def test_normal_is_clamped() -> None:
    s = sampler(dist="normal", mean=0, stddev=10, min=-1, max=1)
    draws = [s.draw() for _ in range(500)]
    assert min(draws) == -1 and max(draws) == 1
    assert any(-1 < d < 1 for d in draws)


def test_lognormal_positive_and_clamped() -> None:
    s = sampler(dist="lognormal", mu=0, sigma=1, max=3)
    draws = [s.draw() for _ in range(500)]
    assert all(0 < d <= 3 for d in draws)
    assert draws.count(3) > 0


def test_categorical_frequencies_match_weights() -> None:
    s = sampler(seed=42, dist="categorical", weights={"a": 0.7, "b": 0.2, "c": 0.1, "never": 0})
    counts = Counter(s.draw() for _ in range(2000))
    assert counts["never"] == 0
    for key, weight in {"a": 0.7, "b": 0.2, "c": 0.1}.items():
        assert abs(counts[key] / 2000 - weight) < 0.04, counts


def test_sequence_cycles_or_repeats_last() -> None:
    cycling = sampler(dist="sequence", values=[1, 2, 3])
    assert [cycling.draw() for _ in range(7)] == [1, 2, 3, 1, 2, 3, 1]
    holding = sampler(dist="sequence", values=[1, 2, 3], cycle=False)
    assert [holding.draw() for _ in range(5)] == [1, 2, 3, 3, 3]


def test_constant() -> None:
    s = sampler(dist="constant", value="x")
    assert {s.draw() for _ in range(10)} == {"x"}


# -- the tool ---------------------------------------------------------------------------------

NOISY = SimSpec.model_validate(
    {
        "seed": 3,
        "duration": {"dist": "normal", "mean": 0.002, "stddev": 0.001, "min": 0},
        "outcome": {"dist": "categorical", "weights": {"succeeded": 1, "failed": 1, "crashed": 1}},
        "tokens_in": {"dist": "lognormal", "mu": 6, "sigma": 1},
        "tokens_out": {"dist": "normal", "mean": 100, "stddev": 50},
        "model": "sim-1",
    }
)


def test_same_seed_same_results_across_fresh_instances() -> None:
    def results(tool: SimTool) -> list[tuple[Any, ...]]:
        out = []
        for step in ("a", "b", "c"):
            for attempt in (1, 2):
                r = call(tool, request(step, attempt))
                out.append((r.outcome, r.duration, r.tokens_in, r.tokens_out, r.exit_code))
        return out

    assert results(SimTool("t", NOISY)) == results(SimTool("t", NOISY))
    # Call order does not matter for non-sequence draws.
    reordered = SimTool("t", NOISY)
    later = call(reordered, request("c", 2))
    call(reordered, request("a", 1))
    assert results(SimTool("t", NOISY))[-1] == (
        later.outcome,
        later.duration,
        later.tokens_in,
        later.tokens_out,
        later.exit_code,
    )


def test_attempts_and_seeds_draw_independently() -> None:
    spec = SimSpec.model_validate({"duration": {"dist": "normal", "mean": 0.001, "stddev": 0.0005}})
    tool = SimTool("t", spec)
    durations = {call(tool, request("s", attempt)).duration for attempt in range(1, 6)}
    assert len(durations) == 5
    other = SimTool("t", spec.model_copy(update={"seed": 99}))
    assert call(other, request("s", 1)).duration != call(tool, request("s", 1)).duration


def test_reports_tokens_model_and_log(tmp_path: Path) -> None:
    spec = SimSpec.model_validate(
        {
            "tokens_in": {"dist": "constant", "value": 12.6},
            "tokens_out": {"dist": "normal", "mean": -50, "stddev": 1},
            "model": "m",
        }
    )
    log = tmp_path / "logs" / "attempt.log"
    chunks: list[str] = []

    async def go() -> ExecutionResult:
        return await SimTool("t", spec)(request(log_path=str(log)), asyncio.Event(), chunks.append)

    result = asyncio.run(go())
    assert (result.outcome, result.exit_code, result.duration) == ("succeeded", 0, 0.0)
    assert (result.tokens_in, result.tokens_out, result.model) == (13, 0, "m")
    assert "outcome=succeeded" in log.read_text() and "tokens=13/0" in log.read_text()
    assert chunks and "sim tool t" in chunks[0]
    assert call(SimTool("t", SimSpec()), request()).tokens_in is None


def test_sequence_outcomes_follow_call_order() -> None:
    spec = SimSpec.model_validate(
        {
            "outcome": {
                "dist": "sequence",
                "values": ["failed", "crashed", "succeeded"],
                "cycle": False,
            },
            "exit_code": 7,
        }
    )
    tool = SimTool("seq", spec)
    first, second, third, fourth = (call(tool, request(f"s{i}")) for i in range(4))
    assert (first.outcome, first.exit_code, first.error) == (
        "failed",
        7,
        "simulated failure (exit 7)",
    )
    assert (second.outcome, second.exit_code, second.error) == ("crashed", None, "simulated crash")
    assert third.outcome == fourth.outcome == "succeeded"


def test_sequences_follow_call_order_under_concurrency() -> None:
    spec = SimSpec.model_validate(
        {
            "duration": {"dist": "sequence", "values": [0.003, 0.001, 0.002]},
            "outcome": {"dist": "sequence", "values": ["failed", "succeeded", "crashed"]},
        }
    )
    tool = SimTool("seq", spec)

    async def go() -> list[ExecutionResult]:
        return await asyncio.gather(*(tool(request(f"s{i}"), asyncio.Event()) for i in range(4)))

    results = asyncio.run(go())
    assert [r.outcome for r in results] == ["failed", "succeeded", "crashed", "failed"]
    assert [r.duration for r in results] == [0.003, 0.001, 0.002, 0.003]
    assert tool.calls == 4


def test_sim_tool_is_cached_per_name_and_spec() -> None:
    spec = SimSpec.model_validate({"outcome": {"dist": "sequence", "values": ["succeeded"]}})
    same = SimSpec.model_validate({"outcome": {"dist": "sequence", "values": ["succeeded"]}})
    tool = sim_tool("cached", spec)
    assert sim_tool("cached", same) is tool
    assert sim_tool("other", spec) is not tool
    assert sim_tool("cached", spec.model_copy(update={"seed": 1})) is not tool


def test_timeout_shorter_than_duration() -> None:
    spec = SimSpec.model_validate({"duration": {"dist": "constant", "value": 5}})
    started = time.monotonic()
    result = call(SimTool("t", spec), request(timeout=0.01))
    assert time.monotonic() - started < 1
    assert (result.outcome, result.duration) == ("timed_out", 0.01)
    assert result.error and "timed out" in result.error


def test_cancel_mid_sleep_is_prompt() -> None:
    spec = SimSpec.model_validate({"duration": {"dist": "constant", "value": 10}})

    async def go() -> ExecutionResult:
        cancel = asyncio.Event()
        asyncio.get_running_loop().call_later(0.02, cancel.set)
        return await SimTool("t", spec)(request(), cancel)

    started = time.monotonic()
    result = asyncio.run(go())
    assert time.monotonic() - started < 1
    assert result.outcome == "canceled" and result.duration < 1


def test_already_canceled_returns_at_once() -> None:
    cancel = asyncio.Event()
    cancel.set()
    spec = SimSpec.model_validate({"duration": {"dist": "constant", "value": 10}})
    assert call(SimTool("t", spec), request(), cancel).outcome == "canceled"


def test_bad_values_fail_with_a_clear_error() -> None:
    bad_outcome = SimSpec.model_validate({"outcome": {"dist": "constant", "value": "exploded"}})
    result = call(SimTool("t", bad_outcome), request())
    assert result.outcome == "failed" and result.error and "'exploded'" in result.error
    bad_duration = SimSpec.model_validate({"duration": {"dist": "constant", "value": "soon"}})
    result = call(SimTool("t", bad_duration), request())
    assert result.outcome == "failed" and result.error and "'soon'" in result.error


def test_negative_duration_clamps_to_zero() -> None:
    spec = SimSpec.model_validate({"duration": {"dist": "constant", "value": -3}})
    assert call(SimTool("t", spec), request()).duration == 0.0
