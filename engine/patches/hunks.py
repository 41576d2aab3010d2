"""Cutting a patch down to some of its hunks, and running its gate again on demand.

The files and hunks come from ``engine.patches.diffs`` (the one reader of the diff format). A
hunk's id is ``"<file>.<hunk>"`` (both counted from 0 in the stored diff), stable because a
stored diff never changes. A file without hunks (binary, a pure rename or mode change) is one
unit with the id ``"<file>.0"``.

Keeping a subset (``split``) is ``git add -p`` for the ledger: the chosen hunks become a new
patch with its own id (``parent_id`` naming the original, same run, step and base), inspected
again like any untrusted patch, and the original is rejected with a reason naming the new one,
both in one transaction. The new patch starts as proposed; ``regate`` runs its step's gate.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from engine.adapters.base import CancelToken
from engine.events import Event, EventBus, Recorder
from engine.patches.diffs import DEV_NULL, HUNK_HEADER, parse
from engine.patches.gates import GateOutcome, run_gate
from engine.patches.ledger import (
    ENGINE,
    Captured,
    Ledger,
    PatchDecisionError,
    file_dicts,
    move,
    new_patch_id,
)
from engine.patches.lines import changed_lines, pick, ranges
from engine.patches.lines import header as line_header
from engine.patches.safety import inspect_patch
from engine.patches.worktree import remove_worktree
from schemas.patch import PatchRecord
from schemas.states import PatchState
from store import Store, ops, queries

P = PatchState
DECIDABLE = (P.PROPOSED, P.GATE_PASSED, P.GATE_FAILED)


def hunk_ids(diff: str) -> list[str]:
    return [unit for f in parse(diff) for unit in f.unit_ids]


def select(diff: str, keep: set[str], lines: Mapping[str, set[int]] | None = None) -> str:
    """The diff with only the hunks in ``keep``, and of a hunk in ``lines`` only those lines
    (``engine.patches.lines``); each kept hunk's new-side start is moved by what the hunks
    and lines left out before it would have added or removed."""
    lines = lines or {}
    out: list[str] = []
    for f in parse(diff):
        if not f.hunks:
            if f"{f.index}.0" in keep:
                out.extend(f.header)
            continue
        kept = [h for h in f.hunks if h.id in keep or h.id in lines]
        if not kept:
            continue
        out.extend(f.header)
        deleted = any(line.startswith("+++ ") and line.endswith(DEV_NULL) for line in f.header)
        shift = 0
        for h in f.hunks:
            if h.id in lines:
                body, old, new = pick(h, lines[h.id], deleted_file=deleted)
                out.append(line_header(h, old, h.new_start - shift, new))
                out.extend(body)
                shift += (h.new_count - h.old_count) - (new - old)
            elif h.id in keep:
                match = HUNK_HEADER.match(h.header)
                tail = match[5] if match else ""
                out.append(f"@@ -{h.old_start},{h.old_count} +{h.new_start - shift},{h.new_count} @@{tail}")
                out.extend(h.lines)
            else:
                shift += h.new_count - h.old_count
    return "\n".join(out) + "\n" if out else ""


def split(store: Store, patch_id: str, keep: set[str], by: str, reason: str | None = None,
          lines: Mapping[str, set[int]] | None = None, *, to_approve: bool = False) -> PatchRecord:
    """Make a new patch of the hunks in ``keep`` (and of the chosen ``lines`` of some hunks)
    and reject the original in favour of it. ``to_approve`` records that the person chose
    them to approve them (``approve_hunks``)."""
    lines = {unit: set(numbers) for unit, numbers in (lines or {}).items()}
    ledger = Ledger(store)
    patch = ledger.get(patch_id)
    state = PatchState(patch.state)
    if state not in DECIDABLE:
        raise PatchDecisionError(f"patch {patch.id} is {state.value}; only a proposed or gated patch can be cut down")
    diff = queries.patch_diff(patch.id)
    units = hunk_ids(diff)
    unknown = sorted((keep | set(lines)) - set(units))
    if unknown:
        raise PatchDecisionError(f"patch {patch.id} has no hunk {', '.join(unknown)}; its hunks are {', '.join(units)}")
    if not keep and not lines:
        raise PatchDecisionError("choose at least one hunk to keep, or reject the patch")
    by_id = {h.id: h for f in parse(diff) for h in f.hunks}
    # a hunk whose every change is chosen line by line is simply kept whole
    keep = set(keep)
    for unit, numbers in list(lines.items()):
        if unit in keep or (unit in by_id and numbers == set(changed_lines(by_id[unit]))):
            keep.add(unit)
            del lines[unit]
    if set(units) <= keep:
        raise PatchDecisionError(f"every hunk of patch {patch.id} is chosen; approve the patch itself")
    subset = select(diff, keep, lines)
    files = inspect_patch(subset, allow_binary=any(f.binary for f in patch.files))
    captured = Captured(diff=subset, files=files, added=sum(f.added for f in files),
                        removed=sum(f.removed for f in files),
                        sha256=hashlib.sha256(subset.encode("utf-8", errors="surrogateescape")).hexdigest())
    new_id = new_patch_id()
    chosen = ", ".join(u if u in keep else f"{u} (lines {ranges(sorted(lines[u]))})"
                       for u in units if u in keep or u in lines)
    intent = " to approve" if to_approve else ""
    why = f"hunks {chosen} of patch {patch.id}, chosen by {by}{intent}" + (f": {reason}" if reason else "")
    now = time.time()
    insert = ops.insert_patch(new_id, patch.run_id, patch.step_id, patch.attempt, P.PROPOSED.value,
                              patch.base_commit, subset, captured.sha256, file_dicts(captured.files), captured.added,
                              captured.removed, patch.gate, patch.round, patch.id, None, now, by, why,
                              round_kind="subset")
    event = Event(now, "patch.state", patch.run_id, patch.step_id, {
        "patch": new_id, "from": None, "to": P.PROPOSED.value, "by": by, "files": len(captured.files),
        "added": captured.added, "removed": captured.removed, "round": patch.round, "why": why, "parent": patch.id,
        "gate": patch.gate,
    })
    rest = f"split: hunks {chosen} went on as patch {new_id}; the rest is rejected" + (f" ({reason})" if reason else "")
    moved, rejected = move(patch.id, patch.run_id, patch.step_id, state, P.REJECTED, by, rest, clear_worktree=True)
    rejected = rejected._replace(data={**rejected.data, "child": new_id})
    unit = [insert, *moved, *(ops.insert_event(e.ts, e.kind, e.run_id, e.step_id, e.data) for e in (event, rejected))]
    found = store.execute_if("SELECT state FROM patches WHERE id = ?", (patch.id,), state.value, unit)
    if found != state.value:
        raise PatchDecisionError(f"patch {patch.id} changed meanwhile: it is now {found}")
    if patch.worktree:
        remove_worktree(Path(queries.get_run(patch.run_id).root), Path(patch.worktree))
    return ledger.get(new_id)


def gate_commands(patch: PatchRecord) -> list[list[str]]:
    """The commands of the patch's gate, as its run's spec resolved them when it started."""
    if not patch.gate:
        raise PatchDecisionError(f"patch {patch.id} has no gate to run")
    gates = queries.run_spec(patch.run_id).get("gates", {})
    if patch.gate not in gates:
        raise PatchDecisionError(f"run {patch.run_id} does not define the gate {patch.gate!r}")
    return [list(command) for command in gates[patch.gate]]


def next_round(patch: PatchRecord) -> int:
    rounds = [g.round for g in queries.gate_results(patch.id)]
    return max(rounds) + 1 if rounds else patch.round


def regate(store: Store, patch_id: str, by: str, *, timeout: float | None = None,
           cancel: CancelToken | None = None) -> tuple[PatchRecord, GateOutcome]:
    """Run the patch's gate again: proposed or gated → gating (by ``by``) → gate_passed or
    gate_failed (by the engine), each command's result stored under a new round. Blocks; call
    it from a thread."""
    ledger = Ledger(store)
    patch = ledger.get(patch_id)
    state = PatchState(patch.state)
    commands = gate_commands(patch)
    if state not in DECIDABLE:
        raise PatchDecisionError(f"patch {patch.id} is {state.value}; only a proposed or gated patch is gated again")
    round_ = next_round(patch)
    ledger._transition(patch, P.GATING, by, f"gate {patch.gate} again (round {round_})")
    root = Path(queries.get_run(patch.run_id).root)
    diff = queries.patch_diff(patch.id)
    recorder = Recorder(store, EventBus())

    async def gate() -> GateOutcome:
        try:
            return await run_gate(recorder=recorder, root=root, run_id=patch.run_id, step_id=patch.step_id,
                                  patch_id=patch.id, diff=diff, base=patch.base_commit, gate=patch.gate or "",
                                  commands=commands, round_=round_, timeout=timeout, cancel=cancel or CancelToken())
        finally:
            store.sync()

    try:
        outcome = asyncio.run(gate())
    except Exception as exc:  # noqa: BLE001 - a gate that cannot run must not leave the patch gating
        outcome = GateOutcome(passed=False, feedback=f"the gate {patch.gate!r} could not run: {exc}\n")
    store.sync()
    target = P.GATE_PASSED if outcome.passed else P.GATE_FAILED
    why = (f"gate {patch.gate}: {len(outcome.results)} command(s) passed" if outcome.passed
           else outcome.feedback.splitlines()[0] if outcome.feedback else f"gate {patch.gate} failed")
    statements, event = move(patch.id, patch.run_id, patch.step_id, P.GATING, target, ENGINE, why)
    recorder.write(statements, [event])
    store.sync()
    return ledger.get(patch.id), outcome


def approve_hunks(store: Store, patch_id: str, keep: set[str], by: str, reason: str | None = None, *,
                  lines: Mapping[str, set[int]] | None = None,
                  on_split: Callable[[PatchRecord], None] | None = None,
                  timeout: float | None = None) -> PatchRecord:
    """``split``, then gate the new patch when its step has a gate (``on_split`` hears of the
    new patch before its gate runs), and approve it for ``by``, who chose its hunks to approve
    them, once the gate passes (at once without a gate). A failed gate leaves it
    ``gate_failed``: its reason says why, and ``not_approved`` says it in words."""
    patch = split(store, patch_id, keep, by, reason, lines, to_approve=True)
    if on_split is not None:
        on_split(patch)
    if patch.gate:
        patch, _ = regate(store, patch.id, by, timeout=timeout)
    if PatchState(patch.state) in (P.GATE_PASSED, P.PROPOSED):
        gated = f"its gate {patch.gate} passed" if patch.gate else "it has no gate"
        patch = Ledger(store).approve(patch.id, by, comment=f"chosen by {by} to approve; {gated}")
    return patch


def not_approved(patch: PatchRecord) -> str | None:
    """Why a patch ``approve_hunks`` made was not approved (None when it was)."""
    if PatchState(patch.state) is P.APPROVED:
        return None
    if PatchState(patch.state) is P.GATE_FAILED:
        return (f"not approved: its gate {patch.gate} failed ({patch.reason or 'see its gate results'}); approve it "
                f"anyway with: uet patch approve {patch.id} --override REASON")
    return f"not approved: it is {PatchState(patch.state).value}"


__all__ = ["DECIDABLE", "approve_hunks", "gate_commands", "hunk_ids", "next_round", "not_approved", "regate", "select",
           "split"]
