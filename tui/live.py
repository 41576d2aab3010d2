"""What ``uet run`` shows while a run goes on: on a terminal, a live panel (progress bar with
ETA, the steps running now, breaker changes and recent notable events); elsewhere, one plain
line per notable event so logs and CI output stay readable (``tui.plain``, which imports no rich)."""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from engine.progress import Tally
from tui.bars import bar as progress_bar
from tui.bars import summary
from tui.format import (
    COLOURS,
    describe,
    duration,
    glyph,
    styled,
    waiting,
)
from tui.plain import notable

if TYPE_CHECKING:
    from engine.events import Event
    from engine.runner import RunExecutor

class LivePanel:
    """A rich renderable that redraws from the executor's in-memory state, never the store."""

    def __init__(self, console: Console, workstream: str, run_id: str) -> None:
        self.console = console
        self.workstream = workstream
        self.run_id = run_id
        self.executor: RunExecutor | None = None
        self.recent: deque[tuple[float, str, str]] = deque(maxlen=8)
        self.breakers: dict[str, dict[str, Any]] = {}

    def attach(self, executor: RunExecutor) -> None:
        self.executor = executor

    def on_event(self, event: Event) -> None:
        if event.kind == "breaker.state":
            self.breakers[event.data["tool"]] = {**event.data, "ts": event.ts}
        quiet_start = event.kind == "step.state" and event.data.get("to") == "running" and not (
            event.data.get("skipped") or event.data.get("probe"))
        if notable(event) and not quiet_start:
            state = event.data.get("to", "")
            self.recent.append((event.ts, state, describe(event.kind, event.step_id, event.data)))

    def __rich__(self) -> RenderableType:
        executor = self.executor
        snap = executor.progress_snapshot() if executor else None
        parts: list[RenderableType] = []
        header = Text.assemble(("uet ", "bold"), (self.workstream, "bold cyan"), f"  run {self.run_id}")
        parts.append(header)
        if snap is not None:
            tally = Tally.of_snapshot(snap)
            pausing, waiting_on, waiting_until = executor.activity if executor else (None, None, None)
            width = max(10, min(40, self.console.width - 62))
            if tally.remaining == 0:
                eta = "done"
            elif pausing or waiting_on:
                eta = "ETA -"
            else:
                eta = "ETA " + duration(snap.eta_seconds) if snap.eta_seconds is not None else "ETA …"
            tokens = f"  tokens {executor.tokens_used:,}" if executor and executor.tokens_used else ""
            line = progress_bar(tally, width)
            line.append(f"  {summary(tally)}  elapsed {duration(snap.elapsed)}  {eta}{tokens}")
            parts.append(line)
            if pausing:
                parts.append(Text(f"{glyph('paused')} pausing ({pausing}): {tally.running} running step(s) finish, "
                                  "no new one starts", style="yellow"))
            elif waiting_on:
                held = waiting(waiting_on, waiting_until, time.time())
                parts.append(Text(held.line, style=COLOURS[held.state]))
        if executor is not None and executor.running:
            table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
            table.add_column("running")
            table.add_column("tool")
            table.add_column("attempt", justify="right")
            table.add_column("for", justify="right")
            now = time.monotonic()
            shown = list(executor.running.values())[:8]
            for handle in shown:
                table.add_row(handle.step_id, handle.route.tool, str(handle.number), duration(now - handle.started))
            if len(executor.running) > len(shown):
                table.add_row(f"… and {len(executor.running) - len(shown)} more", "", "", "")
            parts.append(table)
        if self.breakers:
            line = Text("breakers: ")
            for tool, data in sorted(self.breakers.items()):
                line.append_text(Text.from_markup(f"{tool} {styled(data['to'])}  "))
            parts.append(line)
        for ts, state, text in self.recent:
            stamp = time.strftime("%H:%M:%S", time.localtime(ts))
            parts.append(Text.from_markup(f"[dim]{stamp}[/] ") + Text(f"{glyph(state) if state else '•'} {text}"))
        return Group(*parts)
