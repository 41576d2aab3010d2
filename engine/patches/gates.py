"""Test gates: a patch is applied in a scratch copy at its base commit and the gate's commands
run there, one after another, under the same subprocess adapter, timeouts and kill semantics
as steps. Each command's exit code, duration and output tail is stored; the first failure ends
the gate and becomes the feedback a fix loop hands to the editing tool.

A patch's tests are as untrusted as the patch: gate commands run in the sandbox like a patch
step (no network), and are refused like one when no sandbox is available unless the project
says ``sandbox: off``. ``{root}`` in a gate command is the gate's scratch copy."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.adapters.base import CancelToken
from engine.adapters.subprocess import run_subprocess
from engine.events import Event, Recorder
from engine.patches.policy import append_log, confine, decide
from engine.patches.scratch import apply_to_scratch, make_scratch, remove_scratch
from engine.patches.worktree import GitError
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
    def log(index: int) -> str:
        return str(root / ".uet" / "logs" / run_id / f"gate-{patch_id}.{round_}.{index + 1}.log")

    decision = await asyncio.to_thread(decide, root)
    if decision.refused is not None:
        append_log(log(0), decision.refused)
        recorder.event(Event(time.time(), "sandbox.refused", run_id, step_id,
                             {"patch": patch_id, "gate": gate, "round": round_, "reason": decision.refused}))
        return GateOutcome(passed=False, feedback=f"The gate {gate!r} did not run: {decision.refused}\n")
    if decision.note is not None:
        recorder.event(Event(time.time(), "sandbox.off", run_id, step_id,
                             {"patch": patch_id, "gate": gate, "round": round_, "reason": decision.note}))
    work = root / ".uet" / "worktrees" / run_id / f"gate-{patch_id}.{round_}"
    outcome = GateOutcome(passed=True)
    try:
        try:
            scratch = await asyncio.to_thread(make_scratch, root, work, base)
            await asyncio.to_thread(apply_to_scratch, scratch, diff)
        except GitError as exc:
            return GateOutcome(passed=False, feedback=f"The gate {gate!r} could not prepare its scratch copy: {exc}\n")
        for index, command in enumerate(commands):
            request = ExecutionRequest(
                run_id=run_id, step_id=step_id, attempt=round_, tool=command[0], adapter="subprocess",
                cwd=str(scratch.root), argv=[arg.replace("{root}", str(scratch.root)) for arg in command],
                timeout=timeout or DEFAULT_GATE_TIMEOUT, log_path=log(index),
            )
            if decision.contained:
                request = confine(request, scratch, network=False)
            elif decision.note is not None:
                append_log(request.log_path, decision.note)
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
        await asyncio.to_thread(remove_scratch, root, work)
    return outcome
