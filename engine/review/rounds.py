"""Review rounds: a reviewer comments on a patch and requests changes, and the step that made it
runs again as a revision round with those comments.

A comment starts as a draft (``add_comment``); ``request_changes`` submits the drafts with any
comments given, and moves the patch to ``changes_requested``, in one transaction.
``start_revision`` then reopens the run for that step's revision round (``uet _exec RUN
--revise PATCH``): the same tool, in a fresh scratch copy at the run's base with the patch
applied, told the comments; its new patch supersedes this one (``engine.patches.steps``).

Rounds are bounded by the step's ``review.max_rounds`` (3 unless the workstream says): a patch
of that round can be approved or rejected, not sent back again. Fix rounds count as rounds too:
a fix round and a revision round are the same mechanism with different feedback.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from engine.patches.ledger import Ledger, PatchDecisionError, move
from engine.review import DEFAULT_MAX_ROUNDS, rounds_allowed
from engine.review.comments import CommentError, ReviewComment, check_body, locate
from schemas.patch import COMMENTS_PER_PATCH, CommentRecord, PatchRecord
from schemas.states import PatchState
from store import Store, ops, queries

P = PatchState
#: The states a reviewer comments on and sends back: the ones a decision is made in.
REVIEWABLE = (P.PROPOSED, P.GATE_PASSED, P.GATE_FAILED)
def max_rounds(patch: PatchRecord) -> int:
    """The step's ``review.max_rounds``, as its run's spec holds it."""
    try:
        spec = queries.get_step(patch.run_id, patch.step_id).spec
    except LookupError:
        return DEFAULT_MAX_ROUNDS
    return rounds_allowed(spec)


def history(patch_id: str) -> list[PatchRecord]:
    """Every round of the patch's lineage, round 1 first (``store.queries.patch_rounds``)."""
    return queries.patch_rounds(queries.resolve_patch_id(patch_id))


def _reviewable(patch: PatchRecord, doing: str) -> PatchState:
    state = PatchState(patch.state)
    if state is P.PROPOSED and patch.gate:
        raise PatchDecisionError(f"patch {patch.id} has not been gated yet ({patch.gate!r}); wait for it")
    if state not in REVIEWABLE:
        raise PatchDecisionError(f"patch {patch.id} is {state.value}; only a proposed or gated patch can be "
                                 f"{doing}")
    return state


def _checked(diff: str, comment: ReviewComment) -> tuple[ReviewComment, str]:
    """The comment with its text checked, and the diff lines it points at."""
    body = check_body(comment.body)
    if comment.path is not None and not comment.path.strip():
        raise CommentError("--file needs a file of the patch")
    if comment.line is not None and comment.line < 1:
        raise CommentError(f"--line {comment.line}: lines are counted from 1")
    checked = ReviewComment(body, comment.path, comment.line, comment.hunk)
    return checked, locate(diff, checked)


def _room(patch: PatchRecord, adding: int) -> None:
    have = len(queries.patch_comments(patch.id))
    if have + adding > COMMENTS_PER_PATCH:
        raise CommentError(f"patch {patch.id} has {have} comment(s); at most {COMMENTS_PER_PATCH} are kept")


def add_comment(store: Store, patch_id: str, comment: ReviewComment, by: str) -> CommentRecord:
    """A draft comment on the patch, where it points checked against the patch's diff."""
    ledger = Ledger(store)
    patch = ledger.get(patch_id)
    state = _reviewable(patch, "commented on")
    checked, context = _checked(queries.patch_diff(patch.id), comment)
    _room(patch, 1)
    unit = [ops.insert_comment(patch.id, checked.path, checked.line, checked.hunk, checked.body, context, by,
                               time.time())]
    found = store.execute_if("SELECT state FROM patches WHERE id = ?", (patch.id,), state.value, unit)
    if found != state.value:
        raise PatchDecisionError(f"patch {patch.id} changed meanwhile: it is now {found}")
    return queries.patch_comments(patch.id)[-1]


