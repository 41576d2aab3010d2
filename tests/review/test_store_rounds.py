"""Migration 6 and the review queries on a real SQLite file: old patches get their round kind,
a lineage of rounds is found from any of its members, comments are kept with their drafts."""

from __future__ import annotations

from pathlib import Path

from store import NoSuchRecord, Store, ops, queries
from tests.store.versions import store_at

DIFF = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"


def insert(store: Store, pid: str, round_: int, parent: str | None, kind: str, at: float) -> None:
    store.execute_now([ops.insert_patch(pid, "r", "edit", round_, "proposed", "c0", DIFF, "s", [], 1, 1, None,
                                        round_, parent, None, at, "uet", None, kind)])


def make_run(store: Store) -> None:
    store.create_run(run_id="r", workstream="w", source=None, root="/p", max_parallel=1, spec={},
                     steps=[("edit", "task", [], {"id": "edit"})])


def test_a_version_5_database_gets_round_kinds_and_a_comments_table(db_path: Path) -> None:
    old = store_at(db_path, 5)
    old.execute_sql("INSERT INTO runs (id, workstream, root, state, created_at) VALUES ('r', 'w', '/p', 'failed', 1)")
    for pid, round_, parent in (("p1", 1, None), ("p2", 2, None), ("p3", 2, "p2")):
        old.execute_sql("INSERT INTO patches (id, run_id, step_id, attempt, state, base_commit, diff, sha256, round, "
                        "parent_id, created_at, updated_at) VALUES (?, 'r', 'edit', 1, 'rejected', 'c', '', 's', ?, "
                        "?, 1, 1)", (pid, round_, parent))
    old.close()
    with Store(db_path) as store:
        assert store.applied[0] == 6
        kinds = {p.id: (p.round_kind, p.superseded_by) for p in queries.list_patches("r")}
        assert kinds == {"p1": ("first", None), "p2": ("fix", None), "p3": ("subset", None)}
        assert queries.patch_comments("p1") == []


def test_rounds_are_found_from_any_member_first_round_first(store: Store) -> None:
    make_run(store)
    insert(store, "a1", 1, None, "first", 1.0)
    insert(store, "a2", 2, "a1", "fix", 2.0)
    insert(store, "a3", 3, "a2", "revision", 3.0)
    insert(store, "b1", 1, None, "first", 1.5)  # another lineage of the same step
    for pid in ("a1", "a2", "a3"):
        assert [p.id for p in queries.patch_rounds(pid)] == ["a1", "a2", "a3"]
    assert [p.round_kind for p in queries.patch_rounds("a2")] == ["first", "fix", "revision"]
    assert [p.id for p in queries.patch_rounds("b1")] == ["b1"]
    try:
        queries.patch_rounds("zz")
    except NoSuchRecord as exc:
        assert "zz" in str(exc)
    else:
        raise AssertionError("an unknown patch has no rounds")


def test_comments_are_drafts_until_submitted_and_only_drafts_are_deleted(store: Store) -> None:
    make_run(store)
    insert(store, "a1", 1, None, "first", 1.0)
    store.execute_now([ops.insert_comment("a1", None, None, None, "whole", "", "ann", 1.0),
                       ops.insert_comment("a1", "f", 1, None, "line", "+b", "ann", 2.0)])
    first, second = queries.patch_comments("a1")
    assert (first.path, second.path, second.line, second.context) == (None, "f", 1, "+b")
    assert queries.patch_comments("a1", drafts=False) == []
    store.execute_now([ops.submit_comments("a1", 5.0)])
    assert [c.submitted_at for c in queries.patch_comments("a1", drafts=False)] == [5.0, 5.0]
    store.execute_now([ops.delete_comment(first.id)])
    assert len(queries.patch_comments("a1")) == 2
    store.execute_now([ops.insert_comment("a1", None, None, None, "draft", "", "ann", 6.0)])
    draft = queries.patch_comments("a1")[-1]
    store.execute_now([ops.delete_comment(draft.id)])
    assert [c.body for c in queries.patch_comments("a1")] == ["whole", "line"]
