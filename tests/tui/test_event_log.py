"""The events pane renders only the lines on screen: a first read of thousands of events, or a
run writing hundreds a second, costs the lines shown, not every line kept. What it shows is
the same as before: the newest lines when it follows, the lines the user scrolled to when it
is held, the filter's lines only, and a message's line breaks as lines of their own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from schemas.records import EventRecord
from tui.widgets import event_log
from tui.widgets.event_log import KEPT, EventLog

HEIGHT = 12


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield EventLog(id="events")


def events(count: int, start: int = 0, run_id: str = "r0000001") -> list[EventRecord]:
    return [EventRecord(seq=n + 1, ts=1_800_000_000.0 + n, run_id=run_id, step_id=f"s{n}", kind="step.state",
                        data={"from": "ready", "to": "running", "attempt": 1, "tool": "sh"})
            for n in range(start, start + count)]


def step_of(line: str) -> str:
    """The step a drawn event line is about ("" for another line)."""
    return line.split(" step ", 1)[1].split(" ", 1)[0] if " step " in line else ""


def on_screen(log: EventLog) -> list[str]:
    """The text of the pane's lines as drawn (its render, not its list)."""
    return [log.render_line(y).text.rstrip() for y in range(log.scrollable_content_region.height)]


async def drawn(pilot: Any, log: EventLog) -> None:
    for _ in range(50):
        await pilot.pause()
        if log.scroll_offset.y >= log.max_scroll_y or not log.follow:
            break


async def hold_at(pilot: Any, log: EventLog, y: int) -> list[str]:
    """Stop following and scroll to line ``y``; the lines then on screen."""
    log.follow = False
    log.scroll_to(y=y, animate=False, immediate=True)
    await pilot.pause()
    return on_screen(log)


def test_thousands_of_events_render_only_the_lines_on_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[str] = []
    render = Text.render

    def counted(self: Text, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - rich's segments
        if " step s" in self.plain:
            rendered.append(self.plain)
        return render(self, *args, **kwargs)

    monkeypatch.setattr(Text, "render", counted)

    async def main() -> None:
        app = LogApp()
        async with app.run_test(size=(100, HEIGHT)) as pilot:
            log = app.query_one(EventLog)
            log.add(events(KEPT))
            await drawn(pilot, log)
            lines = on_screen(log)
            assert step_of(lines[-1]) == "s2999", lines
            assert len(log.shown) == KEPT
            # every line kept was formatted, but only those on screen were rendered
            assert 0 < len(rendered) <= 2 * HEIGHT, len(rendered)
            before = len(rendered)
            for y in range(HEIGHT):  # drawn again: from the cache
                log.render_line(y)
            assert len(rendered) == before

    asyncio.run(main())


def test_it_follows_the_newest_lines_and_a_held_view_stays_on_its_lines() -> None:
    async def main() -> None:
        app = LogApp()
        async with app.run_test(size=(100, HEIGHT)) as pilot:
            log = app.query_one(EventLog)
            log.add(events(100))
            await drawn(pilot, log)
            assert step_of(on_screen(log)[-1]) == "s99"
            held = await hold_at(pilot, log, 10)
            assert step_of(held[0]) == "s10", held
            log.add(events(50, start=100))
            await pilot.pause()
            assert on_screen(log) == held  # new lines do not move a held view
            log.follow = True  # following again shows the newest
            await drawn(pilot, log)
            assert step_of(on_screen(log)[-1]) == "s149"

    asyncio.run(main())


def test_a_held_view_keeps_its_lines_when_older_ones_make_way() -> None:
    async def main() -> None:
        app = LogApp()
        async with app.run_test(size=(100, HEIGHT)) as pilot:
            log = app.query_one(EventLog)
            log.add(events(KEPT))
            await drawn(pilot, log)
            held = await hold_at(pilot, log, KEPT - 500)
            log.add(events(100, start=KEPT))  # 100 lines drop off the top
            await pilot.pause()
            assert on_screen(log) == held

    asyncio.run(main())


def test_the_filter_and_the_run_shown_pick_lines_and_a_line_break_starts_a_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_log, "describe", lambda kind, step, data: data.get("text", f"step {step}"))

    async def main() -> None:
        app = LogApp()
        async with app.run_test(size=(100, HEIGHT)) as pilot:
            log = app.query_one(EventLog)
            log.add([EventRecord(seq=1, ts=1_800_000_000.0, run_id="aaaaaaaa1", kind="note",
                                 data={"text": "first line\nsecond line"}),
                     *events(3, run_id="bbbbbbbb1")])
            await drawn(pilot, log)
            texts = log.text_lines()
            assert texts[0].endswith("aaaaaaaa first line") and texts[1] == "second line", texts
            assert [t.rsplit(" ", 1)[-1] for t in texts[2:]] == ["s0", "s1", "s2"]
            log.pattern = "S1"
            await pilot.pause()
            assert [t.rsplit(" ", 1)[-1] for t in log.text_lines()] == ["s1"]
            assert [line for line in on_screen(log) if line] == log.text_lines()
            log.pattern = ""
            log.only_run("aaaaaaaa1")
            await pilot.pause()
            assert log.text_lines() == texts[:2]

    asyncio.run(main())
