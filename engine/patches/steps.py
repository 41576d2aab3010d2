"""Running a step that produces a patch: the attempt edits a scratch worktree (at the run's
base commit, plus the previous round's patch in a fix loop), its change is captured and
inspected like any untrusted patch, proposed to the ledger, and gated.

The user's working tree is never written here; only ``uet patch apply`` does that.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.adapters.base import CancelToken
from engine.events import Recorder
from engine.patches.gates import run_gate
from engine.patches.gitapply import GitFailed, apply_patch
from engine.patches.ledger import ENGINE, Captured, capture, move, new_patch_id, proposal
from engine.patches.printed import extract_diff
from engine.patches.safety import PatchRefused
from engine.patches.worktree import GitError, add_worktree, apply_in_worktree, remove_worktree
from schemas.execution import ExecutionRequest, ExecutionResult
from schemas.states import PatchState

P = PatchState


@dataclass
class PatchInfo:
    patch_id: str
    diff: str
    gate: str | None
    gate_passed: bool | None
    feedback: str = ""


@dataclass
class FixRound:
    """What the next attempt of a step in a fix loop starts from."""

    number: int
    previous: PatchInfo
    feedback_path: str


class PatchSteps:
    def __init__(self, recorder: Recorder, root: Path, run_id: str, base: str | None,
                 gates: dict[str, list[list[str]]], gate_timeout: float | None) -> None:
        self.rec = recorder
        self.root = root
        self.run_id = run_id
        self.base = base
        self.gates = gates
        self.gate_timeout = gate_timeout
        self.rounds: dict[str, FixRound] = {}

    def worktree(self, sid: str, number: int) -> Path:
        return self.root / ".uet" / "worktrees" / self.run_id / f"{sid}.{number}"

    def next_round(self, sid: str, info: PatchInfo) -> FixRound:
        """Prepare the next fix round: the gate's failure is written where the tool can read it."""
        current = self.rounds.get(sid)
        number = (current.number if current else 1) + 1
        path = self.root / ".uet" / "logs" / self.run_id / f"{sid}.round{number}.feedback.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(info.feedback, encoding="utf-8")
        self.rounds[sid] = FixRound(number, info, str(path))
        return self.rounds[sid]

    async def attempt(self, sid: str, number: int, spec: dict[str, Any], request: ExecutionRequest,
                      operate: Any, cancel: CancelToken, diff_output: bool) -> tuple[ExecutionResult, PatchInfo | None]:
        if self.base is None:
            error = f"`produces: patch` needs a git repository with at least one commit at {self.root}"
            return ExecutionResult(outcome="failed", error=error), None
        fix = self.rounds.get(sid)
        worktree = self.worktree(sid, number)
        try:
            await asyncio.to_thread(add_worktree, self.root, worktree, self.base)
            if fix is not None:
                await asyncio.to_thread(apply_in_worktree, worktree, fix.previous.diff)
        except GitError as exc:
            return ExecutionResult(outcome="failed", error=f"cannot prepare the worktree: {exc}"), None
        rel = Path(request.cwd).relative_to(self.root) if Path(request.cwd).is_relative_to(self.root) else Path()
        env = dict(request.env)
        if fix is not None:
            env["UET_GATE_FEEDBACK"] = fix.feedback_path
        argv = request.argv
        if argv is not None and fix is not None:
            argv = [a.replace("{feedback}", fix.feedback_path) for a in argv]
        elif argv is not None:
            argv = [a.replace("{feedback}", "") for a in argv]
        request = dataclasses.replace(request, cwd=str(worktree / rel), env=env, argv=argv)
        keep = False
        try:
            result = await operate(request)
            if result.outcome != "succeeded":
                return result, None
            try:
                if diff_output:
                    printed = extract_diff(_read(request.log_path) if request.log_path else result.output_tail)
                    if printed:
                        await asyncio.to_thread(apply_patch, worktree, printed)
                captured = await asyncio.to_thread(capture, worktree, self.base,
                                                   allow_binary=bool(spec.get("allow_binary")))
            except (PatchRefused, GitError, GitFailed) as exc:
                return result.replace(outcome="failed", error=f"the step's change was refused: {exc}"), None
            if captured is None:
                if fix is not None:
                    statements, event = move(fix.previous.patch_id, self.run_id, sid, P.GATE_FAILED, P.REJECTED,
                                             ENGINE, f"fix round {fix.number} undid the change", clear_worktree=True)
                    self.rec.write(statements, [event])
                return result.replace(error="no changes"), None
            keep = True
            info = await self._propose(sid, number, spec, captured, str(worktree), fix, cancel)
            return result, info
        finally:
            if not keep:
                await asyncio.to_thread(remove_worktree, self.root, worktree)

    async def _propose(self, sid: str, number: int, spec: dict[str, Any], captured: Captured, worktree: str,
                       fix: FixRound | None, cancel: CancelToken) -> PatchInfo:
        patch_id = new_patch_id()
        gate = spec.get("gate")
        round_ = fix.number if fix else 1
        statements, event = proposal(patch_id, self.run_id, sid, number, self.base or "", captured, gate, round_,
                                     worktree, reason=f"fix round {round_}" if fix else None)
        self.rec.write(statements, [event])
        if fix is not None:
            statements, event = move(fix.previous.patch_id, self.run_id, sid, P.GATE_FAILED, P.REJECTED, ENGINE,
                                     f"superseded by patch {patch_id} from fix round {round_}", clear_worktree=True)
            self.rec.write(statements, [event])
        info = PatchInfo(patch_id, captured.diff, gate, None)
        if gate is None:
            return info
        statements, event = move(patch_id, self.run_id, sid, P.PROPOSED, P.GATING, ENGINE, f"gate {gate}")
        self.rec.write(statements, [event])
        outcome = await run_gate(
            recorder=self.rec, root=self.root, run_id=self.run_id, step_id=sid, patch_id=patch_id,
            diff=captured.diff, base=self.base or "", gate=gate, commands=self.gates.get(gate, []), round_=round_,
            timeout=self.gate_timeout, cancel=cancel,
        )
        target = P.GATE_PASSED if outcome.passed else P.GATE_FAILED
        why = f"gate {gate}: {len(outcome.results)} command(s) passed" if outcome.passed else outcome.feedback.splitlines()[0]
        statements, event = move(patch_id, self.run_id, sid, P.GATING, target, ENGINE, why)
        self.rec.write(statements, [event])
        info.gate_passed = outcome.passed
        info.feedback = outcome.feedback
        return info


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


