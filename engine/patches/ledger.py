"""The patch ledger: proposed changes and every decision about them, each an event with who
(the OS user, or ``uet`` for the engine's own moves) and why.

States: proposed → gating → gate_passed | gate_failed → approved | rejected; approved →
applied → reverted. A patch without a gate may be approved straight from proposed. Approving
over a failed gate needs a written override. A reviewer may instead request changes
(changes_requested, ``engine.review``): the next round's patch supersedes it, or it is rejected;
a fix round's patch supersedes one whose gate failed. Decisions are compare-and-set transactions, so two
people deciding at once cannot both win.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InputError, InvalidTransition
from engine.events import Event
from engine.patches.gitapply import apply_patch, revert_patch
from engine.patches.safety import PatchFile, inspect_patch
from engine.patches.scratch import Scratch, capture_diff
from engine.patches.worktree import remove_worktree
from engine.states import can_transition
from schemas.patch import PatchRecord
from schemas.states import PatchState
from store import Store, ops, queries
from store.writer import Statement

ENGINE = "uet"
P = PatchState


def new_patch_id() -> str:
    return uuid.uuid4().hex[:10]


@dataclass(frozen=True)
class Captured:
    diff: str
    files: list[PatchFile]
    added: int
    removed: int
    sha256: str


def capture(scratch: Scratch, base: str, *, allow_binary: bool = False, deadline: float | None = None) -> Captured | None:
    """What the attempt changed in its scratch copy, inspected like any untrusted patch; None
    when it changed nothing. ``deadline`` (``time.monotonic``) bounds the git calls."""
    diff = capture_diff(scratch, base, deadline)
    if not diff.strip():
        return None
    files = inspect_patch(diff, allow_binary=allow_binary)
    return Captured(
        diff=diff,
        files=files,
        added=sum(f.added for f in files),
        removed=sum(f.removed for f in files),
        sha256=hashlib.sha256(diff.encode("utf-8", errors="surrogateescape")).hexdigest(),
    )


def file_dicts(files: list[PatchFile]) -> list[dict[str, Any]]:
    return [{"path": f.path, "old_path": f.old_path, "status": f.status, "added": f.added, "removed": f.removed,
             "binary": f.binary} for f in files]


def proposal(patch_id: str, run_id: str, step_id: str, attempt: int, base: str, captured: Captured,
             gate: str | None, round_: int, worktree: str | None, parent_id: str | None = None,
             reason: str | None = None, round_kind: str = "first") -> tuple[list[Statement], Event]:
    now = time.time()
    statement = ops.insert_patch(patch_id, run_id, step_id, attempt, P.PROPOSED.value, base, captured.diff,
                                 captured.sha256, file_dicts(captured.files), captured.added, captured.removed,
                                 gate, round_, parent_id, worktree, now, ENGINE, reason, round_kind)
    event = Event(now, "patch.state", run_id, step_id, {
        "patch": patch_id, "from": None, "to": P.PROPOSED.value, "by": ENGINE, "files": len(captured.files),
        "added": captured.added, "removed": captured.removed, "round": round_, "kind": round_kind,
        "parent": parent_id, "why": reason, "gate": gate,
    })
    return [statement], event


def move(patch_id: str, run_id: str, step_id: str, source: PatchState, target: PatchState, by: str,
         why: str | None, **fields: Any) -> tuple[list[Statement], Event]:
    """The statements and event of one transition (the engine writes them through its writer)."""
    if not can_transition("patch", source, target):
        raise InvalidTransition("patch", source.value, target.value, patch_id)
    now = time.time()
    statement = ops.patch_state(patch_id, target.value, now, by, why, **fields)
    event = Event(now, "patch.state", run_id, step_id,
                  {"patch": patch_id, "from": source.value, "to": target.value, "by": by, "why": why})
    return [statement], event


class PatchDecisionError(InputError):
    """A decision the patch's state does not allow, said in words."""


