"""Test gates: a patch is applied in a scratch worktree at its base commit and the gate's
commands run there, one after another, under the same subprocess adapter, timeouts and kill
semantics as steps. Each command's exit code, duration and output tail is stored; the first
failure ends the gate and becomes the feedback a fix loop hands to the editing tool."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.adapters.base import CancelToken
from engine.adapters.subprocess import run_subprocess
from engine.events import Event, Recorder
from engine.patches.worktree import add_worktree, apply_in_worktree, remove_worktree
from schemas.execution import ExecutionRequest
from store import ops

DEFAULT_GATE_TIMEOUT = 600.0


@dataclass
class GateOutcome:
    passed: bool
    results: list[dict] = field(default_factory=list)
    feedback: str = ""


def feedback_text(gate: str, command: list[str], outcome: str, exit_code: int | None, tail: str) -> str:
    """What a fix round is told: which command of which gate failed, how, and its output."""
    how = f"exited {exit_code}" if outcome == "failed" and exit_code is not None else outcome.replace("_", " ")
    return (f"The gate {gate!r} failed: `{' '.join(command)}` {how}.\n"
            f"Its output ended with:\n{tail.rstrip()}\n")


async def run_gate(
    *,
    recorder: Recorder,
    root: Path,
    run_id: str,
    step_id: str,
    patch_id: str,
    diff: str,
    base: str,
    gate: str,
    commands: list[list[str]],
    round_: int,
    timeout: float | None,
    cancel: CancelToken,
) -> GateOutcome:
    scratch = root / ".uet" / "worktrees" / run_id / f"gate-{patch_id}.{round_}"
    await asyncio.to_thread(add_worktree, root, scratch, base)
    outcome = GateOutcome(passed=True)
    try:
        await asyncio.to_thread(apply_in_worktree, scratch, diff)
        for index, command in enumerate(commands):
            request = ExecutionRequest(
                run_id=run_id, step_id=step_id, attempt=round_, tool=command[0], adapter="subprocess",
                cwd=str(scratch), argv=list(command), timeout=timeout or DEFAULT_GATE_TIMEOUT,
                log_path=str(root / ".uet" / "logs" / run_id / f"gate-{patch_id}.{round_}.{index + 1}.log"),
            )
            result = await run_subprocess(request, cancel)
            now = time.time()
            row = {"gate": gate, "index": index, "command": command, "outcome": result.outcome,
                   "exit_code": result.exit_code, "duration": round(result.duration, 3)}
            recorder.write(
                [ops.insert_gate_result(patch_id, gate, round_, index, command, result.outcome, result.exit_code,
                                        result.duration, result.output_tail, now)],
                [Event(now, "gate.result", run_id, step_id, {"patch": patch_id, "round": round_, **row})],
            )
            outcome.results.append(row)
            if result.outcome != "succeeded":
                outcome.passed = False
                outcome.feedback = feedback_text(gate, command, result.outcome, result.exit_code, result.output_tail)
                break
    finally:
        await asyncio.to_thread(remove_worktree, root, scratch)
    return outcome
