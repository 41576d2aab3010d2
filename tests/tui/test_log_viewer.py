"""The run screen's log read like a log viewer, through Pilot over a run of three steps with
real log files: search with highlighted matches and n/N, wrap, top and end, the engine's own
lines marked, save to a file, the whole run's output in one pane, and a 50 MB log read by its
tail.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from engine.logindex import IndexWriter
from store import Store
from tests.tui import stores
from tests.tui.test_dashboard import settle
from tui import log_window
from tui.app import make_app
from tui.screens.ask import AskScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.run import LOG_TAIL_BYTES, RunScreen
from tui.widgets.line_table import LineTable
from tui.widgets.step_log import ERR_MARK, GUTTER, NOTE_MARK, StepLog

RUN = "l0g000000001"
#: The first step's log: 600 lines, every 20th an error (30 in all), one long line, and a line
#: the engine wrote itself.
LINES = 600
ERRORS = LINES // 20
LONG = "long " + "x" * 300 + " end"
NOTE = "uet: tool sim exited while its breaker was open"


def log_text() -> str:
    lines = [f"line {i}: {'ERROR disk full' if i % 20 == 0 else 'fine'}" for i in range(LINES)]
    lines[301] = LONG
    lines[302] = NOTE
    return "\n".join(lines) + "\n"


def three_steps(db: Path, logs: Path) -> Path:
    """A finished run of three steps, each with one attempt and a log: ``build`` (log_text),
    ``test`` and ``docs`` (two lines each)."""
    Store(db).close()
    logs.mkdir(parents=True, exist_ok=True)
    start = stores.NOW - 120
    with sqlite3.connect(db) as conn:
        stores._run(conn, RUN, "logs", "succeeded", 3, 3, 0, start - 1, start, start + 30)
        for i, name in enumerate(("build", "test", "docs")):
            log = logs / f"{name}.1.log"
            log.write_text(log_text() if name == "build" else f"{name} says hello\n{name} is done\n")
            stores._step(conn, RUN, i, name, [], "succeeded", "sh", 1, 0, start + i, start + i + 5)
            conn.execute(
                "INSERT INTO attempts (run_id, step_id, number, tool, state, started_at, ended_at, exit_code, "
                "log_path, duration) VALUES (?, ?, 1, 'sh', 'succeeded', ?, ?, 0, ?, 5)",
                (RUN, name, start + i, start + i + 5, str(log)))
    return db


@pytest.fixture
def log_db(tmp_path: Path) -> Path:
    (tmp_path / ".uet").mkdir()
    return three_steps(tmp_path / ".uet" / "uet.db", tmp_path / ".uet" / "logs" / RUN)


def app_for(db: Path):  # noqa: ANN201
    return make_app(db.parent.parent, db, clock=lambda: stores.NOW, live=False)


async def push_run(pilot: Any) -> tuple[RunScreen, StepLog]:
    """The run screen pushed over the dashboard, as Enter does, and its log pane."""
    app = pilot.app
    await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
    screen = RunScreen(RUN)
    await app.push_screen(screen)
    return screen, screen.query_one("#log", StepLog)


async def open_log(pilot: Any) -> tuple[RunScreen, StepLog]:
    """The run screen on ``build``, its log read, the log pane focused."""
    screen, log = await push_run(pilot)
    await settle(pilot, lambda: len(screen.query_one("#steps", LineTable).keys) == 3 and log.line_count == LINES
                 and len(screen.logs) == 3)
    log.focus()
    await pilot.pause()
    return screen, log


def drive(db: Path, scenario: Callable[[Any], Awaitable[None]], size: tuple[int, int] = (80, 24)) -> None:
    async def main() -> None:
        async with app_for(db).run_test(size=size) as pilot:
            await scenario(pilot)

    asyncio.run(main())


def drawn(log: StepLog, y: int) -> str:
    return "".join(segment.text for segment in log.render_line(y))


def styles_at(log: StepLog, y: int, text: str) -> list[Any]:
    """The styles the characters of ``text`` are drawn with on row ``y`` of the pane."""
    return [segment.style for segment in log.render_line(y) if text in segment.text]


async def search(pilot: Any, screen: RunScreen, words: str) -> None:
    await pilot.press("slash", *words, "enter")
    await pilot.pause()


def test_search_counts_and_highlights_matches_and_n_and_n_move_through_them(log_db: Path) -> None:
    async def scenario(pilot: Any) -> None:
        screen, log = await open_log(pilot)
        await pilot.press("g")
        await search(pilot, screen, "disk")
        assert log.find_status == f"match 1 of {ERRORS}"
        assert log.border_subtitle.startswith(f"match 1 of {ERRORS}")
        assert log is screen.focused
        await pilot.press("n", "n")
        assert log.find_status == f"match 3 of {ERRORS}" and log.matches[2].line == 40
        # The current match is drawn in reverse, bold and underlined; the others in reverse.
        row = 40 - log.scroll_offset.y
        assert "line 40: ERROR disk full" in drawn(log, row)
        current = styles_at(log, row, "disk")
        assert current and current[0].reverse and current[0].bold and current[0].underline
        other = styles_at(log, 60 - log.scroll_offset.y, "disk")
        assert other and other[0].reverse and not other[0].underline
        await pilot.press("N", "N", "N")  # wraps to the last
        assert log.find_status == f"match {ERRORS} of {ERRORS}"
        assert log.matches[log.current].line == 580 and log.scroll_offset.y > 500
        await pilot.press("n")
        assert log.find_status == f"match 1 of {ERRORS}"

        await search(pilot, screen, "Disk")  # a capital: case-sensitive
        assert log.find_status == 'no match for "Disk"'
        await pilot.press("slash", "escape")  # Esc clears the search
        await pilot.pause()
        assert log.find_status == "" and not log.matches and log is screen.focused

    drive(log_db, scenario)


def test_wrap_top_end_and_the_engine_s_own_lines(log_db: Path) -> None:
    async def scenario(pilot: Any) -> None:
        screen, log = await open_log(pilot)
        assert log.virtual_size.height == LINES
        # A log with no stream index (older logs) reads as before: no line marked.
        assert set(log.streams) == {"-"} and "stderr" not in log.border_subtitle
        assert not any(drawn(log, y).startswith(ERR_MARK) for y in range(10))
        assert screen.follow
        await pilot.press("g")  # up the log holds it, its end follows it again
        assert log.scroll_offset.y == 0 and drawn(log, 0).startswith("line 0: ERROR disk full")
        assert not screen.follow and "held (f follows)" in log.border_subtitle
        await pilot.press("G")
        assert log.scroll_offset.y == LINES - log.scrollable_content_region.height
        assert screen.follow and "following" in log.border_subtitle
        await pilot.press("k")
        assert not screen.follow and log.scroll_offset.y == LINES - log.scrollable_content_region.height - 1
        log.scroll_to(y=300, animate=False, immediate=True)
        await pilot.pause()
        assert drawn(log, 2).startswith(NOTE_MARK + "uet: tool sim")  # marked by a glyph, not by colour
        assert drawn(log, 1).startswith("long xxx") and not drawn(log, 1).startswith(NOTE_MARK)
        # No horizontal scrollbar (its thumb read as a stray glyph under NO_COLOR): the border
        # says lines are cut, and how far across the reader is.
        assert log.scrollbar_size_horizontal == 0 and "lines cut: → or w" in log.border_subtitle
        await pilot.press("right", "right")
        assert "← from col 3" in log.border_subtitle and drawn(log, 1).startswith("ng xxx")
        await pilot.press("left", "left")
        assert "lines cut" in log.border_subtitle

        await pilot.press("w")
        width = log.scrollable_content_region.width
        assert log.wrap and "wrap" in log.border_subtitle
        # Every line fits but the long one and the note (its mark takes two cells of the width).
        assert log.virtual_size.height == LINES - 2 + -(-len(LONG) // width) + -(-len(NOTE) // (width - 2))
        await pilot.press("w")
        assert not log.wrap and log.virtual_size.height == LINES

    drive(log_db, scenario)


def test_save_writes_the_whole_log_and_says_where(log_db: Path) -> None:
    root = log_db.parent.parent

    async def scenario(pilot: Any) -> None:
        screen, log = await open_log(pilot)
        await pilot.press("S")
        await settle(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
        await pilot.press("enter")  # the path offered
        saved = root / ".uet" / "saved" / f"{RUN}.build.1.log"
        await settle(pilot, lambda: saved.exists() and any("log saved" in n.message for n in pilot.app._notifications))
        assert saved.read_text() == log_text()
        assert any(n.message == f"log saved to {saved} ({len(log_text()):,} bytes)" for n in pilot.app._notifications)

        await pilot.press("S")
        await settle(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
        pilot.app.screen.query_one(Input).value = "elsewhere/build.txt"
        await pilot.press("enter")
        await settle(pilot, lambda: (root / "elsewhere" / "build.txt").exists())
        assert (root / "elsewhere" / "build.txt").read_text() == log_text()

        await pilot.press("S")  # a path under a file: said, nothing written
        await settle(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
        pilot.app.screen.query_one(Input).value = "elsewhere/build.txt/inside.log"
        await pilot.press("enter")
        await settle(pilot, lambda: any(n.message.startswith("not saved: ") for n in pilot.app._notifications))
        said = next(n for n in pilot.app._notifications if n.message.startswith("not saved: "))
        assert said.message == f"not saved: {root / 'elsewhere' / 'build.txt'}: File exists"
        assert said.severity == "error" and (root / "elsewhere" / "build.txt").is_file()

    drive(log_db, scenario)


def test_the_whole_run_view_step_by_step_shows_every_step_under_its_header(log_db: Path) -> None:
    logs = log_db.parent / "logs" / RUN
    index_lines(logs / "test.1.log", [(0, "o", stores.NOW + 20), (1, "e", stores.NOW + 40)])

    async def scenario(pilot: Any) -> None:
        screen, _log = await open_log(pilot)
        screen.query_one("#steps", LineTable).focus()
        await pilot.press("M")
        merged = screen.query_one("#merged", StepLog)
        await settle(pilot, lambda: merged.line_count > 0)
        await pilot.press("t")  # from merged by time to step after step
        await settle(pilot, lambda: any(line.startswith("── ") for line in merged.lines))
        assert merged.display and not screen.query_one("#main").display and merged is screen.focused
        headers = [line for line in merged.lines if line.startswith("── ")]
        assert headers == ["── build · attempt 1 · succeeded ──", "── test · attempt 1 · succeeded ──",
                           "── docs · attempt 1 · succeeded ──"]
        # A bounded tail of each: the last 40 lines of build, all of the others.
        at = merged.lines.index(headers[0])
        assert merged.lines[at + 1] == "line 560: ERROR disk full"
        assert merged.lines[-2:] == ["docs says hello", "docs is done"]
        # stderr marked as in the step's own log: test's second line, and no header
        assert [merged.lines[n] for n, stream in enumerate(merged.streams) if stream == "e"] == ["test is done"]
        await pilot.press("escape")  # as M again
        assert not merged.display and screen.query_one("#main").display and isinstance(pilot.app.screen, RunScreen)

    drive(log_db, scenario)


def test_a_50_mb_log_is_read_by_its_tail(tmp_path: Path) -> None:
    (tmp_path / ".uet").mkdir()
    db = three_steps(tmp_path / ".uet" / "uet.db", tmp_path / ".uet" / "logs" / RUN)
    big = tmp_path / ".uet" / "logs" / RUN / "build.1.log"
    line = b"y" * 99 + b"\n"
    with open(big, "wb") as handle:
        for _ in range(50):
            handle.write(line * 10_000)
        handle.write(b"the very last line\n")
    size = big.stat().st_size

    async def scenario(pilot: Any) -> None:
        screen, log = await push_run(pilot)
        await settle(pilot, lambda: log.line_count > 0)
        assert log.lines[-1] == "the very last line"
        # Only the last LOG_TAIL_BYTES were read, from the first whole line; the rest is said.
        first = log.lines[0]
        assert first.startswith("uet: … ") and first.endswith(" bytes before not shown (S saves the whole log)")
        skipped = int(first.split()[2].replace(",", ""))
        assert size - LOG_TAIL_BYTES < skipped <= size - LOG_TAIL_BYTES + len(line)
        assert log.lines[1] == "y" * 99
        assert log.line_count <= 5_000

    drive(db, scenario)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_log_search(snap_compare: Any, log_db: Path, size: tuple[int, int]) -> None:
    async def searched(pilot: Any) -> None:
        screen, log = await open_log(pilot)
        await pilot.press("g")  # from the top: where a search starts depends on where the reader is
        await search(pilot, screen, "disk")
        await settle(pilot, lambda: log.hits is not None)  # the whole file searched too
        await pilot.press("n")
        await pilot.pause()

    assert snap_compare(app_for(log_db), terminal_size=size, run_before=searched)


def index_lines(log: Path, records: list[tuple[int, str, float]]) -> None:
    """Write ``log``'s stream index: from line ``n`` on, ``stream``, written at ``time``."""
    starts = [0]
    for line in log.read_bytes().splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    writer = IndexWriter(str(log))
    for n, stream, when in records:
        writer.mark(starts[n], stream, now=when)
    writer.close(starts[-1])


