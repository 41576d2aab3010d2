"""The profile editor's two lists on their own, in a bare app: the problem list says which problem
the user chose (the screen moves the editor there), the profile list checks the project's files
and says which one the user chose."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import on
from textual.app import App, ComposeResult
from textual.message import Message

from engine.errors import Problem
from engine.profile_files import Entry
from engine.profiles import local_dir
from tui.widgets.problem_list import ProblemList
from tui.widgets.profile_list import ProfileList

PROBLEMS = [Problem("is not an integer", line=5, column=11, field="priority"),
            Problem("unknown key", line=9, field="tools.ruff.colour"),
            Problem("the file ends inside a list")]


class Host(App[None]):
    """One widget and a note of every message it posts to its parent."""

    def __init__(self, widget: ProblemList | ProfileList) -> None:
        super().__init__()
        self.widget = widget
        self.heard: list[Message] = []

    def compose(self) -> ComposeResult:
        yield self.widget

    @on(ProblemList.ProblemSelected)
    @on(ProfileList.ProfileSelected)
    def note(self, message: Message) -> None:
        self.heard.append(message)


async def settle(pilot: Any, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "the widget did not get there"
        await pilot.pause(0.02)


def test_enter_on_a_problem_posts_it_with_its_line_and_the_detail_says_it_whole() -> None:
    problems = ProblemList()
    app = Host(problems)

    async def main() -> None:
        async with app.run_test(size=(80, 12)) as pilot:
            problems.show_problems(PROBLEMS)
            problems.focus()
            await pilot.pause()
            assert problems.table.border_title == "Problems (3)"
            await pilot.press("down")
            await pilot.pause()
            assert str(problems.query_one("#detail").render()) == "line 9 · tools.ruff.colour · unknown key"
            await pilot.press("enter")
            await settle(pilot, lambda: bool(app.heard))
            [chosen] = app.heard
            assert isinstance(chosen, ProblemList.ProblemSelected)
            assert chosen.problem is PROBLEMS[1] and chosen.problem.line == 9

            problems.show_problems([])
            await pilot.pause()
            assert problems.table.border_title == "Problems (none)" and str(problems.query_one("#detail").render()) == ""

    asyncio.run(main())


def test_the_profile_list_checks_the_files_and_enter_posts_the_chosen_entry(tmp_path: Path) -> None:
    (tmp_path / ".uet").mkdir()
    local = local_dir(tmp_path)
    local.mkdir(parents=True)
    (local / "mine.yaml").write_text("name: mine\nextends: generic\npriority: lots\n", encoding="utf-8")
    profiles = ProfileList(tmp_path)
    app = Host(profiles)

    async def main() -> None:
        async with app.run_test(size=(60, 20)) as pilot:
            await settle(pilot, lambda: len(profiles.checked) == len(profiles.entries) > 0)
            assert profiles.table.row("local:mine") == ("✘", "mine", "local")
            assert profiles.table.row("builtin:generic") == ("✔", "generic", "built-in ro")
            profiles.focus()
            profiles.table.move_to("local:mine")
            await pilot.pause()
            assert "1 problem(s); line 3" in str(profiles.query_one("#about").render())
            await pilot.press("enter")
            await settle(pilot, lambda: bool(app.heard))
            [chosen] = app.heard
            assert isinstance(chosen, ProfileList.ProfileSelected) and isinstance(chosen.entry, Entry)
            assert chosen.entry.key == "local:mine" and chosen.entry.path == local / "mine.yaml"

    asyncio.run(main())
