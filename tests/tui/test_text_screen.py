"""The read-only text screen (a resolved profile, a preview) at 80x24: no scrollbar thumbs inside
the text, and its bottom border says which lines show, of how many, and that some are wider."""

from __future__ import annotations

import asyncio

from textual.app import App
from textual.widgets import TextArea

from tui.screens.text import TextScreen


def test_the_border_says_which_lines_show_in_place_of_scrollbars() -> None:
    text = "\n".join(f"line {n}" for n in range(1, 101)) + "\n" + "x" * 200
    app: App[None] = App()

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await app.push_screen(TextScreen("a long text", text))
            await pilot.pause()
            area = app.screen.query_one(TextArea)
            shown = area.scrollable_content_region.height
            assert area.scrollbar_size_vertical == 0 and area.scrollbar_size_horizontal == 0
            assert str(area.border_subtitle) == f"lines 1-{shown} of 101 · ←→ wider lines"
            await pilot.press("pagedown")
            await pilot.pause()
            top = round(area.scroll_offset.y)
            assert top > 0 and str(area.border_subtitle).startswith(f"lines {top + 1}-{top + shown} of 101")

    asyncio.run(main())