def test_stderr_lines_are_marked_without_colour_and_e_shows_only_them(log_db: Path) -> None:
    """Lines 590 to 594 of build came through stderr: drawn with ▌ in front, in bold, and the
    border says what ▌ means; the others as they are."""
    index_lines(log_db.parent / "logs" / RUN / "build.1.log", [(0, "o", 1.0), (590, "e", 2.0), (595, "o", 3.0)])

    async def scenario(pilot: Any) -> None:
        screen, log = await open_log(pilot)
        assert log.streams[588:597] == ["o", "o", "e", "e", "e", "e", "e", "o", "o"]
        top = log.scroll_offset.y
        rows = {n: drawn(log, n - top) for n in (589, 590, 594, 595)}
        assert rows[590].startswith(ERR_MARK + "line 590: fine")
        assert rows[594].startswith(ERR_MARK + "line 594: fine")
        # the others in the same column, behind a blank gutter as wide as the mark
        assert rows[589].startswith(GUTTER + "line 589: fine") and rows[595].startswith(GUTTER + "line 595: fine")
        assert any(s is not None and s.bold for s in styles_at(log, 590 - top, ERR_MARK.strip()))
        assert f"{ERR_MARK.strip()} stderr" in log.border_subtitle
        # E: only those five, and a search looks at them alone; E again: every line.
        await pilot.press("E")
        assert [drawn(log, y).rstrip() for y in range(5)] == [ERR_MARK + f"line {n}: fine" for n in range(590, 595)]
        assert log.virtual_size.height == 5 and "stderr only" in log.border_subtitle
        await pilot.press("slash", *"line 59", "enter")
        await pilot.pause()
        assert len(log.matches) == 5
        await pilot.press("E")
        assert log.virtual_size.height == LINES and "stderr only" not in log.border_subtitle

    drive(log_db, scenario)


