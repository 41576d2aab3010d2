"""The help groups the keys by area from their ids and leaves Textual's own keys out; the
palette lists UET's actions first, with one Quit."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding

from tests.tui.test_dashboard import drive, settle
from tui.app import UetApp
from tui.palette import BindingCommands, commands
from tui.screens.help import OTHER, HelpScreen, group_of
from tui.widgets.line_table import LineTable


def test_a_key_s_group_comes_from_its_id_and_an_unknown_one_is_other() -> None:
    assert group_of(Binding("x", "a", "A", id="dashboard.a")) == "Runs"
    assert group_of(Binding("x", "a", "A", id="patches.a")) == "Patches"
    assert group_of(Binding("x", "a", "A", id="nobody-knows.a")) == OTHER
    assert group_of(Binding("x", "cursor(1)", "Down")) == "Move"


def test_help_groups_uet_keys_and_leaves_framework_keys_out(fixed_app: UetApp) -> None:
    async def scenario(pilot: Any) -> None:
        await pilot.press("question_mark")
        await settle(pilot, lambda: isinstance(fixed_app.screen, HelpScreen))
        table = fixed_app.screen.query_one("#keys", LineTable)
        await settle(pilot, lambda: bool(table.keys))
        groups, group = {}, None
        for key in table.keys:
            if key.startswith("group:"):
                group = key.split(":", 1)[1]
            elif "~" not in key:
                groups.setdefault(group, []).append(table.rows[key])
        assert list(groups)[:2] == ["Runs", "General"] and "Move" in groups  # the screen's own keys first
        ids = {name: {row[2] for row in rows} for name, rows in groups.items()}
        assert {"app.quit", "app.help", "app.launch"} <= ids["General"]
        assert {"dashboard.cancel", "dashboard.filter", "dashboard.state_filter", "dashboard.older"} <= ids["Runs"]
        words = {str(row[1]) for rows in groups.values() for row in rows}
        assert not words & {"Page Left", "Page Right", "Scroll Right", "Scroll Left", "Copy selected text"}
        assert sum(1 for word in words if word == "Quit") == 1
        assert {"Focus Next", "Down"} <= words  # Tab and the table's moves stay
        # Long descriptions wrap onto their own lines instead of being cut.
        room = table._widths(table.scrollable_content_region.width)[2]
        assert "dashboard.filter~1" in table.index
        assert all(len(str(row[3])) <= room for row in table.rows.values())

    drive(fixed_app, scenario)


def test_palette_lists_uet_actions_first_and_one_quit(fixed_app: UetApp) -> None:
    async def scenario(pilot: Any) -> None:
        listed = [command.title for command in commands(BindingCommands(fixed_app.screen))]
        assert listed[0] == "Filter (/)"  # the screen's own actions first, then the app's
        assert len([title for title in listed if title.startswith("Quit")]) == 1
        assert "Theme" in listed and listed.index("Theme") > listed.index("Cancel (c)")
        assert not any(title.startswith(("Keys", "Page", "Scroll")) for title in listed)

    drive(fixed_app, scenario)


def test_help_draws_under_no_color(fixed_db: Any, monkeypatch: Any) -> None:
    """Under NO_COLOR Textual passes every line through its monochrome filter, which needs a
    style on each segment: the help's wrapped lines once had none and the dashboard crashed on ?."""
    from tests.tui import stores
    from tui.app import make_app

    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(fixed_db.parent.parent, fixed_db, clock=lambda: stores.NOW, live=False)
    assert app.no_color

    async def scenario(pilot: Any) -> None:
        await pilot.press("question_mark")
        await settle(pilot, lambda: isinstance(app.screen, HelpScreen))
        table = app.screen.query_one("#keys", LineTable)
        await settle(pilot, lambda: bool(table.keys))
        await pilot.pause()
        lines = [table.render_line(y) for y in range(table.size.height)]
        assert all(segment.style is not None for line in lines for segment in line)
        assert "dashboard.filter" in table.index

    drive(app, scenario)


def test_the_palette_list_scrolls_without_a_scrollbar_glyph(fixed_app: UetApp) -> None:
    """Under NO_COLOR a scrollbar's track vanishes and its thumb reads as a stray ``▅▅`` beside a
    command: the list has none, its highlighted command says where it is."""
    from textual.command import CommandList, CommandPalette

    async def scenario(pilot: Any) -> None:
        await pilot.press("ctrl+p")
        await settle(pilot, lambda: isinstance(fixed_app.screen, CommandPalette))
        listed = fixed_app.screen.query_one(CommandList)
        await settle(pilot, lambda: listed.option_count > 0 and listed.size.height > 0)
        assert listed.virtual_size.height > listed.size.height  # more than fits: it does scroll
        assert listed.scrollbar_size_vertical == 0  # no column for a thumb to be drawn in

    drive(fixed_app, scenario)