class Ledger:
    """Decisions made by people, from the CLI or the dashboard, on a patch in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _transition(self, patch: PatchRecord, target: PatchState, by: str, why: str | None, **fields: Any) -> None:
        source = PatchState(patch.state)
        statements, event = move(patch.id, patch.run_id, patch.step_id, source, target, by, why, **fields)
        unit = [*statements, ops.insert_event(event.ts, event.kind, event.run_id, event.step_id, event.data)]
        found = self.store.execute_if("SELECT state FROM patches WHERE id = ?", (patch.id,), source.value, unit)
        if found != source.value:
            raise PatchDecisionError(f"patch {patch.id} changed meanwhile: it is now {found}")

    def get(self, patch_id: str) -> PatchRecord:
        return queries.get_patch(queries.resolve_patch_id(patch_id))

    def approve(self, patch_id: str, by: str, comment: str | None = None, override: str | None = None) -> PatchRecord:
        patch = self.get(patch_id)
        state = PatchState(patch.state)
        if state is P.GATE_FAILED and not override:
            raise PatchDecisionError(
                f"patch {patch.id} failed its gate {patch.gate!r}; approve it anyway only with "
                "--override \"why it is safe\"")
        if state is P.PROPOSED and patch.gate:
            raise PatchDecisionError(f"patch {patch.id} has not been gated yet ({patch.gate!r}); wait for it")
        if state not in (P.PROPOSED, P.GATE_PASSED, P.GATE_FAILED):
            raise PatchDecisionError(f"patch {patch.id} is {state.value}; only a proposed or gated patch is approved")
        why = f"override: {override}" if state is P.GATE_FAILED else (comment or "approved")
        if override and comment:
            why = f"{why}; {comment}"
        self._transition(patch, P.APPROVED, by, why)
        return self.get(patch.id)

    def reject(self, patch_id: str, by: str, reason: str) -> PatchRecord:
        patch = self.get(patch_id)
        if not reason.strip():
            raise PatchDecisionError("a rejection needs a reason")
        state = PatchState(patch.state)
        # A patch sent back for changes may be given up on while it waits for its revision.
        if state not in (P.PROPOSED, P.GATE_PASSED, P.GATE_FAILED, P.CHANGES_REQUESTED):
            raise PatchDecisionError(f"patch {patch.id} is {state.value}; it can no longer be rejected")
        self._transition(patch, P.REJECTED, by, reason, clear_worktree=True)
        self._drop_worktree(patch)
        return self.get(patch.id)

    def apply(self, patch_id: str, by: str, *, commit: bool = False) -> PatchRecord:
        patch = self.get(patch_id)
        if PatchState(patch.state) is not P.APPROVED:
            raise PatchDecisionError(f"patch {patch.id} is {patch.state}; approve it before applying it")
        run = queries.get_run(patch.run_id)
        diff = queries.patch_diff(patch.id)
        message = (f"uet: {run.workstream} step {patch.step_id} (patch {patch.id}, run {patch.run_id})"
                   if commit else None)
        result = apply_patch(Path(run.root), diff, base=patch.base_commit, commit_message=message)
        if not result.applied:
            why = "already present at HEAD; nothing written"
        else:
            why = "applied with a 3-way merge" if result.three_way else "applied"
        self._transition(patch, P.APPLIED, by, why + (f" as commit {result.commit[:12]}" if result.commit else ""),
                         applied_commit=result.commit, clear_worktree=True,
                         applied_diff=(result.diff or diff) if result.applied else "")
        self._drop_worktree(patch)
        return self.get(patch.id)

    def revert(self, patch_id: str, by: str, *, commit: bool = False) -> PatchRecord:
        patch = self.get(patch_id)
        if PatchState(patch.state) is not P.APPLIED:
            raise PatchDecisionError(f"patch {patch.id} is {patch.state}; only an applied patch is reverted")
        run = queries.get_run(patch.run_id)
        message = f"uet: revert patch {patch.id} ({run.workstream} step {patch.step_id})" if commit else None
        written = queries.patch_diff(patch.id, applied=True)
        if not written:
            raise PatchDecisionError(f"patch {patch.id} was already at HEAD when it was applied; "
                                     "nothing of it was written, so there is nothing to revert")
        result = revert_patch(Path(run.root), written, commit_message=message)
        self._transition(patch, P.REVERTED, by, "reverted" + (f" as commit {result.commit[:12]}" if result.commit else ""))
        return self.get(patch.id)

    def _drop_worktree(self, patch: PatchRecord) -> None:
        if patch.worktree:
            run = queries.get_run(patch.run_id)
            remove_worktree(Path(run.root), Path(patch.worktree))