def test_log_stderr_marks(snap_compare: Any, log_db: Path) -> None:
    index_lines(log_db.parent / "logs" / RUN / "build.1.log", [(0, "o", 1.0), (590, "e", 2.0), (595, "o", 3.0)])

    async def opened(pilot: Any) -> None:
        await open_log(pilot)
        await pilot.press("G")
        await pilot.pause()

    assert snap_compare(app_for(log_db), terminal_size=(80, 24), run_before=opened)


def big_log(tmp_path: Path) -> tuple[Path, int]:
    """A 3 MB build log: "needle" on lines 100 and 200 (far above the 256 KiB held) and on the
    line before the last."""
    (tmp_path / ".uet").mkdir()
    db = three_steps(tmp_path / ".uet" / "uet.db", tmp_path / ".uet" / "logs" / RUN)
    lines = [f"row {n:06d} " + "z" * 88 for n in range(30_000)]
    lines[100] = "row 000100 the needle is here"
    lines[200] = "row 000200 another Needle"
    lines[-2] = "row 029998 a needle at the end"
    (tmp_path / ".uet" / "logs" / RUN / "build.1.log").write_text("\n".join(lines) + "\n")
    return db, len(lines)


def test_search_covers_the_whole_file_and_n_moves_the_window_to_a_match(tmp_path: Path) -> None:
    db, count = big_log(tmp_path)

    async def scenario(pilot: Any) -> None:
        screen, log = await push_run(pilot)
        await settle(pilot, lambda: log.line_count > 1 and log.lines[-1].startswith("row 029999"))
        log.focus()
        await search(pilot, screen, "needle")
        await settle(pilot, lambda: log.hits is not None)
        # Three in the file, one of them among the lines held (the window is the last 256 KiB).
        assert len(log.matches) == 1
        assert len(log.hits or []) == 3 and log.find_status == "match 3 of 3"
        await pilot.press("n")  # wraps to the first, 2.9 MB above the lines held
        await settle(pilot, lambda: log.moved_window and log.current is not None)
        assert log.find_status == "match 1 of 3"
        line = log.matches[log.current].line
        assert log.lines[line] == "row 000100 the needle is here"
        top = log.scroll_offset.y
        assert top <= line < top + log.scrollable_content_region.height  # in view
        assert not any(text.startswith("row 029999") for text in log.lines)  # the end is not held
        assert not screen.follow  # a window away from the end holds the log
        await pilot.press("n")
        await settle(pilot, lambda: log.find_status == "match 2 of 3")
        assert log.lines[log.matches[log.current].line] == "row 000200 another Needle"
        await pilot.press("G")  # the end again: the tail is read afresh
        await settle(pilot, lambda: not log.moved_window and log.line_count > 1
                     and log.lines[-1].startswith("row 029999"))
        assert screen.follow
        assert log.find_status == "3 matches"  # the file's count again, at none of them

    drive(db, scenario)


