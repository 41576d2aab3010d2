"""The dashboard's first frame comes before the store is read: until the first read arrives the
panes say "loading…", never "no runs"; the settings a face reads are plain values, the defaults
written once (``schemas.settings_defaults``) and a settings file validated by the models."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from engine.errors import ValidationFailed
from schemas.settings import TuiSettings
from schemas.settings_defaults import DEFAULTS
from tests.tui.test_dashboard import settle
from tui.app import UetApp, make_app
from tui.screens.dashboard import DashboardScreen
from tui.settings import load_settings, plain
from tui.widgets.event_log import EventLog
from tui.widgets.line_table import LineTable


def test_until_the_first_read_the_panes_say_loading_then_what_the_store_holds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    held = threading.Event()
    first_read = UetApp._first_read

    def held_read(app: UetApp) -> Any:  # noqa: ANN401 - the monitor's Delta
        assert held.wait(30), "the test never let the first read go"
        return first_read(app)

    monkeypatch.setattr(UetApp, "_first_read", held_read)
    app = make_app(tmp_path, tmp_path / ".uet" / "uet.db", live=False)

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
            screen = app.screen
            runs, breakers = screen.query_one("#runs", LineTable), screen.query_one("#breakers", LineTable)
            log = screen.query_one(EventLog)
            await pilot.pause()
            assert app.store is None and not screen.loaded
            assert (runs.empty, breakers.empty) == ("loading…", "loading…")
            assert runs.render_line(1).text.strip() == "loading…"
            assert str(runs.border_title) == "Runs"  # no count before there is one
            assert log.text_lines() == ["loading…"]
            held.set()
            await settle(pilot, lambda: screen.loaded)
            await pilot.pause()
            await settle(pilot, lambda: app.store is not None)  # opened once the first read is drawn
            assert runs.render_line(1).text.strip().startswith("no runs yet")
            assert breakers.render_line(1).text.strip() == "no declared tool has run yet"
            assert str(runs.border_title) == "Runs (0)"
            assert log.text_lines() == []

    asyncio.run(main())


def test_a_screen_that_reads_the_store_opens_it_when_asked_for_before_the_first_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """P pressed while the first read is still to come: the patches screen reads the store's
    tables, which are bound to the store opened last in the process (none yet, or another
    one), so this app's store is opened for it there and then."""
    from tui.screens.patches import PatchesScreen

    held = threading.Event()
    first_read = UetApp._first_read
    monkeypatch.setattr(UetApp, "_first_read", lambda app: held.wait(30) and first_read(app))
    app = make_app(tmp_path, tmp_path / ".uet" / "uet.db", live=False)

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
            assert app.store is None
            await pilot.press("P")
            await settle(pilot, lambda: isinstance(app.screen, PatchesScreen))
            listed = app.screen.query_one("#list", LineTable)
            await settle(pilot, lambda: listed.empty.startswith("no patches"))
            assert app.store is not None
            held.set()

    asyncio.run(main())


def test_without_a_settings_file_a_face_reads_the_defaults_the_models_have(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "none.yaml") is DEFAULTS
    assert plain(TuiSettings()) == DEFAULTS


def test_a_settings_file_is_validated_then_read_as_plain_values(tmp_path: Path) -> None:
    good = tmp_path / "config.yaml"
    good.write_text("refresh: 0.5\nkeymap: {dashboard.view: w}\nnotify: {bell: false, when: [failed]}\n")
    settings = load_settings(good)
    assert (settings.refresh, dict(settings.keymap), settings.theme) == (0.5, {"dashboard.view": "w"}, "textual-dark")
    assert (settings.notify.bell, settings.notify.desktop, settings.notify.when) == (False, "osc9", ("failed",))
    bad = tmp_path / "bad.yaml"
    bad.write_text("refresh: 0.5\nnotify:\n  desktop: beep\n")
    with pytest.raises(ValidationFailed) as failed:
        load_settings(bad)
    assert str(failed.value).startswith(f"{bad}:3:3: notify.desktop: Input should be 'osc9', 'osc777' or 'off'")
