"""The review API on a real SQLite store (no run needed): drafts, their removal, a request for
changes in one transaction, and each refusal leaving the store as it was."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.patches.ledger import Ledger, PatchDecisionError
from engine.review.comments import CommentError, ReviewComment
from engine.review.rounds import (
    add_comment,
    delete_comment,
    history,
    max_rounds,
    request_changes,
    revision_problem,
    start_revision,
)
from engine.workers import HOST, is_lost
from schemas.patch import COMMENTS_PER_PATCH
from schemas.states import PatchState
from store import Store, ops, queries

DIFF = "diff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,3 @@\n a\n+b\n c\n"


def make(store: Store, state: str = "gate_passed", round_: int = 1, review: dict | None = None,
         gate: str | None = "check") -> str:
    spec = {"id": "edit", "produces": "patch", **({"review": review} if review else {})}
    store.create_run(run_id="r", workstream="w", source=None, root="/p", max_parallel=1, spec={},
                     steps=[("edit", "task", [], spec)])
    store.execute_now([ops.insert_patch("p1", "r", "edit", 1, state, "c0", DIFF, "s", [], 1, 0, gate, round_, None,
                                        None, 1.0, "uet", None)])
    return "p1"


def events(db_path: Path) -> list[str]:
    with sqlite3.connect(db_path) as db:
        return [k for (k,) in db.execute("SELECT kind FROM events WHERE kind LIKE 'patch.%' ORDER BY seq")]


def test_drafts_are_sent_with_the_request_in_one_move(store: Store, db_path: Path) -> None:
    pid = make(store)
    draft = add_comment(store, pid, ReviewComment("why b?", "f.txt", 2), "ann")
    assert draft.submitted_at is None and draft.context.splitlines()[-2] == "> +b"
    patch = request_changes(store, pid, "ann", [ReviewComment("and say why")])
    assert patch.state is PatchState.CHANGES_REQUESTED and patch.decided_by == "ann"
    assert patch.reason == "2 comment(s) for round 2"
    assert [(c.body, c.submitted_at is not None) for c in queries.patch_comments(pid)] == [
        ("why b?", True), ("and say why", True)]
    assert events(db_path) == ["patch.state"]
    assert [p.id for p in history(pid)] == [pid]


@pytest.mark.parametrize(("state", "round_", "review", "comments", "message"), [
    ("gate_passed", 1, None, [], "say what to change: give --comment (patch p1 has no draft comments)"),
    ("approved", 1, None, [ReviewComment("x")], "patch p1 is approved; only a proposed or gated patch can be sent"),
    ("proposed", 1, None, [ReviewComment("x")], "patch p1 has not been gated yet ('check'); wait for it"),
    ("gate_failed", 3, None, [ReviewComment("x")], "patch p1 is round 3 of 3 (review.max_rounds of step edit); "
                                                   "approve it, reject it or raise review.max_rounds"),
    ("gate_passed", 2, {"max_rounds": 2}, [ReviewComment("x")], "patch p1 is round 2 of 2"),
    ("gate_passed", 1, None, [ReviewComment("x", "f.txt", 9)],
     "line 9 of f.txt is not in the patch; it shows lines 1-3 of f.txt"),
    ("gate_passed", 1, None, [ReviewComment("  ")], "a comment needs some text (--comment)"),
])
def test_a_refused_request_changes_nothing(store: Store, db_path: Path, state: str, round_: int,
                                           review: dict | None, comments: list[ReviewComment], message: str) -> None:
    pid = make(store, state, round_, review)
    with pytest.raises(InputError) as info:
        request_changes(store, pid, "ann", comments)
    assert str(info.value).startswith(message)
    assert queries.get_patch(pid).state.value == state and queries.patch_comments(pid) == []
    assert events(db_path) == []


def test_a_patch_waiting_for_its_revision_can_be_rejected_not_approved(store: Store) -> None:
    pid = make(store)
    request_changes(store, pid, "ann", [ReviewComment("x")])
    with pytest.raises(PatchDecisionError, match="only a proposed or gated patch is approved"):
        Ledger(store).approve(pid, "ann")
    assert Ledger(store).reject(pid, "ann", "not worth it").state is PatchState.REJECTED
    assert revision_problem(queries.get_patch(pid)) == ("patch p1 is rejected; a revision round starts from a "
                                                        "patch with changes requested")


def test_a_patch_takes_a_bounded_number_of_comments(store: Store) -> None:
    pid = make(store)
    for n in range(COMMENTS_PER_PATCH):
        add_comment(store, pid, ReviewComment(f"c{n}"), "ann")
    with pytest.raises(CommentError, match=f"at most {COMMENTS_PER_PATCH} are kept"):
        add_comment(store, pid, ReviewComment("one more"), "ann")
    assert len(queries.patch_comments(pid)) == COMMENTS_PER_PATCH


def test_only_its_author_removes_a_draft_and_a_submitted_comment_stays(store: Store) -> None:
    pid = make(store)
    first = add_comment(store, pid, ReviewComment("one"), "ann")
    second = add_comment(store, pid, ReviewComment("two"), "ann")
    with pytest.raises(CommentError, match="a draft of ann"):
        delete_comment(store, first.id, "bob")
    delete_comment(store, first.id, "ann")
    request_changes(store, pid, "ann")
    with pytest.raises(CommentError, match="was submitted"):
        delete_comment(store, second.id, "ann")
    assert [c.body for c in queries.patch_comments(pid)] == ["two"]


def test_the_revision_waits_for_changes_requested_and_for_the_runs_engine(store: Store) -> None:
    pid = make(store, review={"max_rounds": 5})
    assert max_rounds(queries.get_patch(pid)) == 5
    with pytest.raises(PatchDecisionError, match="a revision round starts from a patch with changes requested"):
        start_revision(store, pid, "ann", detach=False)
    request_changes(store, pid, "ann", [ReviewComment("x")])
    assert start_revision(store, pid, "ann", detach=False) == "r"
    store.register_worker("w1", os.getpid(), HOST)
    store.claim_run("r", "w1", is_lost)
    problem = revision_problem(queries.get_patch(pid))
    assert problem == "run r is still running; start the revision round of patch p1 once it has ended " \
                      "(uet patch revise p1)"