def test_the_whole_file_search_reads_in_chunks_and_caps_what_it_keeps(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    db, _count = big_log(tmp_path)
    path = str(db.parent / "logs" / RUN / "build.1.log")
    said: list[int] = []
    hits, capped = log_window.scan(path, "needle", said.append)
    assert len(hits) == 3 and not capped
    assert len(said) == 3 and said == sorted(said) and said[-1] == 100  # 1 MiB at a time
    with open(path, "rb") as handle:
        data = handle.read()
    assert [data[at:at + 6].lower() for at in hits] == [b"needle"] * 3
    assert log_window.scan(path, "Needle")[0] == [hits[1]]  # a capital: case-sensitive
    monkeypatch.setattr(log_window, "MAX_HITS", 100)
    hits, capped = log_window.scan(path, "row")
    assert len(hits) == 100 and capped


def test_the_whole_run_view_merges_lines_by_the_time_they_were_written(log_db: Path) -> None:
    """build's last 40 lines in two runs (stdout at +10 s, stderr at +30 s), test's two lines at
    +20 s and +40 s, docs with no index at its attempt's start (before all of them)."""
    logs = log_db.parent / "logs" / RUN
    t = stores.NOW
    index_lines(logs / "build.1.log", [(0, "o", t + 10), (580, "e", t + 30)])
    index_lines(logs / "test.1.log", [(0, "o", t + 20), (1, "e", t + 40)])

    async def scenario(pilot: Any) -> None:
        screen, _log = await open_log(pilot)
        screen.query_one("#steps", LineTable).focus()
        await pilot.press("M")
        merged = screen.query_one("#merged", StepLog)
        await settle(pilot, lambda: merged.line_count > 0)
        body = [line for line in merged.lines if not line.startswith("uet: ")]
        expected = (["docs  │ docs says hello", "docs  │ docs is done"]
                    + [f"build │ line {n}: {'ERROR disk full' if n % 20 == 0 else 'fine'}" for n in range(560, 580)]
                    + ["test  │ test says hello"]
                    + [f"build │ line {n}: {'ERROR disk full' if n % 20 == 0 else 'fine'}" for n in range(580, 600)]
                    + ["test  │ test is done"])
        assert body == expected
        assert merged.lines[0].startswith("uet: … the last 40 lines of each step")  # build wrote more
        err = [merged.lines[n] for n, stream in enumerate(merged.streams) if stream == "e"]
        assert err == expected[23:43] + expected[-1:]
        assert "by time" in str(merged.border_title)
        # The ▌ of a stderr line does not push its step column out of line with the others.
        merged.scroll_to(y=20, animate=False, immediate=True)
        await pilot.pause()
        rows = [drawn(merged, y) for y in range(merged.scrollable_content_region.height)]
        assert any(row.startswith(ERR_MARK) for row in rows) and any(row.startswith(GUTTER + "build") for row in rows)
        assert len({row.index("│") for row in rows if "│" in row}) == 1

    drive(log_db, scenario)
