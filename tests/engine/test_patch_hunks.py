"""Hunks of a patch in a real git repository: a tool edits two separate places of a file, the
patch is cut down to one hunk (a new ledger entry gated again, the original rejected naming
it), the new patch is approved and applied, and the working tree holds exactly that change.
Gates run again on demand, and a failing one moves the patch to gate_failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.patches.diffs import parse
from engine.patches.hunks import hunk_ids, regate, select, split
from engine.patches.ledger import Ledger, PatchDecisionError
from engine.states import can_transition
from schemas.states import PatchState
from store import Store, ops, queries
from tests.conftest import Project
from tests.engine.patch_repos import two_hunk_repo

pytestmark = pytest.mark.slow

TWO_HUNKS = """diff --git a/f.txt b/f.txt
--- a/f.txt
+++ b/f.txt
@@ -1,4 +1,5 @@
 line 1
+inserted
 line 2
 line 3
 line 4
@@ -17,4 +18,4 @@ line 16
 line 17
 line 18
-line 19
+LINE 19
 line 20
diff --git a/g.bin b/g.bin
new file mode 100644
Binary files /dev/null and b/g.bin differ
"""


@pytest.fixture
def repo(project: Project) -> Project:
    two_hunk_repo(project)
    assert project.uet("patches", "--json", check=True).stdout.count('"id"') == 1
    return project


def only_patch(project: Project) -> dict:
    [patch] = json.loads(project.uet("patches", "--json", check=True).stdout)
    return patch


def test_parse_counts_hunks_and_a_file_without_hunks_is_one_unit() -> None:
    files = parse(TWO_HUNKS)
    assert [f.path for f in files] == ["f.txt", "g.bin"]
    assert [h.id for h in files[0].hunks] == ["0.0", "0.1"]
    assert (files[0].hunks[0].added, files[0].hunks[1].added, files[0].hunks[1].removed) == (1, 1, 1)
    assert hunk_ids(TWO_HUNKS) == ["0.0", "0.1", "1.0"]


def test_select_moves_a_kept_hunk_by_what_the_dropped_ones_added() -> None:
    kept = select(TWO_HUNKS, {"0.1"})
    assert "@@ -17,4 +17,4 @@ line 16" in kept and "+inserted" not in kept and "g.bin" not in kept
    assert select(TWO_HUNKS, {"1.0"}).startswith("diff --git a/g.bin b/g.bin\nnew file mode")
    assert select(TWO_HUNKS, set()) == ""


def test_regating_is_allowed_from_either_gate_outcome() -> None:
    for source in (PatchState.GATE_PASSED, PatchState.GATE_FAILED, PatchState.PROPOSED):
        assert can_transition("patch", source, PatchState.GATING)
    assert not can_transition("patch", PatchState.APPROVED, PatchState.GATING)


def test_a_subset_of_hunks_becomes_a_new_gated_patch_and_only_it_is_applied(repo: Project) -> None:
    original = only_patch(repo)
    assert original["state"] == "gate_passed"
    with Store(repo.db) as store:
        assert hunk_ids(queries.patch_diff(original["id"])) == ["0.0", "0.1"]
        new = split(store, original["id"], {"0.1"}, "alice", "only the second change")
        assert new.parent_id == original["id"] and new.state is PatchState.PROPOSED and new.round_kind == "subset"
        assert (new.run_id, new.step_id, new.base_commit, new.gate) == (
            original["run_id"], original["step_id"], original["base_commit"], "check")
        assert (new.added, new.removed) == (1, 1)
        old = queries.get_patch(original["id"])
        assert old.state is PatchState.REJECTED and new.id in (old.reason or "") and old.decided_by == "alice"
        assert not Path(original["worktree"]).exists()

        gated, outcome = regate(store, new.id, "alice")
        assert outcome.passed and gated.state is PatchState.GATE_PASSED
        assert [g.command for g in queries.gate_results(new.id)] == [["sh", "{root}/check.sh"]]
        Ledger(store).approve(new.id, "alice")
        Ledger(store).apply(new.id, "alice")
    text = (repo.root / "f.txt").read_text()
    assert "line nineteen" in text and "line two" not in text and "line 2\n" in text
    events = [json.loads(e) for e in repo.uet("logs", original["run_id"], "--json", check=True).stdout.splitlines()]
    moves = [(e["data"]["patch"], e["data"]["to"], e["data"]["by"]) for e in events if e["kind"] == "patch.state"]
    assert (original["id"], "rejected", "alice") in moves
    assert [m[1:] for m in moves if m[0] == new.id] == [
        ("proposed", "alice"), ("gating", "alice"), ("gate_passed", "uet"), ("approved", "alice"),
        ("applied", "alice")]


def test_split_refuses_unknown_empty_or_every_hunk_and_decided_patches(repo: Project) -> None:
    patch = only_patch(repo)
    with Store(repo.db) as store:
        for keep, words in (({"7.3"}, "no hunk 7.3"), (set(), "at least one"), ({"0.0", "0.1"}, "every hunk")):
            with pytest.raises(PatchDecisionError, match=words):
                split(store, patch["id"], keep, "alice")
        Ledger(store).reject(patch["id"], "alice", "no")
        with pytest.raises(PatchDecisionError, match="rejected"):
            split(store, patch["id"], {"0.0"}, "alice")
        with pytest.raises(PatchDecisionError, match="rejected"):
            regate(store, patch["id"], "alice")


def test_a_gate_run_again_can_fail_and_then_needs_an_override(repo: Project) -> None:
    patch = only_patch(repo)
    with Store(repo.db) as store:
        # The gate runs in a scratch copy at the patch's base, so a change to check.sh in the
        # working tree is not seen; the run's gate itself now fails instead.
        spec = queries.run_spec(patch["run_id"])
        spec["gates"]["check"] = [["sh", "-c", "echo broken >&2; exit 3"]]
        store.execute_now([ops.run_spec(patch["run_id"], spec)])
        gated, outcome = regate(store, patch["id"], "bob")
        assert not outcome.passed and gated.state is PatchState.GATE_FAILED
        rounds = [(g.round, g.exit_code) for g in queries.gate_results(patch["id"])]
        assert rounds == [(1, 0), (2, 3)]
        assert "broken" in queries.gate_results(patch["id"])[-1].output_tail
        with pytest.raises(PatchDecisionError, match="override"):
            Ledger(store).approve(patch["id"], "bob")


def test_approving_hunks_gates_the_new_patch_and_approves_it_once_it_passes(repo: Project) -> None:
    from engine.patches.hunks import approve_hunks, not_approved

    patch = only_patch(repo)
    heard: list[str] = []
    with Store(repo.db) as store:
        new = approve_hunks(store, patch["id"], {"0.0"}, "carol", on_split=lambda p: heard.append(p.state.value))
        assert heard == ["proposed"] and new.state is PatchState.APPROVED and new.parent_id == patch["id"]
        assert new.decided_by == "carol" and not_approved(new) is None
        assert [g.round for g in queries.gate_results(new.id)] == [1]


def test_hunks_approved_under_a_failing_gate_stay_unapproved_and_say_why(project: Project) -> None:
    from engine.patches.hunks import approve_hunks, not_approved

    two_hunk_repo(project, gate_passes=False)
    patch = only_patch(project)
    with Store(project.db) as store:
        new = approve_hunks(store, patch["id"], {"0.0"}, "carol")
        assert new.state is PatchState.GATE_FAILED
        why = not_approved(new)
        assert why is not None and why.startswith("not approved: its gate check failed") and "--override" in why
        proposed = [e.data for e in queries.events_after(0, new.run_id)
                    if e.kind == "patch.state" and e.data.get("patch") == new.id and e.data.get("to") == "proposed"]
        assert [d["why"] for d in proposed] == [f"hunks 0.0 of patch {patch['id']}, chosen by carol to approve"]
