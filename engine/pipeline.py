"""The step pipeline: every attempt goes Perceive → Operate → Enforce → Train.

* Perceive builds the ExecutionRequest: the command from the step or its tool's template with
  placeholders filled, the effective timeout, the environment, the log path.
* Operate runs the adapter; it never raises for a tool's failure.
* Enforce judges the result against the step's policy: succeeded, retry (with a backoff
  delay) or failed.
* Train feeds the outcome to the tool's stats and breaker.

The runner owns ordering and recording; these functions hold the rules.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.adapters.python import run_python
from engine.adapters.sim import sim_tool
from engine.adapters.subprocess import run_subprocess
from engine.planner import substitute
from engine.resilience import NO_RETRY, BreakerChange, backoff_delay, retry_decision
from engine.router import Route, Router
from engine.stats import StatsBook
from schemas.durations import parse_duration
from schemas.execution import ExecutionRequest, ExecutionResult
from schemas.workstream import RetryPolicy

DEFAULT_GRACE = 5.0


@dataclass(frozen=True)
class Verdict:
    state: str  # succeeded | failed | retrying | canceled
    delay: float = 0.0
    reason: str | None = None


SUCCEEDED = Verdict("succeeded")
#: Shared empty env/params for requests that have none; adapters only read them.
_NONE: dict[str, Any] = {}
_ZERO = (0,)


def log_path(root: Path | str, run_id: str, step_id: str, number: int) -> str:
    """Where an attempt's output goes. The planner allows no '/' in a step id; one from an older
    store is escaped, so the path cannot leave the run's log directory."""
    if "/" in step_id:
        step_id = step_id.replace("%", "%25").replace("/", "%2F")
    return f"{root}/.uet/logs/{run_id}/{step_id}.{number}.log"


def perceive(
    *,
    run_id: str,
    step_id: str,
    number: int,
    spec: dict[str, Any],
    route: Route,
    root: Path | str,
    default_timeout: float | None,
    workdir: Path | str | None = None,
) -> ExecutionRequest:
    """The attempt's request. ``workdir`` is where the step works when that is not the project
    root: a patch step's scratch copy, which is then its ``{root}`` (in its command, and in the
    text values of a callable's ``params``) and the base of its ``cwd``; the user's root is not
    offered to it. The log stays under the project's ``.uet/logs``."""
    tool = route.spec
    here = root if workdir is None else workdir
    argv = spec.get("run") or (tool.command if tool and tool.command else None)
    if argv is not None and any("{" in arg for arg in argv):
        values = {"root": str(here), "run": run_id, "step": step_id, "attempt": str(number),
                  "description": spec.get("description", ""), **spec.get("vars", {})}
        argv = [substitute(arg, values) if "{" in arg else arg for arg in argv]
    params = spec.get("params") or _NONE
    env = spec.get("env") or _NONE
    if tool is not None and tool.env:
        env = {**tool.env, **env}
    if workdir is not None:
        values = {"root": str(here), "run": run_id, "step": step_id, "attempt": str(number), **spec.get("vars", {})}
        params = {key: substitute(value, values) if isinstance(value, str) and "{" in value else value
                  for key, value in params.items()}
        env = {key: substitute(value, values) if "{" in value else value for key, value in env.items()}
    cwd = f"{here}/{spec['cwd']}" if spec.get("cwd") else str(here)
    # Specs are stored as JSON, where a duration is its spelling ("10m"): read it back here.
    raw = spec.get("timeout")
    timeout = (parse_duration(raw) if raw is not None else None) or (tool.timeout if tool and tool.timeout else None) \
        or default_timeout
    adapter = route.adapter
    if adapter == "subprocess" and argv is None:
        argv = [route.tool]
    codes = spec.get("success_codes") or (tool.success_codes if tool and tool.success_codes else _ZERO)
    return ExecutionRequest(
        run_id=run_id,
        step_id=step_id,
        attempt=number,
        tool=route.tool,
        adapter=adapter,  # type: ignore[arg-type]
        argv=argv if adapter == "subprocess" else None,
        callable=spec.get("call") or (tool.callable if tool else None),
        params=params,
        cwd=cwd,
        env=env,
        timeout=timeout,
        grace=DEFAULT_GRACE,
        log_path=log_path(root, run_id, step_id, number),
        success_codes=codes if type(codes) is tuple else tuple(codes),
    )


async def operate(request: ExecutionRequest, route: Route, cancel: asyncio.Event, on_output: Any = None,
                  on_spawn: Any = None) -> ExecutionResult:
    try:
        if request.adapter == "subprocess":
            return await run_subprocess(request, cancel, on_output, on_spawn)
        if request.adapter == "python":
            return await run_python(request, cancel, on_output)
        assert route.spec is not None and route.spec.sim is not None
        return await sim_tool(route.tool, route.spec.sim)(request, cancel, on_output)
    except asyncio.CancelledError:
        if cancel.is_set():
            return ExecutionResult(outcome="canceled", error="canceled")
        raise


async def refuse(reason: str) -> ExecutionResult:
    """The end of an attempt that Perceive found cannot start: no tool runs, the step's policy
    judges the failure like any other."""
    return ExecutionResult(outcome="failed", error=reason)


def retry_policy(spec: dict[str, Any], default: RetryPolicy | None) -> RetryPolicy:
    raw = spec.get("retry")
    if raw is None:
        return default or NO_RETRY
    return RetryPolicy.model_validate(raw)


def enforce(result: ExecutionResult, policy: RetryPolicy, attempts_this_round: int, rng: random.Random,
            stopping: bool) -> Verdict:
    if result.outcome == "succeeded":
        return SUCCEEDED
    if result.outcome == "canceled":
        return Verdict("canceled", reason=result.error or "canceled")
    retry, why = retry_decision(policy, result.outcome, result.exit_code, attempts_this_round)
    reason = result.error or result.outcome
    if retry and not stopping:
        return Verdict("retrying", backoff_delay(policy, attempts_this_round, rng), reason)
    return Verdict("failed", reason=f"{reason} ({why})" if not retry else reason)


def train(router: Router, stats: StatsBook, route: Route, result: ExecutionResult, now: float) -> BreakerChange | None:
    stats.record(route.tool, result.outcome, result.duration, now)
    if not route.breaker:
        return None  # an ad-hoc command has no breaker
    return router.breaker(route.tool).record(result.outcome, now, route.probe)
