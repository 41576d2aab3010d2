"""What a plain or piped ``uet run`` prints: a line per notable event, gathered and written
together within ``FLUSH_SECONDS``, and every line of the run before its summary."""

from __future__ import annotations

import argparse
import asyncio
import io
import time
from pathlib import Path

import pytest

from engine.events import Event
from engine.planner import build_plan
from engine.session import create_run, open_store
from schemas.workstream import Workstream
from tui.cli.foreground import run_in_foreground
from tui.plain import FLUSH_SECONDS, PlainLines


class Writes(io.StringIO):
    """A stream that counts its writes and says when the first one came."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.written: asyncio.Event | None = None

    def write(self, text: str) -> int:
        self.writes += 1
        if self.written is not None:
            self.written.set()
        return super().write(text)


def finished(step: str, ts: float) -> Event:
    return Event(ts, "step.state", "r1", step, {"from": "running", "to": "succeeded", "attempt": 1,
                                                 "exit_code": 0, "duration": 0.01})


def test_a_burst_of_lines_is_one_write_within_the_flush_time() -> None:
    stream = Writes()
    lines = PlainLines(stream)

    async def burst() -> None:
        stream.written = asyncio.Event()
        now = time.time()
        for n in range(50):
            lines.on_event(finished(f"s{n}", now))
        lines.on_event(Event(now, "step.state", "r1", "s0", {"from": "pending", "to": "ready"}))  # not notable
        assert stream.writes == 0  # gathered, not written one by one
        due = lines._flush_due
        assert due is not None and due.when() - asyncio.get_running_loop().time() <= FLUSH_SECONDS
        await asyncio.wait_for(stream.written.wait(), timeout=10)

    asyncio.run(burst())
    text = stream.getvalue().splitlines()
    assert stream.writes == 1
    assert len(text) == 50
    stamp = time.strftime("%H:%M:%S", time.localtime(int(time.time())))[:5]  # the minute, not the second
    assert text[0].startswith(stamp) and text[0].endswith("step s0 running → succeeded after attempt 1 in 10ms")
    assert text[-1].endswith("step s49 running → succeeded after attempt 1 in 10ms")


def test_without_a_loop_a_line_is_written_at_once() -> None:
    stream = Writes()
    PlainLines(stream).on_event(finished("lint", time.time()))
    assert stream.writes == 1 and "step lint running → succeeded" in stream.getvalue()


def test_a_run_prints_every_line_before_its_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The run's last lines are still gathered when its loop ends: they are written before the
    summary, not lost with the loop's pending flush."""
    monkeypatch.chdir(tmp_path)  # the command moves into the run's root
    (tmp_path / ".uet").mkdir()
    steps = [{"id": "a", "call": "tests.bench.noop:noop"}, {"id": "b", "call": "tests.bench.noop:noop", "needs": ["a"]}]
    store = open_store(tmp_path)
    try:
        run_id = create_run(store, build_plan(Workstream.model_validate({"name": "plain", "steps": steps}), None,
                                              None, tmp_path))
        assert run_in_foreground(store, run_id, argparse.Namespace(plain=True)) == 0
    finally:
        store.close()
    out = capsys.readouterr().out.splitlines()
    summary = next(n for n, line in enumerate(out) if line.startswith(f"run {run_id} "))
    assert any("step b running → succeeded after attempt 1" in line for line in out[:summary])
    assert any(line.endswith("run running → succeeded") for line in out[:summary])
    assert out[summary + 1].startswith("2 succeeded, 0 failed")
