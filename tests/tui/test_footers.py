"""Every screen's footer leads with ``? Help`` and ``q Quit``, then the screen's way back
(``esc Back``), and at 80x24 every key is drawn whole, left of the palette key; a text box that takes
``?`` and ``q`` for itself leaves the way back first. One walk over the app, as a person at
80x24 would take it: the dashboard, a run and its log, the patches and a patch's review,
history, tools, triggers, the profile editor and a resolved profile, bootstrap."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from tests.tui import stores
from tests.tui.test_dashboard import settle
from tui.app import make_app
from tui.widgets.footer import KeysFirstFooter


def lead(screen: Any) -> list[str]:
    """The footer's keys, as ``? Help``; each is drawn whole, left of the palette's key (a key
    that does not fit is left out, never cut)."""
    footer = screen.query_one(Footer)
    assert isinstance(footer, KeysFirstFooter), type(screen).__name__
    palette = [key.region.x for key in footer.query(FooterKey) if "-command-palette" in key.classes]
    edge = min(palette or [screen.size.width])
    keys = [key for key in footer.query(FooterKey) if "-command-palette" not in key.classes]
    cut = [key.description for key in keys if not key.region.width or key.region.right > edge]
    assert not cut, (type(screen).__name__, cut)
    return [f"{key.key_display} {key.description}" for key in keys]


async def laid_out(pilot: Any, screen: Any, timeout: float = 10.0) -> None:
    """Wait (at most ``timeout``) for the footer's keys to have their places: the footer is
    composed again when a screen's bindings change (the dashboard's, once the store is read), and
    its new keys have no size until the next layout. ``lead`` then judges them as before."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        keys = list(screen.query_one(Footer).query(FooterKey))
        if keys and all(key.region.width for key in keys):
            return
        await pilot.pause(0.02)


def test_every_screen_leads_with_help_quit_and_back_at_80x24(tmp_path: Path) -> None:
    (tmp_path / ".uet").mkdir()
    db = stores.patches(tmp_path / ".uet" / "uet.db")
    app = make_app(tmp_path, db, clock=lambda: stores.NOW, live=False)
    seen: dict[str, list[str]] = {}

    async def visit(pilot: Any, name: str, keys: tuple[str, ...], ready: Any) -> None:
        await pilot.press(*keys)
        await settle(pilot, lambda: ready(app.screen))
        await pilot.pause()
        await laid_out(pilot, app.screen)
        seen[name] = lead(app.screen)

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: bool(app.screen.query_one("#runs").keys))
            await pilot.pause()
            await laid_out(pilot, app.screen)
            seen["dashboard"] = lead(app.screen)
            await visit(pilot, "run", ("o",), lambda s: type(s).__name__ == "RunScreen")
            await visit(pilot, "run log", ("tab", "tab"), lambda s: s.focused is not None and s.focused.id == "log")
            await visit(pilot, "patches", ("escape", "P"),
                        lambda s: type(s).__name__ == "PatchesScreen" and bool(s.query_one("#list").keys))
            await visit(pilot, "review", ("enter",), lambda s: s.patch is not None)
            for name, key, screen in (("history", "H", "HistoryScreen"), ("tools", "T", "ToolsScreen"),
                                      ("triggers", "W", "TriggersScreen"), ("profiles", "E", "ProfilesScreen")):
                await pilot.press("escape", "escape")
                await settle(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")
                await visit(pilot, name, (key,), lambda s, screen=screen: type(s).__name__ == screen)
            await visit(pilot, "resolved profile", ("s",), lambda s: type(s).__name__ == "TextScreen")
            await pilot.press("escape", "escape")
            await settle(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")
            await visit(pilot, "bootstrap", ("B",), lambda s: type(s).__name__ == "BootstrapScreen")
            await visit(pilot, "bootstrap tree", ("tab",), lambda s: s.focused is not None and s.focused.id != "path")

    asyncio.run(main())
    assert seen["dashboard"][:2] == ["? Help", "q Quit"]
    for name in ("run", "run log", "patches", "review", "history", "tools", "triggers", "profiles",
                 "resolved profile", "bootstrap tree"):
        assert seen[name][:3] == ["? Help", "q Quit", "esc Back"], (name, seen[name])
    # The folder's text box has the focus: ? and q are letters there, Escape still goes back.
    assert seen["bootstrap"][0] == "esc Back" and "q Quit" not in seen["bootstrap"], seen["bootstrap"]
