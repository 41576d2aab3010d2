"""Running a step that produces a patch: the attempt edits a scratch copy (at the run's base
commit, plus the previous round's patch in a later round) inside the OS sandbox, its change is
captured through UET's own git dir and inspected like any untrusted patch, proposed to the
ledger, and gated.

A later round (``Round``) is a fix round (its gate failed) or a revision round (a reviewer
requested changes): the same mechanism with different feedback. Its patch is captured against
the base, proposed as the next round with the previous one as its parent, and the previous patch
becomes superseded, naming the new one.

The user's working tree is never written here; only ``uet patch apply`` does that. A
fingerprint of the user's repository taken before the attempt is compared after it (and after
its gate): a difference fails the attempt, loudly, whatever the step reported.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.adapters.base import CancelToken
from engine.events import Event, Recorder
from engine.patches.fingerprint import changed, fingerprint
from engine.patches.gates import run_gate
from engine.patches.git import GIT_TIMEOUT_SECONDS
from engine.patches.gitapply import GitFailed
from engine.patches.ledger import ENGINE, Captured, capture, move, new_patch_id, proposal
from engine.patches.policy import Decision, append_log, confine, decide
from engine.patches.printed import extract_diff
from engine.patches.safety import PatchRefused
from engine.patches.scratch import (
    Scratch,
    apply_printed,
    apply_to_scratch,
    keep_for_review,
    locate,
    make_scratch,
    remove_scratch,
)
from engine.patches.worktree import GitError
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
    touched: str | None = None
    round: int = 1


@dataclass
class Round:
    """What the next attempt of a step in a later round starts from: the previous round's patch
    and the feedback on it, a failed gate's output (``fix``) or a reviewer's comments
    (``revision``), also written to ``feedback_path`` for a tool that reads files."""

    number: int
    kind: str  # "fix" | "revision"
    previous: PatchInfo
    feedback: str
    feedback_path: str
    comments: str = ""  # a revision's rendered comments ({review.comments})
    fixes: int = 0  # fix rounds in a row up to this one (what fix_loop.max_rounds bounds)

    @property
    def previous_state(self) -> PatchState:
        """The state the previous round's patch waits in until this round's patch replaces it."""
        return P.GATE_FAILED if self.kind == "fix" else P.CHANGES_REQUESTED

    def texts(self) -> dict[str, str]:
        """The prompt sections this round carries (``engine.prompts.SECTIONS``)."""
        texts = {"round.patch": self.previous.diff}
        if self.kind == "revision":
            texts["review.comments"] = self.comments
        return texts

    @property
    def appended(self) -> tuple[str, ...]:
        """The sections put after a revision's prompt when it does not name them: an agent always
        sees what the reviewer asked for and what it changed last time."""
        return ("review.comments", "round.patch") if self.kind == "revision" else ()


class PatchSteps:
    def __init__(self, recorder: Recorder, root: Path, run_id: str, base: str | None,
                 gates: dict[str, list[list[str]]], gate_timeout: float | None) -> None:
        self.rec = recorder
        self.root = root
        self.run_id = run_id
        self.base = base
        self.gates = gates
        self.gate_timeout = gate_timeout
        self.rounds: dict[str, Round] = {}
        self.prefix = locate(root).prefix if base is not None else ""

    def worktree(self, sid: str, number: int) -> Path:
        """The attempt's scratch copy, the worktree its patch names."""
        return self.root / ".uet" / "worktrees" / self.run_id / f"{sid}.{number}"

    def workdir(self, sid: str, number: int) -> Path:
        """The project root inside the attempt's scratch copy: the step's ``{root}``."""
        work = self.worktree(sid, number)
        return work / self.prefix if self.prefix else work

    def fixes(self, sid: str) -> int:
        """Fix rounds the step has had in a row (since its first or latest revision round)."""
        current = self.rounds.get(sid)
        return current.fixes if current is not None else 0

    def next_round(self, sid: str, info: PatchInfo) -> Round:
        """Prepare the next fix round: the gate's failure is written where the tool can read it."""
        return self._round(sid, Round(info.round + 1, "fix", info, info.feedback, "", fixes=self.fixes(sid) + 1))

    def revision(self, sid: str, info: PatchInfo, comments: str) -> Round:
        """Prepare a revision round of ``info``'s patch: the reviewer's comments (rendered by
        ``engine.review.comments.render``) and the patch's diff are its feedback."""
        feedback = (f"Review comments on patch {info.patch_id} (round {info.round}):\n\n{comments.rstrip()}\n\n"
                    f"The patch they are about (round {info.round}), which your copy already holds:\n\n{info.diff}")
        return self._round(sid, Round(info.round + 1, "revision", info, feedback, "", comments=comments))

    def _round(self, sid: str, round_: Round) -> Round:
        path = self.root / ".uet" / "logs" / self.run_id / f"{sid}.round{round_.number}.feedback.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(round_.feedback, encoding="utf-8")
        round_.feedback_path = str(path)
        self.rounds[sid] = round_
        return round_

    def _event(self, kind: str, sid: str, **data: Any) -> None:
        self.rec.event(Event(time.time(), kind, self.run_id, sid, data))

    async def _decide(self, sid: str, number: int, request: ExecutionRequest) -> Decision:
        """In the sandbox, or (said in an event and the log) without it, or refused. A Python
        callable runs in the engine's process, where no sandbox reaches: it is the project's own
        code, trusted like the engine, and gets its scratch copy as its root."""
        if request.adapter != "subprocess":
            return Decision(False)
        decision = await asyncio.to_thread(decide, self.root)
        if decision.refused is not None:
            append_log(request.log_path, decision.refused)
            self._event("sandbox.refused", sid, attempt=number, reason=decision.refused)
        elif decision.note is not None:
            append_log(request.log_path, decision.note)
            self._event("sandbox.off", sid, attempt=number, reason=decision.note)
        return decision

    async def attempt(self, sid: str, number: int, spec: dict[str, Any], request: ExecutionRequest,
                      operate: Any, cancel: CancelToken, diff_output: bool,
                      network: bool = False, task: Any = None,
                      propose: bool = True) -> tuple[ExecutionResult, PatchInfo | None]:
        """One attempt. ``network``: whether the sandbox has the network (the step's or its
        tool's ``network``). ``task(request, workdir, feedback)`` gives the request with its
        prompt and the ``Prepared`` task (engine.agents.task), once the copy exists. With
        ``propose`` False (an agent's plan or review step) the copy only contains the tool: a
        change it made is discarded, with a warning."""
        if self.base is None:
            error = (f"`produces: patch` needs a git repository with at least one commit at {self.root}" if propose
                     else f"an agent works in a scratch copy of the project's git repository, and {self.root} has "
                          "none with a commit (git init && git commit)")
            return ExecutionResult(outcome="failed", error=error), None
        decision = await self._decide(sid, number, request)
        if decision.refused is not None:
            return ExecutionResult(outcome="failed", error=decision.refused), None
        fix = self.rounds.get(sid)  # a later round (fix or revision), or None in the first
        work = self.worktree(sid, number)
        keep = False
        prepared = None
        try:
            try:
                scratch = await asyncio.to_thread(make_scratch, self.root, work, self.base)
                if fix is not None:
                    await asyncio.to_thread(apply_to_scratch, scratch, fix.previous.diff)
                before = await asyncio.to_thread(fingerprint, self.root)
            except GitError as exc:
                return ExecutionResult(outcome="failed", error=f"cannot prepare the scratch copy: {exc}"), None
            if task is not None:
                gate_feedback = fix.feedback if fix is not None and fix.kind == "fix" else ""
                request, prepared = task(request, str(self.workdir(sid, number)), gate_feedback,
                                         fix.texts() if fix is not None else None,
                                         fix.appended if fix is not None else ())
            request = self._request(request, fix, scratch, decision, network, prepared)
            result = await operate(request)
            if prepared is not None:
                result = await asyncio.to_thread(_conclude, result, prepared, str(self.workdir(sid, number)))
                for field, message in prepared.warnings:
                    self._event("attempt.warning", sid, attempt=number, field=field, reason=message)
            deadline = time.monotonic() + (request.timeout or GIT_TIMEOUT_SECONDS)
            captured: Captured | None = None
            refused: str | None = None
            if result.outcome == "succeeded":
                try:
                    captured = await asyncio.to_thread(self._capture, scratch, request, result, spec, diff_output,
                                                       deadline)
                except (PatchRefused, GitError, GitFailed) as exc:
                    refused = f"the step's change was refused: {exc}"
            touched = await self._touched(sid, number, before)
            if touched is not None:
                return result.replace(outcome="failed", error=touched), None
            if result.outcome != "succeeded":
                return result, None
            if not propose:
                if captured is not None or refused is not None:
                    files = len(captured.files) if captured is not None else "some"
                    message = (f"the step changed {files} file(s) in its copy; discarded: only a step with "
                               "`produces: patch` proposes changes")
                    append_log(request.log_path, message)
                    self._event("attempt.warning", sid, attempt=number, field="changes", reason=message)
                return result, None
            if refused is not None:
                return result.replace(outcome="failed", error=refused), None
            if captured is None and prepared is not None and prepared.agent is not None:
                error = "no change: the agent ended without changing any file"
                append_log(request.log_path, error)
                return result.replace(outcome="failed", error=error), None
            if captured is None:
                if fix is not None and self._holds(fix):
                    statements, event = move(fix.previous.patch_id, self.run_id, sid, fix.previous_state, P.REJECTED,
                                             ENGINE, f"{fix.kind} round {fix.number} undid the change",
                                             clear_worktree=True)
                    self.rec.write(statements, [event])
                return result.replace(error="no changes"), None
            if fix is not None and fix.kind == "revision" and captured.diff == fix.previous.diff:
                error = (f"no change: revision round {fix.number} left patch {fix.previous.patch_id} as it was; "
                         "it still waits for its revision")
                append_log(request.log_path, error)
                return result.replace(outcome="failed", error=error), None
            await asyncio.to_thread(keep_for_review, scratch, self.base)
            keep = True
            info = await self._propose(sid, number, spec, captured, str(work), fix, cancel, before)
            if info.touched is not None:
                return result.replace(outcome="failed", error=info.touched), info
            return result, info
        finally:
            if not keep:
                await asyncio.to_thread(remove_scratch, self.root, work)
            if task is not None:
                await asyncio.to_thread(_cleanup, prepared)

    def _request(self, request: ExecutionRequest, fix: Round | None, scratch: Scratch, decision: Decision,
                 network: bool, prepared: Any = None) -> ExecutionRequest:
        """The request as it runs: a later round's feedback file named (``UET_FEEDBACK``, and
        ``UET_GATE_FEEDBACK`` in a fix round), and in the sandbox when contained."""
        env = dict(request.env)
        if fix is not None:
            env["UET_FEEDBACK"] = fix.feedback_path
            if fix.kind == "fix":
                env["UET_GATE_FEEDBACK"] = fix.feedback_path
        argv = request.argv
        if argv is not None:
            feedback = fix.feedback_path if fix is not None else ""
            argv = [a.replace("{feedback}", feedback) for a in argv]
        request = dataclasses.replace(request, env=env, argv=argv)
        if not decision.contained:
            return request
        readable = (Path(fix.feedback_path),) if fix is not None else ()
        home = None
        if prepared is not None:
            readable += (Path(prepared.prompt_file),)
            home = Path(prepared.home)
        return confine(request, scratch, network=network, readable=readable, home=home)

    def _capture(self, scratch: Scratch, request: ExecutionRequest, result: ExecutionResult, spec: dict[str, Any],
                 diff_output: bool, deadline: float) -> Captured | None:
        allow_binary = bool(spec.get("allow_binary"))
        if diff_output:
            printed = extract_diff(_read(request.log_path) if request.log_path else result.output_tail)
            if printed:
                apply_printed(scratch, printed, allow_binary=allow_binary, deadline=deadline)
        return capture(scratch, self.base or "", allow_binary=allow_binary, deadline=deadline)

    async def _touched(self, sid: str, number: int, before: dict[str, str], during: str = "the attempt") -> str | None:
        """None when the user's repository is as it was before the attempt; else the error,
        with its event."""
        after = await asyncio.to_thread(fingerprint, self.root)
        differ = changed(before, after)
        if not differ:
            return None
        error = (f"the user's repository at {self.root} changed during {during}: {', '.join(differ)} "
                 "(a patch step may change only its scratch copy; check the repository by hand)")
        self._event("repository.changed", sid, attempt=number, changed=differ, reason=error)
        return error

    async def _propose(self, sid: str, number: int, spec: dict[str, Any], captured: Captured, worktree: str,
                       fix: Round | None, cancel: CancelToken, before: dict[str, str]) -> PatchInfo:
        """Propose the patch and run its gate; a gate that changed the user's repository fails,
        whatever its commands said (the gate runs the patch's own code). In a later round the
        previous round's patch is superseded by this one."""
        patch_id = new_patch_id()
        gate = spec.get("gate")
        round_ = fix.number if fix else 1
        statements, event = proposal(patch_id, self.run_id, sid, number, self.base or "", captured, gate, round_,
                                     worktree, parent_id=fix.previous.patch_id if fix else None,
                                     reason=f"{fix.kind} round {round_} of patch {fix.previous.patch_id}" if fix
                                     else None, round_kind=fix.kind if fix else "first")
        self.rec.write(statements, [event])
        if fix is not None and self._holds(fix):
            statements, event = move(fix.previous.patch_id, self.run_id, sid, fix.previous_state, P.SUPERSEDED,
                                     ENGINE, f"superseded by patch {patch_id} from {fix.kind} round {round_}",
                                     clear_worktree=True, superseded_by=patch_id)
            event = event._replace(data={**event.data, "superseded_by": patch_id})
            self.rec.write(statements, [event])
        info = PatchInfo(patch_id, captured.diff, gate, None, round=round_)
        if gate is None:
            return info
        statements, event = move(patch_id, self.run_id, sid, P.PROPOSED, P.GATING, ENGINE, f"gate {gate}")
        self.rec.write(statements, [event])
        outcome = await run_gate(
            recorder=self.rec, root=self.root, run_id=self.run_id, step_id=sid, patch_id=patch_id,
            diff=captured.diff, base=self.base or "", gate=gate, commands=self.gates.get(gate, []), round_=round_,
            timeout=self.gate_timeout, cancel=cancel,
        )
        info.touched = await self._touched(sid, number, before, during=f"the gate {gate}")
        if info.touched is not None:
            outcome.passed = False
            outcome.feedback = info.touched + "\n"
        target = P.GATE_PASSED if outcome.passed else P.GATE_FAILED
        why = f"gate {gate}: {len(outcome.results)} command(s) passed" if outcome.passed else outcome.feedback.splitlines()[0]
        statements, event = move(patch_id, self.run_id, sid, P.GATING, target, ENGINE, why)
        self.rec.write(statements, [event])
        info.gate_passed = outcome.passed
        info.feedback = outcome.feedback
        return info


    def _holds(self, fix: Round) -> bool:
        """Whether the previous round's patch still waits for this round. A fix round's patch is
        the engine's own; a revision's was decided by a person, who may have rejected it since."""
        if fix.kind == "fix":
            return True
        from store import queries

        return queries.get_patch(fix.previous.patch_id).state is fix.previous_state


def _conclude(result: ExecutionResult, prepared: Any, workdir: str) -> ExecutionResult:
    from engine.agents.task import conclude

    return conclude(result, prepared, workdir)


def _cleanup(prepared: Any) -> None:
    from engine.agents.task import cleanup

    cleanup(prepared)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


