"""Line mode of the patch review: `e` on a hunk lists its lines, space takes a changed line,
`a` approves just those lines as a new patch (gated, then approved), which applies exactly
that line. Snapshot of the line list at 80x24."""

from __future__ import annotations

from typing import Any

import pytest

from engine.patches.lines import changed_lines
from tests.conftest import Project
from tests.engine.patch_repos import LINES
from tests.engine.patch_repos import two_hunk_repo as make_repo
from tests.tui.test_dashboard import settle
from tests.tui.test_patch_review import answer, review
from tui.app import make_app
from tui.cli import main
from tui.screens.hunk_lines import HunkLinesScreen
from tui.screens.patches import PatchesScreen
from tui.widgets.line_table import LineTable

pytestmark = pytest.mark.slow


def test_taking_one_line_of_a_hunk_approves_and_applies_only_that_line(project: Project) -> None:
    repo = make_repo(project)
    app = make_app(repo.root, repo.db, live=False)
    seen: dict[str, Any] = {}

    async def scenario(pilot: Any, screen: PatchesScreen) -> None:
        original = screen.patch
        assert original is not None
        await pilot.press("e")  # hunk 0.0: line 2 → line two
        await settle(pilot, lambda: isinstance(app.screen, HunkLinesScreen))
        lines = app.screen
        minus, plus = changed_lines(lines.hunk)
        assert (lines.hunk.lines[minus - 1], lines.hunk.lines[plus - 1]) == ("-line 2", "+line two")
        table = lines.query_one("#lines", LineTable)
        assert table.cursor_key == str(minus)
        await pilot.press("space", "down", "space", "up", "space")  # take -, take +, leave - again
        assert lines.chosen == {plus}
        assert str(table.row(str(plus))[0]) == "[x]" and str(table.row(str(minus))[0]) == "[ ]"
        await pilot.press("a")
        await answer(pilot, "keep the old line too")
        await settle(pilot, lambda: screen.patch is not None and screen.patch.parent_id == original.id
                     and screen.patch.state.value == "approved", timeout=30)
        seen["new"] = screen.patch

    review(app, scenario)
    new = seen["new"]
    assert (new.added, new.removed) == (1, 0)
    assert main(["patch", "apply", new.id, "--db", str(repo.db), "--project", str(repo.root)]) == 0
    assert (repo.root / "f.txt").read_text() == LINES.replace("line 2\n", "line 2\nline two\n")


def test_hunk_lines_snapshot(snap_compare: Any) -> None:
    from textual.app import App

    from engine.patches.diffs import parse

    diff = ("diff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -3,4 +3,5 @@ def f():\n line 3\n-line 4\n"
            "+line four\n line 5\n line 6\n+line 6.5\n")
    [hunk] = parse(diff)[0].hunks

    class One(App[None]):
        def on_mount(self) -> None:
            screen = HunkLinesScreen("f.txt", hunk)
            screen.chosen = {3}
            self.push_screen(screen)

    assert snap_compare(One(), terminal_size=(80, 24))


def test_apply_confirm_snapshot(snap_compare: Any) -> None:
    """Applying is a plain confirm: y or Enter, c to commit too; nothing to type."""
    from textual.app import App

    from tui.screens.apply import ApplyScreen

    class One(App[None]):
        def on_mount(self) -> None:
            self.push_screen(ApplyScreen("Apply patch 4aa4c0de to the working tree (1 file(s), +1 -0)?"))

    assert snap_compare(One(), terminal_size=(80, 24))
