"""Review rounds through the dashboard, on a real git repository and a real store: J moves the
line cursor, c writes a comment (a draft row in patch_comments, under its line in the diff), x
drops a draft, C requests changes (the drafts submitted, the patch changes_requested) and starts
the revision round in a background engine, whose new patch (round 2) replaces the first in the
list; o shows the replaced round again, i switches the diff to what changed between the rounds."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from engine.session import operator
from tests.conftest import Project, wait_for
from tests.engine.patch_repos import LINES, git
from tests.tui.test_dashboard import settle
from tests.tui.test_patch_review import answer, review
from tui.app import UetApp, make_app
from tui.screens.ask import AskScreen
from tui.screens.comment import CommentScreen
from tui.screens.patches import PatchesScreen
from tui.widgets.diff_view import DiffView
from tui.widgets.line_table import LineTable

pytestmark = pytest.mark.slow

EDIT = """\
if grep -q '^line two$' f.txt; then
  sed -i 's/^line two$/line 2, as asked/' f.txt
else
  sed -i -e 's/^line 2$/line two/' -e 's/^line 19$/line nineteen/' f.txt
fi
"""


def revisable_repo(project: Project, review: str = "") -> Project:
    """Twenty lines; a tool that edits line 2 and line 19 and, run again on its own result (a
    revision round starts from the previous round's files), rewrites line 2 once more. ``review``
    is the step's review policy, if any (YAML)."""
    project.write("f.txt", LINES)
    project.write(".gitignore", ".uet/\n")
    project.script("edit.sh", EDIT)
    project.script("check.sh", "grep -q 'line 1' f.txt\n")
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "start")
    project.write(".uet/router.yaml", """
        tools:
          editor:
            command: [sh, "{root}/edit.sh"]
            capabilities: [code_edit]
    """)
    project.write("ws.yaml", """
        name: revisable
        steps:
          - id: edit
            kind: code_edit
            tool: editor
            produces: patch
            gate: check
            {review}
        gates:
          check: [[sh, "{root}/check.sh"]]
    """.replace("{review}", review))
    project.uet("run", "--plain", str(project.root / "ws.yaml"), timeout=120, check=True)
    return project


def rows(db: Path, sql: str, *args: Any) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def comments(db: Path) -> list[tuple]:
    return rows(db, "SELECT patch_id, path, line, hunk, body, by, submitted_at IS NULL FROM patch_comments ORDER BY id")


def patches(db: Path) -> list[tuple]:
    return rows(db, "SELECT id, state, round, round_kind, parent_id, superseded_by FROM patches ORDER BY round, created_at")


async def write_comment(pilot: Any, text: str, scope_moves: tuple[str, ...] = ()) -> None:
    await pilot.press("c")
    await settle(pilot, lambda: isinstance(pilot.app.screen, CommentScreen))
    if scope_moves:
        await pilot.press(*scope_moves)
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")


