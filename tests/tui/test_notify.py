"""Notifications: the bell and OSC 9 / OSC 777 sequences (built by ``engine.notify``), written
by ``uet run`` to its terminal and by the dashboard through its driver; failure toasts that
stay until seen; a launch's validation problems on a screen of their own."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path
from typing import Any

from engine.notify import BODY_LIMIT, TITLE_LIMIT, Notice, clean, event_notice, sequence
from schemas.settings import NotifySettings
from tests.conftest import Project
from tests.tui import stores
from tests.tui.test_dashboard import settle
from tui.app import UetApp
from tui.notify import TerminalNotifier, for_terminal, wanted
from tui.screens.dashboard import DashboardScreen
from tui.screens.run import RunScreen
from tui.screens.text import TextScreen

FAILED = Notice("failed", "uet: nightly failed", "run 3f2a: step lint failed", "3f2a")


def test_osc9_carries_title_and_body_after_the_bell() -> None:
    assert sequence(FAILED, NotifySettings()) == "\a\x1b]9;uet: nightly failed: run 3f2a: step lint failed\a"


def test_osc777_separates_title_and_body_and_a_title_cannot_add_a_field() -> None:
    notice = Notice("failed", "uet: a;b failed", "run 3f2a", "3f2a")
    text = sequence(notice, NotifySettings(bell=False, desktop="osc777"))
    assert text == "\x1b]777;notify;uet: a,b failed;run 3f2a\a"


def test_off_and_unselected_kinds_write_nothing_and_quiet_turns_everything_off() -> None:
    assert sequence(FAILED, NotifySettings(bell=True, desktop="off")) == "\a"
    assert sequence(FAILED, NotifySettings(when=["succeeded", "review"])) == ""
    assert sequence(FAILED, wanted(NotifySettings(), quiet=True)) == ""


def test_control_characters_from_names_cannot_inject_escapes_and_texts_are_bounded() -> None:
    hostile = "x\x1b]0;owned\x07\x9b31m\u202e\r\nrm -rf" + "y" * 500
    notice = Notice("failed", hostile, hostile, None)
    text = sequence(notice, NotifySettings(bell=False))
    body = text.removeprefix("\x1b]9;").removesuffix("\a")
    assert text.startswith("\x1b]9;") and text.endswith("\a")
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c == "\u202e" for c in body), repr(body)
    assert "x ]0;owned 31m rm -rf" in body
    assert len(body) <= TITLE_LIMIT + 2 + BODY_LIMIT
    assert clean("a\tb\n\nc", 10) == "a b c"


def test_events_that_call_for_a_notice() -> None:
    failed = event_notice("run.state", "3f2a", None, {"from": "running", "to": "failed", "reason": "lint"}, "nightly")
    assert failed == Notice("failed", "uet: nightly failed", "run 3f2a: lint", "3f2a")
    assert event_notice("run.state", "3f2a", None, {"to": "succeeded"}, "q").kind == "succeeded"
    assert event_notice("run.state", "3f2a", None, {"to": "paused"}) is None
    review = event_notice("patch.state", "3f2a", "fix", {"patch": "p1", "to": "gate_passed"})
    assert review is not None and review.kind == "review" and "p1" in review.title
    assert event_notice("patch.state", "3f2a", "fix", {"patch": "p1", "to": "proposed", "gate": None}).kind == "review"
    assert event_notice("patch.state", "3f2a", "fix", {"patch": "p1", "to": "proposed", "gate": "tests"}) is None


def test_the_terminal_notifier_writes_and_flushes_each_notice() -> None:
    written: list[str] = []
    flushed: list[bool] = []
    notifier = TerminalNotifier(NotifySettings(), written.append, lambda: flushed.append(True), lambda run_id: "q")
    notifier.notice("step.state", "r", "s", {"to": "failed"})
    notifier.notice("run.state", "r", None, {"to": "failed"})
    assert written == ["\a\x1b]9;uet: q failed: run r\a"] and flushed == [True]


def test_a_notifier_for_a_terminal_only_and_not_under_quiet(tmp_path: Path) -> None:
    master, slave = os.openpty()
    with open(slave, "w", encoding="utf-8", closefd=True) as tty, open(tmp_path / "out", "w") as plain:
        assert for_terminal(plain, lambda run_id: "q", settings=NotifySettings()) is None
        assert for_terminal(tty, lambda run_id: "q", quiet=True, settings=NotifySettings()) is None
        notifier = for_terminal(tty, lambda run_id: "q", settings=NotifySettings(bell=False))
        assert notifier is not None
        notifier.notice("run.state", "r1", None, {"to": "succeeded"})
    assert os.read(master, 1000) == b"\x1b]9;uet: q succeeded: run r1\x07"
    os.close(master)


# -- uet run in a terminal ------------------------------------------------------------------


def _in_a_terminal(project: Project, *args: str, env: dict[str, str]) -> bytes:
    """What ``uet ARGS`` writes to a terminal (a pty)."""
    master, slave = os.openpty()
    child = subprocess.Popen(project.argv(*args), cwd=project.root, env=env, stdin=subprocess.DEVNULL,
                             stdout=slave, stderr=slave)
    os.close(slave)
    out = bytearray()
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        child.wait(timeout=60)
    return bytes(out)


def test_uet_run_in_a_terminal_notifies_with_the_configured_sequence(project: Project) -> None:
    workstream = project.write("ws.yaml", """
        name: notified
        steps:
          - id: bad
            run: "false"
    """)
    config = project.write("config.yaml", "notify: {desktop: osc777, when: [failed]}\n")
    env = {**project.env(), "UET_CONFIG": str(config), "TERM": "xterm-256color"}
    out = _in_a_terminal(project, "run", "--plain", str(workstream), env=env)
    assert b"\x1b]777;notify;uet: notified failed;run " in out, out[-400:]
    assert b"\x1b]9;" not in out


# -- the dashboard ------------------------------------------------------------------------------


def _record(db: Path, kind: str, run_id: str, data: dict[str, Any], step_id: str | None = None) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        stores._event(conn, stores.NOW, kind, run_id, step_id, data)


def test_the_dashboard_writes_the_sequence_through_its_driver_and_keeps_a_failure_toast(
        fixed_app: UetApp, fixed_db: Path) -> None:
    written: list[str] = []

    async def main() -> None:
        async with fixed_app.run_test(size=(80, 24)) as pilot:
            # the first read (whose events are history, not news) is done once the runs show
            await settle(pilot, lambda: isinstance(fixed_app.screen, DashboardScreen) and bool(fixed_app.screen.runs))
            driver = fixed_app._driver
            assert driver is not None
            real_write = driver.write
            driver.write = lambda data: (written.append(data), real_write(data))  # type: ignore[method-assign]
            _record(fixed_db, "patch.state", stores.LIVE_RUN, {"patch": "p9", "to": "gate_passed"}, "fix")
            _record(fixed_db, "run.state", stores.LIVE_RUN, {"from": "running", "to": "failed", "reason": "docs"})
            fixed_app.poke()
            await settle(pilot, lambda: len(fixed_app.notifier.sent) == 2)
            sequences = [w for w in written if "\x1b]9;" in w]
            assert sequences[0].startswith("\a\x1b]9;uet: patch p9 waits for review")
            assert sequences[1].startswith("\a\x1b]9;uet: quality failed: run 3f2a9c81d0e4: docs")
            assert len(fixed_app.toasts) == 1
            await settle(pilot, lambda: len(fixed_app._notifications) == 1)  # the toast is a message away
            toast = next(iter(fixed_app._notifications))
            assert toast.severity == "error" and toast.timeout > 3600
            await pilot.press("N")
            await settle(pilot, lambda: len(fixed_app._notifications) == 0)

            _record(fixed_db, "run.state", stores.LIVE_RUN, {"from": "running", "to": "failed"})
            fixed_app.poke()
            await settle(pilot, lambda: len(fixed_app.toasts) == 1)
            fixed_app.watch_run(stores.LIVE_RUN)  # looking at the run is seeing it
            await settle(pilot, lambda: len(fixed_app._notifications) == 0 and len(fixed_app.toasts) == 0)

    asyncio.run(main())


def test_on_the_failed_run_s_own_screen_the_toast_does_not_stay(fixed_app: UetApp, fixed_db: Path) -> None:
    """Its header says it failed; a toast kept until dismissed would only cover that header."""

    async def main() -> None:
        async with fixed_app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: isinstance(fixed_app.screen, DashboardScreen) and bool(fixed_app.screen.runs))
            await fixed_app.push_screen(RunScreen(stores.LIVE_RUN))
            _record(fixed_db, "run.state", stores.LIVE_RUN, {"from": "running", "to": "failed", "reason": "docs"})
            fixed_app.poke()
            await settle(pilot, lambda: len(fixed_app._notifications) == 1)
            toast = next(iter(fixed_app._notifications))
            assert toast.severity == "error" and "docs" in toast.message and toast.timeout < 60
            assert len(fixed_app.toasts) == 0

    asyncio.run(main())


def test_an_invalid_workstream_launched_from_the_dashboard_lists_its_problems(
        fixed_app: UetApp, fixed_db: Path) -> None:
    bad = fixed_db.parent.parent / "bad.yaml"
    bad.write_text("name: bad\nsteps:\n  - id: a\n    run: 'true'\n    needs: [nowhere]\n    colour: red\n")

    async def main() -> None:
        async with fixed_app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: isinstance(fixed_app.screen, DashboardScreen))
            assert fixed_app.start_run(bad, detached=False) is None
            await settle(pilot, lambda: isinstance(fixed_app.screen, TextScreen))
            text = fixed_app.screen.text
            assert "bad.yaml:6" in text and "colour" in text, text
            assert not fixed_app._notifications
            await pilot.press("escape")
            await settle(pilot, lambda: isinstance(fixed_app.screen, DashboardScreen))

    asyncio.run(main())