def delete_comment(store: Store, comment_id: int, by: str) -> None:
    """Remove a draft; a submitted comment belongs to the patch's history and stays."""
    comment = queries.get_comment(comment_id)
    if comment.submitted_at is not None:
        raise CommentError(f"comment {comment_id} was submitted with a request for changes; it stays")
    if comment.by != by:
        raise CommentError(f"comment {comment_id} is a draft of {comment.by}; only they remove it")
    store.execute_now([ops.delete_comment(comment_id)])


def request_changes(store: Store, patch_id: str, by: str, comments: Iterable[ReviewComment] = ()) -> PatchRecord:
    """Submit ``comments`` and the patch's drafts, and move it to ``changes_requested``, in one
    transaction. Refused when there is no comment at all, when the patch's state does not allow
    it, or when its step's rounds are spent."""
    ledger = Ledger(store)
    patch = ledger.get(patch_id)
    state = _reviewable(patch, "sent back with changes requested")
    limit = max_rounds(patch)
    if patch.round >= limit:
        raise PatchDecisionError(f"patch {patch.id} is round {patch.round} of {limit} (review.max_rounds of step "
                                 f"{patch.step_id}); approve it, reject it or raise review.max_rounds")
    diff = queries.patch_diff(patch.id)
    checked = [_checked(diff, comment) for comment in comments]
    drafts = [c for c in queries.patch_comments(patch.id) if c.submitted_at is None]
    if not checked and not drafts:
        raise CommentError(f"say what to change: give --comment (patch {patch.id} has no draft comments)")
    _room(patch, len(checked))
    now = time.time()
    count = len(checked) + len(drafts)
    why = f"{count} comment(s) for round {patch.round + 1}"
    statements, event = move(patch.id, patch.run_id, patch.step_id, state, P.CHANGES_REQUESTED, by, why)
    event = event._replace(data={**event.data, "comments": count, "round": patch.round})
    unit = [*(ops.insert_comment(patch.id, c.path, c.line, c.hunk, c.body, context, by, now, now)
              for c, context in checked),
            ops.submit_comments(patch.id, now), *statements,
            ops.insert_event(event.ts, event.kind, event.run_id, event.step_id, event.data)]
    found = store.execute_if("SELECT state FROM patches WHERE id = ?", (patch.id,), state.value, unit)
    if found != state.value:
        raise PatchDecisionError(f"patch {patch.id} changed meanwhile: it is now {found}")
    return ledger.get(patch.id)


def revision_problem(patch: PatchRecord) -> str | None:
    """Why the revision round of ``patch`` cannot start now; None when it can."""
    if PatchState(patch.state) is not P.CHANGES_REQUESTED:
        return f"patch {patch.id} is {patch.state}; a revision round starts from a patch with changes requested"
    from engine.liveness import live_owner

    run = queries.get_run(patch.run_id)
    if live_owner(run) is not None:
        return (f"run {run.id} is still running; start the revision round of patch {patch.id} once it has ended "
                f"(uet patch revise {patch.id})")
    return None


def start_revision(store: Store, patch_id: str, by: str, *, detach: bool) -> str:
    """Start the revision round of a patch with changes requested. Detached, a background engine
    runs it (``uet _exec RUN --revise PATCH``) and a sentence says so; in the foreground the caller
    runs the run itself (as ``uet retry`` does) and gets the run's id back."""
    patch = Ledger(store).get(patch_id)
    problem = revision_problem(patch)
    if problem is not None:
        raise PatchDecisionError(problem)
    if not detach:
        return patch.run_id
    from engine.steering import spawn_engine

    run = queries.get_run(patch.run_id)
    started = spawn_engine(store, Path(run.root), run.id, ["--revise", patch.id])
    return (f"revision round {patch.round + 1} of patch {patch.id} (step {patch.step_id}) started in the "
            f"background for {by} (pid {started.pid}); its patch comes back for review")
