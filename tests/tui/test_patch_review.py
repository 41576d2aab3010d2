"""Reviewing a real patch in a real git repository through the dashboard, as a person would:
P opens the patches, Enter the review; n/p and ]/[ move over hunks and files, space selects a
hunk, s approves the selection as a new patch that is gated again, a approves it and A applies
it, and the working tree then holds exactly that hunk's change. Rejecting needs a reason;
approving over a failed gate needs a written override; g runs the gate again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from engine.session import operator
from tests.conftest import Project
from tests.engine.patch_repos import LINES
from tests.engine.patch_repos import two_hunk_repo as make_repo
from tests.tui.test_dashboard import settle
from tui.app import UetApp, make_app
from tui.screens.apply import ApplyScreen
from tui.screens.ask import AskScreen
from tui.screens.patches import PatchesScreen
from tui.widgets.diff_view import DiffView
from tui.widgets.line_table import LineTable

pytestmark = pytest.mark.slow

def review(app: UetApp, scenario: Callable[[Any, PatchesScreen], Awaitable[None]]) -> None:
    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("P")
            await settle(pilot, lambda: isinstance(app.screen, PatchesScreen)
                         and bool(app.screen.query_one("#list", LineTable).keys))
            screen = app.screen
            assert isinstance(screen, PatchesScreen)
            await pilot.press("enter")
            await settle(pilot, lambda: screen.patch is not None and bool(screen.query_one(DiffView).units))
            await scenario(pilot, screen)

    asyncio.run(main())


async def answer(pilot: Any, text: str) -> None:
    """Type into the question that is open and press Enter."""
    await settle(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")


def moves(project: Project, run_id: str) -> list[tuple[str, str, str]]:
    events = [json.loads(e) for e in project.uet("logs", run_id, "--json", check=True).stdout.splitlines()]
    return [(e["data"]["patch"], e["data"]["to"], e["data"]["by"]) for e in events if e["kind"] == "patch.state"]


def test_approving_one_hunk_applies_exactly_that_hunk(project: Project) -> None:
    repo = make_repo(project)
    app = make_app(repo.root, repo.db, live=False)
    seen: dict[str, Any] = {}

    async def scenario(pilot: Any, screen: PatchesScreen) -> None:
        view = screen.query_one(DiffView)
        original = screen.patch
        assert original is not None and original.state.value == "gate_passed"
        assert view.units == ["0.0", "0.1"] and view.current_unit == "0.0"
        await pilot.press("n")
        assert view.current_unit == "0.1"
        await pilot.press("p", "n", "space")
        assert view.selected == {"0.1"}
        await pilot.press("v")
        assert view.viewed == {0}
        await pilot.press("s")
        await answer(pilot, "only the second change")
        # chosen to approve: once its gate passes the new patch is approved, no second approve
        await settle(pilot, lambda: screen.patch is not None and screen.patch.parent_id == original.id
                     and screen.patch.state.value == "approved", timeout=30)
        new = screen.patch
        assert view.units == ["0.0"] and (new.added, new.removed) == (1, 1)
        assert [g.outcome for g in screen.gates] == ["succeeded"]
        await pilot.press("A")  # a plain confirm: Enter applies
        await settle(pilot, lambda: isinstance(pilot.app.screen, ApplyScreen))
        await pilot.press("enter")
        await settle(pilot, lambda: screen.patch is not None and screen.patch.state.value == "applied")
        await pilot.press("escape")
        await settle(pilot, lambda: set(screen.query_one("#list", LineTable).keys) == {original.id, new.id})
        seen.update(original=original, new=new)

    review(app, scenario)
    text = (repo.root / "f.txt").read_text()
    assert "line nineteen" in text and "line two" not in text
    assert text == LINES.replace("line 19\n", "line nineteen\n")
    original, new = seen["original"], seen["new"]
    who = operator()
    recorded = moves(repo, original.run_id)
    assert (original.id, "rejected", who) in recorded
    assert [m[1:] for m in recorded if m[0] == new.id] == [
        ("proposed", who), ("gating", who), ("gate_passed", "uet"), ("approved", who), ("applied", who)]


def test_rejecting_needs_a_reason(project: Project) -> None:
    repo = make_repo(project)
    app = make_app(repo.root, repo.db, live=False)

    async def scenario(pilot: Any, screen: PatchesScreen) -> None:
        await pilot.press("r")
        await answer(pilot, "")
        assert isinstance(pilot.app.screen, AskScreen), "an empty reason is not taken"
        await answer(pilot, "the second edit is wrong")
        await settle(pilot, lambda: screen.patch is not None and screen.patch.state.value == "rejected")
        assert screen.patch.reason == "the second edit is wrong" and screen.patch.decided_by == operator()

    review(app, scenario)
    assert (repo.root / "f.txt").read_text() == LINES


def test_a_failed_gate_needs_a_written_override_and_can_be_run_again(project: Project) -> None:
    repo = make_repo(project, gate_passes=False)
    app = make_app(repo.root, repo.db, live=False)

    async def scenario(pilot: Any, screen: PatchesScreen) -> None:
        assert screen.patch is not None and screen.patch.state.value == "gate_failed"
        assert "check: not yet" in str(screen.query_one("#gate-text").render())
        await pilot.press("g")
        await settle(pilot, lambda: len(screen.gates) == 2, timeout=30)
        assert screen.patch.state.value == "gate_failed" and [g.round for g in screen.gates] == [1, 2]
        await pilot.press("a")
        await answer(pilot, "")
        assert isinstance(pilot.app.screen, AskScreen), "approving over a failed gate needs a written override"
        await answer(pilot, "checked by hand: the gate is wrong")
        await settle(pilot, lambda: screen.patch is not None and screen.patch.state.value == "approved")
        assert screen.patch.reason == "override: checked by hand: the gate is wrong"

    review(app, scenario)


# -- appearance, over a fixed store ------------------------------------------------------------------

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture
def patches_db(tmp_path: Path) -> Path:
    from tests.tui import stores

    (tmp_path / ".uet").mkdir()
    return stores.patches(tmp_path / ".uet" / "uet.db")


def fixed(db: Path) -> UetApp:
    from tests.tui import stores

    return make_app(db.parent.parent, db, clock=lambda: stores.NOW, live=False)


async def patch_list(pilot: Any) -> None:
    await pilot.pause()
    await pilot.press("P")
    await settle(pilot, lambda: isinstance(pilot.app.screen, PatchesScreen)
                 and len(pilot.app.screen.query_one("#list", LineTable).keys) == 4)
    await pilot.pause()


async def opened(pilot: Any) -> None:
    await patch_list(pilot)
    await pilot.press("enter")
    screen = pilot.app.screen
    await settle(pilot, lambda: screen.patch is not None and screen.query_one(DiffView).units == ["0.0", "0.1", "1.0"])
    await pilot.press("n", "space", "v")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_patch_list_snapshot(snap_compare: Any, patches_db: Path, size: tuple[int, int]) -> None:
    assert snap_compare(fixed(patches_db), terminal_size=size, run_before=patch_list)


@pytest.mark.parametrize("size", SIZES)
def test_diff_review_snapshot(snap_compare: Any, patches_db: Path, size: tuple[int, int]) -> None:
    assert snap_compare(fixed(patches_db), terminal_size=size, run_before=opened)


def test_diff_review_side_by_side_snapshot(snap_compare: Any, patches_db: Path) -> None:
    assert snap_compare(fixed(patches_db), terminal_size=(210, 30), run_before=opened)


@pytest.mark.parametrize("size", SIZES)
def test_failed_gate_review_snapshot(snap_compare: Any, patches_db: Path, size: tuple[int, int]) -> None:
    async def failed(pilot: Any) -> None:
        await patch_list(pilot)
        await pilot.press("j", "enter")
        screen = pilot.app.screen
        await settle(pilot, lambda: screen.patch is not None and screen.patch.state.value == "gate_failed")
        await pilot.pause()

    assert snap_compare(fixed(patches_db), terminal_size=size, run_before=failed)


# -- the diff view on its own ---------------------------------------------------------------------------


def big_diff(files: int = 4, hunks: int = 320, changed: int = 10) -> str:
    """About 20,000 lines: ``files`` files of ``hunks`` hunks, each replacing ``changed`` lines."""
    out = []
    for f in range(files):
        out += [f"diff --git a/pkg/m{f}.py b/pkg/m{f}.py", f"--- a/pkg/m{f}.py", f"+++ b/pkg/m{f}.py"]
        for h in range(hunks):
            start = h * 100 + 1
            out.append(f"@@ -{start},{changed} +{start},{changed} @@")
            out += [f"-x{n} = {n}" for n in range(changed // 2)] + [f"+x{n} = {n} * 2" for n in range(changed // 2)]
            out += [f" y{n} = {n}" for n in range(changed - changed // 2)]
    return "\n".join(out) + "\n"


def with_view(diff: str, check: Callable[[Any, DiffView], Awaitable[None]], size: tuple[int, int] = (100, 30)) -> None:
    from textual.app import App, ComposeResult

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield DiffView()

    async def main() -> None:
        app = Host()
        async with app.run_test(size=size) as pilot:
            view = app.query_one(DiffView)
            view.focus()
            view.set_diff(diff)
            await pilot.pause()
            await check(pilot, view)

    asyncio.run(main())


def test_a_twenty_thousand_line_diff_renders_only_what_is_on_screen() -> None:
    diff = big_diff()
    assert diff.count("\n") > 20_000

    async def check(pilot: Any, view: DiffView) -> None:
        assert len(view.units) == 1_280
        assert len(view._cache) <= view.size.height, "only the visible lines are drawn"
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert view.current_unit == "2.0"
        await pilot.press("n", "space")
        assert view.selected == {"2.1"}
        top = view.scroll_offset.y
        assert top <= view.row_of("2.1") < top + view.size.height
        assert len(view._cache) <= 3 * view.size.height

    with_view(diff, check)


def test_the_gutter_reads_without_colour_and_control_characters_never_reach_the_terminal() -> None:
    diff = ("diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n keep\n"
            "-old \x1b[31mred\n+new\tline\n")

    async def check(pilot: Any, view: DiffView) -> None:
        lines = ["".join(s.text for s in view.render_line(y)) for y in range(5)]
        assert lines[0].startswith("━━ a.txt (modified) +1 -1")
        assert lines[1].startswith("▶ [ ] @@ -1,2 +1,2 @@")
        assert lines[2].rstrip() == "    1     1   keep"
        assert lines[3].rstrip() == "    2       - old \ufffd[31mred"
        assert lines[4].rstrip() == "          2 + new line"
        assert not view.split
        await pilot.press("t")
        assert view.split
        pair = "".join(s.text for s in view.render_line(3))
        assert "- old" in pair and "+ new" in pair

    with_view(diff, check)


def test_side_by_side_is_automatic_from_160_columns() -> None:
    async def check(pilot: Any, view: DiffView) -> None:
        assert view.split

    with_view(TWO_FILE_DIFF, check, size=(170, 20))


TWO_FILE_DIFF = ("diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+b\n"
                 "diff --git a/b.bin b/b.bin\nnew file mode 100644\nBinary files /dev/null and b/b.bin differ\n")


def test_a_decision_made_elsewhere_shows_up_in_the_open_review(project: Project) -> None:
    repo = make_repo(project)
    app = make_app(repo.root, repo.db, live=False)

    async def scenario(pilot: Any, screen: PatchesScreen) -> None:
        assert screen.patch is not None
        patch_id = screen.patch.id
        await asyncio.to_thread(repo.uet, "patch", "reject", patch_id, "--reason", "from the command line", check=True)
        app.poke()  # what the store's change feed does when another process writes
        await settle(pilot, lambda: screen.patch is not None and screen.patch.state.value == "rejected")
        assert screen.patch.reason == "from the command line"
        await pilot.press("question_mark")
        await settle(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen")
        await pilot.press("escape")
        await settle(pilot, lambda: pilot.app.screen is screen)

    review(app, scenario)


def test_the_list_title_says_when_older_patches_are_not_loaded(patches_db: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The list loads the newest LIST_LIMIT patches: its title says so when there are more,
    rather than passing the loaded count for all of them."""
    import tui.screens.patches as screens

    async def scenario(limit: int) -> tuple[str, list[str]]:
        monkeypatch.setattr(screens, "LIST_LIMIT", limit)
        app = fixed(patches_db)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("P")
            await settle(pilot, lambda: isinstance(app.screen, PatchesScreen)
                         and len(app.screen.query_one("#list", LineTable).keys) > 0)
            table = app.screen.query_one("#list", LineTable)
            return str(table.border_title), list(table.keys)

    title, keys = asyncio.run(scenario(2))
    assert title == "Patches (newest 2, all states)" and len(keys) == 2
    title, keys = asyncio.run(scenario(100))
    assert title == "Patches (4, all states)" and len(keys) == 4
