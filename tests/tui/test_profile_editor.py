"""The profile editor (E on the dashboard): built-ins copied into the project, YAML edited and
checked as it is typed, problems at their line, only valid profiles saved (drafts otherwise),
changes on disk noticed, new profiles from a template, and the bootstrap preview."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from engine.profiles import builtin_dir, local_dir, project_copy
from tui.app import make_app
from tui.screens.confirm import ConfirmScreen
from tui.screens.profiles import TEMPLATE, ProfilesScreen
from tui.screens.text import TextScreen
from tui.widgets.line_table import LineTable
from tui.widgets.yaml_editor import YamlEditor

MINE = """\
# our own profile: this comment must survive saving
name: mine
extends: generic
description: Ours.
priority: 5
"""

EXTRA_PHASE = """\
phases:
  extra:
    description: One more workstream.
    steps:
      - {id: hello, run: [echo, hi]}
"""

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / ".uet").mkdir()
    return tmp_path


def app_for(root: Path):  # noqa: ANN201
    return make_app(root, root / ".uet" / "uet.db", live=False)


async def settle(pilot: Any, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for the screen to reach a state (its debounce, workers and messages), not a clock."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "the screen did not get there"
        await pilot.pause(0.02)


def drive(root: Path, scenario: Callable[[Any, ProfilesScreen], Awaitable[None]],
          size: tuple[int, int] = (80, 24)) -> None:
    async def main() -> None:
        app = app_for(root)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await pilot.press("E")
            await settle(pilot, lambda: isinstance(app.screen, ProfilesScreen))
            await scenario(pilot, app.screen)

    asyncio.run(main())


def editor(screen: ProfilesScreen) -> YamlEditor:
    return screen.query_one(YamlEditor)


async def highlight(pilot: Any, screen: ProfilesScreen, key: str) -> None:
    """Move the list's cursor to ``key`` with the arrow keys."""
    table = screen.query_one("#profiles", LineTable)
    table.focus()
    await pilot.press("home")
    for _ in range(len(table.keys)):
        if table.cursor_key == key:
            return
        await pilot.press("down")
    assert table.cursor_key == key


async def open_profile(pilot: Any, screen: ProfilesScreen, key: str) -> None:
    await highlight(pilot, screen, key)
    await pilot.press("enter")
    await checked(pilot, screen)


async def checked(pilot: Any, screen: ProfilesScreen) -> None:
    """The debounced validation of the editor's current text has been shown."""
    await settle(pilot, lambda: screen.problems_for == editor(screen).text)


async def replace_line_end(pilot: Any, screen: ProfilesScreen, line: int, old: str, new: str) -> None:
    """On ``line`` (1-based), delete ``old`` at its end and type ``new``, as a user would."""
    area = editor(screen)
    area.focus()
    area.move_cursor((line - 1, len(area.document.get_line(line - 1))))
    await pilot.press(*["backspace"] * len(old), *new)


def write_mine(root: Path) -> Path:
    """The project's own profile `mine` (MINE), as a user would have it in .uet/profiles/."""
    mine = local_dir(root) / "mine.yaml"
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_text(MINE, encoding="utf-8")
    return mine


