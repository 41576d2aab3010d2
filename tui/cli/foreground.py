"""The two faces a command can stay in the foreground with: the live display of a run executed
here (``uet run``, ``resume``, ``retry``, ``demo``) and the dashboard (``uet tui``, ``demo``).
Textual and rich are imported only when one of them opens."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from schemas.states import RunState
from tui.cli.exits import EXIT_FAILED, EXIT_OK
from tui.settings import load_settings

if TYPE_CHECKING:
    from store import Store


def run_in_foreground(store: Store, run_id: str, args: argparse.Namespace, *, operator_resume: bool = False,
                      reopen: list[str] | None = None, revise: str | None = None) -> int:
    """Execute the run in this process: the live panel on a terminal, plain lines otherwise, the
    status document with ``--json``; Ctrl-C, SIGTERM and SIGHUP cancel it. Exit 0 when it succeeded.
    The engine loads here: the dashboard, the other face of this module, starts without it."""
    from engine.events import EventBus
    from engine.session import execute
    from store import queries
    from tui.cli.output import status_document
    from tui.plain import PlainLines, summary_lines

    bus = EventBus()
    run = queries.get_run(run_id)
    # Steps run in the project root; being there lets the subprocess adapter start children
    # with posix_spawn instead of Popen. Every path this command uses is already absolute.
    os.chdir(run.root)
    holder: dict = {}
    interactive = sys.stdout.isatty() and not getattr(args, "plain", False) and not getattr(args, "json", False)
    notifier = _terminal_notifier(args, run.workstream)
    if notifier is not None:
        bus.subscribe(notifier.on_event)

    async def main() -> RunState:
        loop = asyncio.get_running_loop()

        def attach(executor) -> None:  # noqa: ANN001
            holder["executor"] = executor
            if "panel" in holder:
                holder["panel"].attach(executor)
            for sig, name in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP")):
                loop.add_signal_handler(sig, executor.request_cancel, f"interrupted ({name})")

        if interactive:
            from rich.console import Console
            from rich.live import Live

            from tui.live import LivePanel

            console = Console()
            panel = LivePanel(console, run.workstream, run_id)
            holder["panel"] = panel
            bus.subscribe(panel.on_event)
            with Live(panel, console=console, refresh_per_second=8, transient=False):
                return await execute(store, run_id, bus=bus, operator_resume=operator_resume, reopen=reopen,
                                     revise=revise, on_executor=attach, dedicated=True)
        if not getattr(args, "json", False):
            holder["plain"] = PlainLines()
            bus.subscribe(holder["plain"].on_event)
        return await execute(store, run_id, bus=bus, operator_resume=operator_resume, reopen=reopen,
                             revise=revise, on_executor=attach, dedicated=True)

    try:
        state = asyncio.run(main())
    finally:
        if "plain" in holder:  # the lines of the run's last moments, before its summary (or error)
            holder["plain"].flush()
    if getattr(args, "json", False):
        print(json.dumps(status_document(run_id), indent=2))
    elif "executor" in holder:
        for line in summary_lines(holder["executor"]):
            print(line)
        if state is RunState.PAUSED:
            print(f"resume with: uet resume {run_id}")
        elif state is RunState.FAILED:
            print(f"see: uet status {run_id}   retry a step: uet retry {run_id} STEP")
    return EXIT_OK if state is RunState.SUCCEEDED else EXIT_FAILED


def _terminal_notifier(args: argparse.Namespace, workstream: str):  # noqa: ANN202
    """The bell and desktop notification for this terminal: only when standard output is one,
    not under ``--quiet`` or ``--json``; a bad settings file is reported before the run starts."""
    if not sys.stdout.isatty() or getattr(args, "quiet", False) or getattr(args, "json", False):
        return None
    from tui.notify import TerminalNotifier

    return TerminalNotifier.for_stream(load_settings().notify, sys.stdout, workstream)


def open_dashboard(root: Path, db: Path, start: list[Path] | None = None, slow_link: bool = False) -> int:
    """The Textual dashboard over ``db``, starting the workstreams in ``start``; its exit code."""
    settings = load_settings()  # a bad settings file stops here with its line, before the screen changes
    if slow_link:
        settings = dataclasses.replace(settings, slow_link=True)
    if settings.slow_link:
        os.environ.setdefault("TEXTUAL_FPS", "10")
        os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    from tui.app import make_app  # after TEXTUAL_* are set: Textual reads them at import

    db.parent.mkdir(parents=True, exist_ok=True)
    app = make_app(root, db, settings, start=start or [])
    app.run()
    return EXIT_OK if app.return_code in (None, 0) else int(app.return_code)