def test_a_line_comment_then_request_changes_runs_round_two(project: Project) -> None:
    repo = revisable_repo(project)
    app = make_app(repo.root, repo.db, live=False)
    who = operator()

    async def scenario(pilot: Any, screen: PatchesScreen) -> None:
        view = screen.query_one(DiffView)
        first = screen.patch
        assert first is not None and first.state.value == "gate_passed" and first.round == 1
        await pilot.press("J", "J", "J", "K")
        assert view.current_line == ("f.txt", 2), "line 1 (context), line 2 (changed), line 3, back to line 2"
        await write_comment(pilot, "say it in digits")
        await settle(pilot, lambda: len(screen.comments) == 1)
        assert comments(repo.db) == [(first.id, "f.txt", 2, None, "say it in digits", who, 1)]
        drawn = ["".join(s.text for s in view.render_line(y)) for y in range(view.size.height)]
        at = next(n for n, line in enumerate(drawn) if "line two" in line)
        assert "✎ draft line 2: say it in digits" in drawn[at + 1], "the draft is drawn under its line"

        await pilot.press("C")
        await settle(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
        await answer(pilot, "")
        # The screen reads the patch again once the revision's background engine is started; that
        # engine's round can already have replaced it (superseded) by then, on a loaded machine.
        await settle(pilot, lambda: screen.patch is not None
                     and screen.patch.state.value in ("changes_requested", "superseded"), timeout=30)
        assert comments(repo.db) == [(first.id, "f.txt", 2, None, "say it in digits", who, 0)], "submitted"

        def round_two() -> bool:
            app.poke()
            found = patches(repo.db)
            return len(found) == 2 and found[1][1] == "gate_passed"

        await settle(pilot, round_two, timeout=90)
        second = patches(repo.db)[1]
        assert patches(repo.db)[0] == (first.id, "superseded", 1, "first", None, second[0])
        assert second[1:5] == ("gate_passed", 2, "revision", first.id)

        await pilot.press("escape")
        table = screen.query_one("#list", LineTable)
        await settle(pilot, lambda: table.keys == [second[0]])
        cells = table.row(second[0])
        assert cells is not None and str(cells[0]) == "✔ gate_passed" and str(cells[2]) == "2/3"
        assert "1 old round(s) hidden" in str(table.border_title)
        await pilot.press("o")
        await settle(pilot, lambda: set(table.keys) == {first.id, second[0]})
        assert str(table.row(first.id)[0]) == "⇢ superseded"
        table.move_to(second[0])
        await pilot.press("enter")
        await settle(pilot, lambda: screen.patch is not None and screen.patch.id == second[0] and bool(view.units))
        assert "round 2 of 3" in str(screen.query_one("#summary").render())
        assert "line nineteen" in str(view.files[0].hunks[-1].lines), "against the base: both changes"

        await pilot.press("i")
        await settle(pilot, lambda: screen.interdiff is not None)
        assert [h.lines for f in view.files for h in f.hunks] == [
            (" line 1", "-line two", "+line 2, as asked", " line 3", " line 4", " line 5")]
        assert "Round 1 → 2" in str(view.border_title)
        await pilot.press("i")
        assert screen.interdiff is None and len(view.units) == 2

    review(app, scenario)
    run = wait_for(lambda: [r for r in repo.runs() if r["state"] != "running" and r["engine"] is None],
                   timeout=60, what="the revision round's engine to finish")
    assert run[0]["state"] == "succeeded"


def test_comments_on_a_hunk_a_file_and_the_whole_patch_esc_writes_nothing_and_x_drops_one(project: Project) -> None:
    repo = revisable_repo(project)
    app = make_app(repo.root, repo.db, live=False)

    async def scenario(pilot: Any, screen: PatchesScreen) -> None:
        patch = screen.patch
        assert patch is not None
        await pilot.press("n")
        await write_comment(pilot, "second hunk")           # no line cursor: the hunk comes first
        await settle(pilot, lambda: len(screen.comments) == 1)
        await write_comment(pilot, "the file", ("down",))
        await settle(pilot, lambda: len(screen.comments) == 2)
        await write_comment(pilot, "all of it", ("up",))    # up from the first wraps to the whole patch
        await settle(pilot, lambda: len(screen.comments) == 3)
        await pilot.press("c")
        await settle(pilot, lambda: isinstance(pilot.app.screen, CommentScreen))
        pilot.app.screen.query_one(Input).value = "never mind"
        await pilot.press("escape")
        await settle(pilot, lambda: pilot.app.screen is screen)
        await pilot.press("c")
        await settle(pilot, lambda: isinstance(pilot.app.screen, CommentScreen))
        await pilot.press("enter")
        assert isinstance(pilot.app.screen, CommentScreen), "an empty comment is not taken"
        await pilot.press("escape")
        assert [c[1:5] for c in comments(repo.db)] == [("f.txt", None, 1, "second hunk"), ("f.txt", None, None, "the file"),
                                                       (None, None, None, "all of it")]
        assert screen.patch is not None and screen.patch.state.value == "gate_passed"
        await pilot.press("x")                              # the draft on the current hunk
        await answer(pilot, "")
        await settle(pilot, lambda: len(screen.comments) == 2)
        await pilot.press("x")                              # none left on the hunk: the file's
        await answer(pilot, "")
        await settle(pilot, lambda: len(screen.comments) == 1)
        assert [c[1:5] for c in comments(repo.db)] == [(None, None, None, "all of it")]

    review(app, scenario)


def test_requesting_changes_without_any_comment_asks_for_one(project: Project) -> None:
    repo = revisable_repo(project)
    app = make_app(repo.root, repo.db, live=False)

    async def scenario(pilot: Any, screen: PatchesScreen) -> None:
        await pilot.press("C")
        await answer(pilot, "")
        assert isinstance(pilot.app.screen, AskScreen), "no drafts: the request needs a comment"
        await pilot.press("escape")
        await settle(pilot, lambda: pilot.app.screen is screen)
        assert comments(repo.db) == []
        assert [p[1] for p in patches(repo.db)] == ["gate_passed"]

    review(app, scenario)


def test_a_refused_request_says_why_and_changes_nothing(project: Project) -> None:
    repo = revisable_repo(project, review="review: {max_rounds: 1}")
    app = make_app(repo.root, repo.db, live=False)

    async def scenario(pilot: Any, screen: PatchesScreen) -> None:
        patch = screen.patch
        assert patch is not None
        assert "round 1 of 1" in str(screen.query_one("#summary").render())
        await write_comment(pilot, "once more")
        await settle(pilot, lambda: len(screen.comments) == 1)
        await pilot.press("C")
        await answer(pilot, "")
        await settle(pilot, lambda: screen.busy is None and bool(pilot.app._notifications))
        said = [n.message for n in pilot.app._notifications]
        assert any("is round 1 of 1 (review.max_rounds of step edit)" in m for m in said), said
        assert [p[1] for p in patches(repo.db)] == ["gate_passed"]
        assert [c[6] for c in comments(repo.db)] == [1], "the comment is still a draft"

    review(app, scenario)


# -- appearance, over a fixed store ------------------------------------------------------------------

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture
def rounds_db(tmp_path: Path) -> Path:
    """The fixed patches store, where the first patch (three hunks) has two draft comments, one
    under line 12 of src/calc.py and one on the whole patch, and a second round of the failed patch
    replaced it, with changes requested on that one."""
    from tests.tui import stores

    (tmp_path / ".uet").mkdir()
    db = stores.patches(tmp_path / ".uet" / "uet.db")
    with sqlite3.connect(db) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM patches ORDER BY created_at DESC")]
        failed = conn.execute("SELECT id FROM patches WHERE state = 'gate_failed'").fetchone()[0]
        conn.execute("UPDATE patches SET state = 'superseded', superseded_by = 'p2r0und2aa' WHERE id = ?", (failed,))
        conn.execute(
            "INSERT INTO patches (id, run_id, step_id, attempt, state, base_commit, diff, sha256, files, added, removed, "
            "gate, round, parent_id, worktree, created_at, updated_at, decided_by, reason, round_kind) "
            "SELECT 'p2r0und2aa', run_id, step_id, attempt + 1, 'changes_requested', base_commit, diff, sha256, files, "
            "added, removed, gate, 2, id, NULL, created_at + 10, updated_at + 10, 'ana', '1 comment(s) for round 3', "
            "'fix' FROM patches WHERE id = ?", (failed,))
        first = ids[0]
        for path, line, body in (("src/calc.py", 12, "say why 0 comes first"), (None, None, "split the tests out")):
            conn.execute("INSERT INTO patch_comments (patch_id, path, line, hunk, body, context, by, created_at) "
                         "VALUES (?, ?, ?, NULL, ?, '', 'ana', ?)", (first, path, line, body, stores.NOW))
    return db


def fixed(db: Path) -> UetApp:
    from tests.tui import stores

    return make_app(db.parent.parent, db, clock=lambda: stores.NOW, live=False)


async def rounds_list(pilot: Any) -> None:
    await pilot.pause()
    await pilot.press("P")
    await settle(pilot, lambda: isinstance(pilot.app.screen, PatchesScreen)
                 and len(pilot.app.screen.query_one("#list", LineTable).keys) == 4)
    await pilot.press("o")
    await settle(pilot, lambda: len(pilot.app.screen.query_one("#list", LineTable).keys) == 5)
    await pilot.pause()


async def commenting(pilot: Any) -> None:
    await pilot.pause()
    await pilot.press("P")
    screen = pilot.app.screen
    await settle(pilot, lambda: isinstance(pilot.app.screen, PatchesScreen)
                 and len(pilot.app.screen.query_one("#list", LineTable).keys) == 4)
    screen = pilot.app.screen
    await pilot.press("enter")
    await settle(pilot, lambda: screen.patch is not None and len(screen.comments) == 2)
    await pilot.press("J", "J")
    await pilot.press("c")
    await settle(pilot, lambda: isinstance(pilot.app.screen, CommentScreen))
    field = pilot.app.screen.query_one(Input)
    field.value = "why 2 and not 3?"
    field.cursor_blink = False  # a picture taken mid-blink would differ from the next
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_rounds_list_snapshot(snap_compare: Any, rounds_db: Path, size: tuple[int, int]) -> None:
    assert snap_compare(fixed(rounds_db), terminal_size=size, run_before=rounds_list)


@pytest.mark.parametrize("size", SIZES)
def test_comment_snapshot(snap_compare: Any, rounds_db: Path, size: tuple[int, int]) -> None:
    assert snap_compare(fixed(rounds_db), terminal_size=size, run_before=commenting)


@pytest.mark.parametrize("size", SIZES)
def test_review_with_drafts_snapshot(snap_compare: Any, rounds_db: Path, size: tuple[int, int]) -> None:
    async def drafts(pilot: Any) -> None:
        await commenting(pilot)
        await pilot.press("escape", "n", "J", "J", "J", "J")  # to line 12, which has a draft under it
        await pilot.pause()

    assert snap_compare(fixed(rounds_db), terminal_size=size, run_before=drafts)


def test_drafts_are_drawn_where_they_point_in_both_layouts(rounds_db: Path) -> None:
    app = fixed(rounds_db)

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await commenting(pilot)
            await pilot.press("escape")
            screen = app.screen
            assert isinstance(screen, PatchesScreen)
            view = screen.query_one(DiffView)
            for split in (False, True):
                view.forced = split
                view._cache.clear()
                drawn = [r for r in view.rows if r.kind == "note"]
                assert [r.text for r in drawn] == ["✎ draft patch: split the tests out",
                                                   "✎ draft line 12: say why 0 comes first"]
                assert view.rows[0].kind == "note", "a whole-patch comment goes on top"
                at = view.rows.index(drawn[1])
                assert view.rows[at - 1].kind in ("add", "ctx", "pair") and view.rows[at - 1].file == 0

    asyncio.run(main())


def test_the_round_keys_are_in_the_footer_and_the_help(rounds_db: Path) -> None:
    from textual.widgets import Footer

    from tui.screens.help import HelpScreen

    app = fixed(rounds_db)

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await commenting(pilot)
            await pilot.press("escape")
            screen = app.screen
            assert isinstance(screen, PatchesScreen)
            footer = " ".join(str(key.render()) for key in screen.query_one(Footer).query("FooterKey"))
            assert "Comment" in footer and "Request changes" in footer
            await pilot.press("question_mark")
            await settle(pilot, lambda: isinstance(app.screen, HelpScreen))
            keys = app.screen.query_one(LineTable).keys
            assert {"patches.comment", "patches.request_changes", "patches.interdiff", "diff.next_line",
                    "diff.prev_line"} <= set(keys)

    asyncio.run(main())