def line_of(text: str, start: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def status(screen: ProfilesScreen) -> str:
    return str(screen.query_one("#status").render())


def test_copy_a_builtin_break_it_see_the_line_fix_it_and_save(root: Path) -> None:
    builtin_text = project_copy((builtin_dir() / "generic.yaml").read_text(encoding="utf-8"))
    copy = local_dir(root) / "generic.yaml"
    bad_line = line_of(builtin_text, "priority:")
    priority = builtin_text.splitlines()[bad_line - 1].removeprefix("priority:").strip()

    async def scenario(pilot: Any, screen: ProfilesScreen) -> None:
        await highlight(pilot, screen, "builtin:generic")
        await pilot.press("c")
        await checked(pilot, screen)
        assert copy.read_text(encoding="utf-8") == builtin_text
        assert screen.current is not None and screen.current.kind == "local" and screen.current.overrides
        assert "local:generic" in screen.entries and "overrides" in status(screen) and "✔ valid" in status(screen)

        await replace_line_end(pilot, screen, bad_line, priority, "high")
        await checked(pilot, screen)
        [problem] = screen.problems
        assert (problem.line, problem.field) == (bad_line, "priority")
        assert bad_line in editor(screen).problem_lines
        assert "✘ 1 problem(s)" in status(screen) and "modified" in status(screen)
        cells = screen.query_one("#problems", LineTable).cells(problem)  # type: ignore[misc]
        assert cells[0] == f"✘ {bad_line}" and cells[1].startswith("priority: ")

        await pilot.press("ctrl+s")
        await pilot.pause()
        assert copy.read_text(encoding="utf-8") == builtin_text, "an invalid profile must not be saved"

        editor(screen).move_cursor((0, 0))
        screen.query_one("#problems", LineTable).focus()
        await pilot.press("enter")
        assert editor(screen).cursor_location[0] == bad_line - 1 and editor(screen).has_focus

        await replace_line_end(pilot, screen, bad_line, "high", "-50")
        await checked(pilot, screen)
        assert screen.problems == [] and not editor(screen).problem_lines
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = copy.read_text(encoding="utf-8")
        assert saved == editor(screen).text == builtin_text.replace(f"priority: {priority}", "priority: -50")
        assert "# Any repository, and the one for languages" in saved, "comments are kept"
        assert "modified" not in status(screen)

    drive(root, scenario)


def test_an_invalid_profile_can_be_kept_as_a_draft_then_saved(root: Path) -> None:
    mine = write_mine(root)
    draft = mine.with_name("mine.yaml.draft")

    async def scenario(pilot: Any, screen: ProfilesScreen) -> None:
        await open_profile(pilot, screen, "local:mine")
        await replace_line_end(pilot, screen, 5, "5", "five")
        await checked(pilot, screen)
        assert screen.problems
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert draft.read_text(encoding="utf-8") == editor(screen).text
        assert mine.read_text(encoding="utf-8") == MINE
        assert "draft:mine" in screen.entries and "DRAFT" in status(screen)
        table = screen.query_one("#profiles", LineTable)
        assert table.cells(screen.entries["draft:mine"])[1:] == ("mine", "DRAFT")  # type: ignore[misc]

        await replace_line_end(pilot, screen, 5, "five", "7")
        await checked(pilot, screen)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert mine.read_text(encoding="utf-8") == MINE.replace("priority: 5", "priority: 7")
        assert not draft.exists() and "draft:mine" not in screen.entries

    drive(root, scenario)


async def change_on_disk(pilot: Any, screen: ProfilesScreen, path: Path, text: str) -> None:
    """Write ``path`` from outside until the screen notices (the watcher may still be starting)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not screen.disk_pending:
        assert loop.time() < deadline, "the change on disk was not noticed"
        path.write_text(text, encoding="utf-8")
        await pilot.pause(0.2)


def test_a_change_on_disk_is_reported_and_can_be_reloaded(root: Path) -> None:
    mine = write_mine(root)
    theirs = MINE.replace("Ours.", "Theirs.")

    async def scenario(pilot: Any, screen: ProfilesScreen) -> None:
        await open_profile(pilot, screen, "local:mine")
        await change_on_disk(pilot, screen, mine, theirs)
        banner = screen.query_one("#disk")
        assert banner.display and "changed on disk" in str(banner.render()) and "ctrl+r reload" in str(banner.render())
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert mine.read_text(encoding="utf-8") == theirs, "saving waits for reload or keep-mine"
        await pilot.press("ctrl+r")
        await checked(pilot, screen)
        assert editor(screen).text == theirs and not banner.display and not screen.dirty

    drive(root, scenario)


def test_keep_mine_keeps_the_editor_text_and_saving_replaces_the_file(root: Path) -> None:
    mine = write_mine(root)

    async def scenario(pilot: Any, screen: ProfilesScreen) -> None:
        await open_profile(pilot, screen, "local:mine")
        await replace_line_end(pilot, screen, 5, "5", "6")
        await change_on_disk(pilot, screen, mine, MINE.replace("Ours.", "Theirs."))
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert not screen.query_one("#disk").display and screen.dirty
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert mine.read_text(encoding="utf-8") == MINE.replace("priority: 5", "priority: 6")

    drive(root, scenario)


def test_copy_asks_before_replacing_a_project_file(root: Path) -> None:
    ours = local_dir(root) / "generic.yaml"
    ours.parent.mkdir(parents=True)
    ours.write_text("name: generic\nextends: generic\ndescription: Ours.\n", encoding="utf-8")

    async def scenario(pilot: Any, screen: ProfilesScreen) -> None:
        assert screen.query_one("#profiles", LineTable).cells(screen.entries["builtin:generic"])[2] == "replaced"  # type: ignore[misc]
        await highlight(pilot, screen, "builtin:generic")
        await pilot.press("c")
        await settle(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.press("n")
        await settle(pilot, lambda: pilot.app.screen is screen)
        assert "Ours." in ours.read_text(encoding="utf-8")
        await pilot.press("c")
        await settle(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.press("y")
        await checked(pilot, screen)
        assert ours.read_text(encoding="utf-8") == project_copy((builtin_dir() / "generic.yaml").read_text(encoding="utf-8"))

    drive(root, scenario)


def test_leaving_with_unsaved_text_asks_first(root: Path) -> None:
    mine = write_mine(root)

    async def scenario(pilot: Any, screen: ProfilesScreen) -> None:
        await open_profile(pilot, screen, "local:mine")
        await replace_line_end(pilot, screen, 5, "5", "6")
        screen.query_one("#profiles", LineTable).focus()
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.press("escape")  # Esc answers no: the text stays
        await settle(pilot, lambda: pilot.app.screen is screen)
        assert editor(screen).text == MINE.replace("priority: 5", "priority: 6")
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.press("y")
        await settle(pilot, lambda: not isinstance(pilot.app.screen, (ConfirmScreen, ProfilesScreen)))
        assert mine.read_text(encoding="utf-8") == MINE

    drive(root, scenario)


def test_builtins_are_read_only(root: Path) -> None:
    async def scenario(pilot: Any, screen: ProfilesScreen) -> None:
        await open_profile(pilot, screen, "builtin:generic")
        assert editor(screen).read_only and "read-only" in status(screen)
        assert editor(screen).language == "yaml", "highlighting comes with textual[syntax]"
        await pilot.press("ctrl+s", "ctrl+d")
        await pilot.pause()
        assert not local_dir(root).exists()

    drive(root, scenario)


def test_a_new_profile_starts_from_a_valid_template(root: Path) -> None:
    async def scenario(pilot: Any, screen: ProfilesScreen) -> None:
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"svc", "enter")
        await checked(pilot, screen)
        assert editor(screen).text == TEMPLATE.format(name="svc")
        assert screen.problems == [] and "new, not saved" in status(screen)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert (local_dir(root) / "svc.yaml").read_text(encoding="utf-8") == TEMPLATE.format(name="svc")
        assert "local:svc" in screen.entries

    drive(root, scenario)


def test_preview_shows_what_bootstrap_would_write_from_the_unsaved_text(root: Path) -> None:
    (root / "README.md").write_text("# a project\n", encoding="utf-8")
    write_mine(root)

    async def scenario(pilot: Any, screen: ProfilesScreen) -> None:
        await open_profile(pilot, screen, "local:mine")
        area = editor(screen)
        area.insert(EXTRA_PHASE, area.document.end)
        await pilot.pause()
        await pilot.press("escape")  # out of the editor: p is a command again
        await pilot.press("p")
        await settle(pilot, lambda: isinstance(pilot.app.screen, TextScreen))
        preview = pilot.app.screen
        headers = [line for line in preview.text.splitlines() if line.startswith("=== ")]
        assert headers == ["=== .uet/workstreams/check.yaml (new)", "=== .uet/workstreams/extra.yaml (new)",
                           "=== .uet/router.yaml (new)"], "the preview uses the unsaved text"
        extra = preview.text.split("=== .uet/workstreams/extra.yaml (new)\n", 1)[1].split("\n=== ", 1)[0]
        assert "\nname: extra\ndescription: One more workstream.\n" in extra
        assert extra.endswith("\nsteps:\n- id: hello\n  run: [echo, hi]\n"), extra
        files = [line.removeprefix("=== ").removesuffix(" (new)") for line in headers]
        assert not any((root / file).exists() for file in files), "a preview writes nothing"
        assert "Dry run" in str(preview.query_one("#text-summary").render())
        await pilot.press("escape")
        await settle(pilot, lambda: pilot.app.screen is screen)

    drive(root, scenario)


def test_the_list_checks_every_file_and_describes_the_highlighted_one(root: Path) -> None:
    fixed_project(root)

    async def scenario(pilot: Any, screen: ProfilesScreen) -> None:
        await settle(pilot, lambda: len(screen.checked) == len(screen.entries))
        table = screen.query_one("#profiles", LineTable)
        assert table.cells(screen.entries["local:mine"]) == ("✘", "mine", "local")  # type: ignore[misc]
        assert table.cells(screen.entries["local:generic"]) == ("✔", "generic", "overrides")  # type: ignore[misc]
        await highlight(pilot, screen, "local:mine")
        assert "1 problem(s); line 5" in str(screen.query_one("#about").render())
        await highlight(pilot, screen, "local:generic")
        assert str(screen.query_one("#about").render()) == "extends generic · Ours."

    drive(root, scenario)


def test_show_resolves_the_profile_as_bootstrap_uses_it(root: Path) -> None:
    fixed_project(root)

    async def scenario(pilot: Any, screen: ProfilesScreen) -> None:
        await highlight(pilot, screen, "local:generic")
        await pilot.press("s")
        await settle(pilot, lambda: isinstance(pilot.app.screen, TextScreen))
        shown = pilot.app.screen
        assert "description: Ours." in shown.text and "sim-reviewer" in shown.text, "extends is applied"
        assert "resolved from: .uet/profiles/generic.yaml → built-in generic" in str(
            shown.query_one("#text-summary").render())

    drive(root, scenario)


# -- how it looks ----------------------------------------------------------------------------


def fixed_project(root: Path) -> None:
    local = local_dir(root)
    local.mkdir(parents=True)
    (local / "mine.yaml").write_text(MINE.replace("priority: 5", "priority: lots"), encoding="utf-8")
    (local / "generic.yaml").write_text("name: generic\nextends: generic\ndescription: Ours.\n", encoding="utf-8")


async def opened_list(pilot: Any) -> None:
    """The list checked, the cursor on a project file (its description is fixed data)."""
    await pilot.pause()
    await pilot.press("E")
    await settle(pilot, lambda: isinstance(pilot.app.screen, ProfilesScreen))
    screen = pilot.app.screen
    await settle(pilot, lambda: len(screen.checked) == len(screen.entries))
    await highlight(pilot, screen, "local:generic")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_profile_list(snap_compare: Any, root: Path, size: tuple[int, int]) -> None:
    fixed_project(root)
    assert snap_compare(app_for(root), terminal_size=size, run_before=opened_list)


@pytest.mark.parametrize("size", SIZES)
def test_editor_with_a_problem(snap_compare: Any, root: Path, size: tuple[int, int]) -> None:
    fixed_project(root)

    async def with_problem(pilot: Any) -> None:
        await opened_list(pilot)
        screen = pilot.app.screen
        editor(screen).cursor_blink = False
        await open_profile(pilot, screen, "local:mine")
        screen.query_one("#problems", LineTable).focus()
        await pilot.pause()

    assert snap_compare(app_for(root), terminal_size=size, run_before=with_problem)
