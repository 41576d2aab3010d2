"""What ``uet run`` prints when its output is no terminal (a pipe, a file, CI) or under
``--plain``: one line per notable event, and the summary at the end. No rich here: a run whose
output is piped does not import the live display.

Lines gather in a list and are written together, at most ``FLUSH_SECONDS`` after the first of
them, so a burst of events costs one write (one system call even under ``PYTHONUNBUFFERED``)
while a reader on the other end of a pipe (``tee``, a CI log) still sees each line within that
time. Whoever ends the loop calls ``flush`` for what is still gathered.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING, TextIO

from tui.format import describe, duration, label

if TYPE_CHECKING:
    from engine.events import Event
    from engine.runner import RunExecutor

QUIET_KINDS = {"step.output", "worker.state", "worker.started"}

FLUSH_SECONDS = 0.1


def notable(event: Event) -> bool:
    if event.kind in QUIET_KINDS:
        return False
    return not (event.kind == "step.state" and event.data.get("to") == "ready")


class PlainLines:
    """Non-TTY output: a timestamped line per notable event, written in batches."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._lines: list[str] = []
        self._flush_due: asyncio.TimerHandle | None = None
        # The stamp of the second the last line fell in: thousands of lines a second share it.
        self._second = -1
        self._stamp = ""

    def on_event(self, event: Event) -> None:
        if not notable(event):
            return
        second = int(event.ts)
        if second != self._second:
            self._second, self._stamp = second, time.strftime("%H:%M:%S", time.localtime(second))
        self._lines.append(f"{self._stamp} {describe(event.kind, event.step_id, event.data)}\n")
        if self._flush_due is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop to flush later from: now
            self.flush()
            return
        self._flush_due = loop.call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Write what has gathered, now."""
        if self._flush_due is not None:
            self._flush_due.cancel()
            self._flush_due = None
        if self._lines:
            text = "".join(self._lines)
            self._lines.clear()
            self.stream.write(text)
        self.stream.flush()


def summary_lines(executor: RunExecutor) -> list[str]:
    snap = executor.progress_snapshot()
    run = executor.run
    lines = [f"run {run.id} {label(run.state.value)}" + (f": {run.reason}" if getattr(run, 'reason', None) else "")]
    if snap is not None:
        lines.append(
            f"{snap.succeeded} succeeded, {snap.failed} failed, {snap.skipped} skipped, {snap.canceled} canceled "
            f"of {snap.total} in {duration(snap.elapsed)}"
            + (f"; {executor.tokens_used:,} tokens" if executor.tokens_used else "")
        )
    return lines
