"""``uet logs RUN`` in words: each distinct body of a step's state change is worded once, and
every line still names its own step and says what ``describe`` says of its event, across the
batches the events are read in."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from tests.tui import stores
from tui.cli import main
from tui.cli.read import _EVENT_BATCH
from tui.format import describe

START = {"from": "ready", "to": "running", "attempt": 1, "tool": "sh"}
BODIES = [
    ("step.state", START),
    ("step.state", {"from": "running", "to": "failed", "attempt": 1, "duration": 0.5, "exit_code": 3,
                    "reason": "exit 3"}),
    ("run.state", {"from": "pending", "to": "running"}),
    ("step.state", {"from": "running", "to": "retrying", "attempt": 1, "delay": 2.0}),
    ("step.output", {"line": "from\tthe step"}),
]


def test_every_line_names_its_step_and_says_what_describe_says(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".uet").mkdir()
    db = tmp_path / ".uet" / "uet.db"
    run = stores.big(db, runs=1, steps=8, events=0)
    written = []
    for k in range(2 * _EVENT_BATCH + 7):  # the same bodies in every batch, and steps that differ
        kind, data = BODIES[k % len(BODIES)]
        step = None if kind == "run.state" or k % 97 == 0 else f"n{k % 8}"
        written.append((stores.NOW + k, run, step, kind, json.dumps(data)))
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM events")
        conn.executemany("INSERT INTO events (ts, run_id, step_id, kind, data) VALUES (?, ?, ?, ?, ?)", written)
    assert main(["--db", str(db), "logs", run]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(written)
    for line, (_, _, step, kind, data) in zip(lines, written, strict=True):
        assert line[len("HH:MM:SS "):] == describe(kind, step, json.loads(data))
    assert lines[5].split(" ", 1)[1] == "step n5 ready → running (attempt 1, tool sh)"
    assert lines[97].split(" ", 1)[1] == "run pending → running"
    assert lines[97 * 5].split(" ", 1)[1] == " ready → running (attempt 1, tool sh)"  # no step: as describe says


def test_every_line_is_stamped_with_its_own_second(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Events come many a second, now and then from a clock that went back (another engine's):
    each line's time is its event's, to the second, whichever came before it."""
    (tmp_path / ".uet").mkdir()
    db = tmp_path / ".uet" / "uet.db"
    run = stores.big(db, runs=1, steps=8, events=0)
    offsets = [0.0, 0.25, 0.999, 1.0, 1.5, 0.5, 3600.2, 3600.9, 2.0, 59.999, 60.0]
    written = [(stores.NOW + offset, run, "n1", "step.state", json.dumps(START)) for offset in offsets]
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM events")
        conn.executemany("INSERT INTO events (ts, run_id, step_id, kind, data) VALUES (?, ?, ?, ?, ?)", written)
    assert main(["--db", str(db), "logs", run]) == 0
    stamps = [line.split(" ", 1)[0] for line in capsys.readouterr().out.splitlines()]
    assert stamps == [time.strftime("%H:%M:%S", time.localtime(ts)) for ts, *_ in written]
    assert len(set(stamps)) == 6
