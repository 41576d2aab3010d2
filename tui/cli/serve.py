"""Triggers on the command line: ``uet serve`` (the project's always-on engine, in the
foreground or detached), ``uet watch FILE`` (one workstream's file triggers, inline) and
``uet triggers`` (list; fire, pause, resume one)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.errors import UetError
from engine.events import Event, EventBus
from engine.session import operator
from engine.triggers import control
from engine.triggers.server import TriggerServer, create_fire_run
from store import Store, queries
from store import triggers as fires_db
from tui.cli.exits import EXIT_FAILED, EXIT_OK
from tui.cli.foreground import run_in_foreground
from tui.cli.output import print_table
from tui.notify import for_terminal
from tui.project import db_path, project_root

#: How long ``uet serve --detach`` waits for the server to hold the lease.
DETACH_WAIT = 20.0


def _say(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


#: What the server prints of its runs' events, as ``uet run --plain`` words them.
SHOWN = ("run.state", "step.state", "breaker.state", "step.waiting")


def _print_event(event: Event) -> None:
    from tui.format import describe

    if event.kind.startswith("trigger.") or event.kind in SHOWN and event.data.get("to") != "ready":
        run = f"[{event.run_id}] " if event.run_id else ""
        _say(run + describe(event.kind, event.step_id, event.data))


def _run_server(store: Store, root: Path, files: list[Path] | None = None, only_files: bool = False) -> int:
    bus = EventBus()
    bus.subscribe(_print_event)
    notifier = for_terminal(sys.stdout, lambda run_id: queries.get_run(run_id).workstream)
    if notifier is not None:  # the bell and a desktop notification when a run it started ends
        bus.subscribe(notifier.on_event)
    os.chdir(root)

    async def main() -> list[tuple[str, int]]:
        server = TriggerServer(store, root, bus=bus, say=_say, files=files, only_files=only_files)
        server.claim()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        await server.start()
        names = ", ".join(sorted(spec.label for spec in server.catalog.specs.values())) or "none"
        _say(f"serving {len(server.catalog.specs)} trigger(s) of {root} (pid {os.getpid()}): {names}")
        for rel, problem in server.catalog.problems.items():
            _say(f"{rel} is not valid: {problem}")
        await stop.wait()
        _say("stopping")
        return await server.stop()

    for run_id, pid in asyncio.run(main()):
        _say(f"run {run_id} handed over to a background engine (pid {pid}); follow it with: uet logs {run_id} -f")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    root = project_root(args)
    db = db_path(args, root)
    if args.detach:
        return _detach(root, db)
    store = Store(db)
    try:
        return _run_server(store, root)
    finally:
        store.close()


def _detach(root: Path, db: Path) -> int:
    """Start ``uet serve`` in its own session, logging to ``.uet/logs/serve.log``, and wait
    until it holds the project's lease (or exits, whose last line is said)."""
    log_path = root / ".uet" / "logs" / "serve.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "tui.cli", "serve", "--project", str(root), "--db", str(db)]
    with open(log_path, "ab") as log:
        child = subprocess.Popen(argv, cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 start_new_session=True, close_fds=True)
    store = Store(db)
    try:
        deadline = time.monotonic() + DETACH_WAIT
        while time.monotonic() < deadline:
            live = control.server()
            if live is not None and live.worker.pid == child.pid:
                print(child.pid)
                print(f"serving the triggers of {root} in the background (pid {child.pid}); its log: {log_path}",
                      file=sys.stderr)
                return EXIT_OK
            if child.poll() is not None:
                lines = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
                print(lines[-1] if lines else f"uet: uet serve exited with code {child.returncode}", file=sys.stderr)
                return EXIT_FAILED
            time.sleep(0.1)
    finally:
        store.close()
    print(f"uet: the server (pid {child.pid}) did not start within {DETACH_WAIT:.0f}s; see {log_path}",
          file=sys.stderr)
    return EXIT_FAILED


def cmd_watch(args: argparse.Namespace) -> int:
    from engine.planner import plan_file

    root = project_root(args, args.file)
    plan_file(args.file, root)  # bad input stops here (exit 2), before the store is touched
    store = Store(db_path(args, root))
    try:
        return _run_server(store, root, files=[args.file.resolve()], only_files=True)
    finally:
        store.close()


# -- uet triggers ---------------------------------------------------------------------------


def cmd_triggers(args: argparse.Namespace) -> int:
    root = project_root(args)
    action = getattr(args, "triggers_command", None) or "list"
    store = Store(db_path(args, root))
    try:
        catalog = control.catalog(root)
        if action == "list":
            return _list(catalog, args)
        spec = catalog.find(args.name)
        if action in ("pause", "resume"):
            changed = control.set_paused(store, spec, action == "pause", operator())
            word = "paused" if action == "pause" else "resumed"
            print(f"trigger {spec.label} {word}" if changed else f"trigger {spec.label} was already {word}")
            return EXIT_OK
        return _fire(store, root, spec, args)
    finally:
        store.close()


def _ago(ts: float | None, now: float) -> str:
    from tui.format import duration

    if ts is None:
        return "-"
    delta = ts - now
    return f"in {duration(delta)}" if delta >= 0 else f"{duration(-delta)} ago"


def _list(catalog: control.Catalog, args: argparse.Namespace) -> int:
    now = time.time()
    found = control.rows(catalog, now)
    live = control.server()
    if args.json:
        print(json.dumps({
            "server": {"pid": live.worker.pid, "host": live.worker.host, "since": live.lease.since,
                       "worker": live.worker.id} if live else None,
            "invalid": catalog.problems,
            "triggers": [{"workstream": r.workstream, "name": r.name, "kind": r.kind, "what": r.what,
                          "next_fire": r.next_fire, "paused": r.paused,
                          "last_fire": r.last.model_dump(mode="json") if r.last else None,
                          "last_run_state": r.last_run_state} for r in found]}, indent=2))
        return EXIT_OK
    print(f"server: {live.words}" if live else "server: none (start one with: uet serve --detach)")
    for rel, problem in catalog.problems.items():
        print(f"invalid: {rel}: {problem}")
    if not found:
        print("no triggers: add `on:` to a workstream in .uet/workstreams/")
        return EXIT_OK
    table = [("TRIGGER", "KIND", "WHAT", "NEXT", "LAST FIRE", "RUN", "STATE")]
    for r in found:
        last = r.last
        table.append((r.label + (" ‖ paused" if r.paused else ""), r.kind, r.what[:30],
                      _ago(r.next_fire, now) if not r.paused else "paused",
                      _ago(last.fired_at, now) if last else "never",
                      (last.run_id or "-") if last else "-",
                      (r.last_run_state or last.outcome or last.state) if last else "-"))
    print_table(table)
    return EXIT_OK


def _fire(store: Store, root: Path, spec: control.TriggerSpec, args: argparse.Namespace) -> int:
    fire = control.fire_by_hand(store, spec, operator())
    live = control.server()
    if live is not None:
        print(f"fire {fire.id} of {spec.label} recorded; the server ({live.words}) starts its run")
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            now = fires_db.get_fire(fire.id)
            if now is not None and now.state != "pending":
                print(f"run {now.run_id} ({now.state}); follow it with: uet logs {now.run_id} -f" if now.run_id
                      else f"fire {fire.id}: {now.outcome or now.state}")
                return EXIT_OK
            time.sleep(0.1)
        print(f"uet: the server has not taken fire {fire.id} yet; it has it recorded", file=sys.stderr)
        return EXIT_FAILED
    try:
        run_id = create_fire_run(store, fire, spec.plan)
    except UetError:
        fires_db.set_fire(store, fire.id, state="done", outcome="invalid")
        raise
    if run_id is None:
        print(f"fire {fire.id}: no step is affected")
        return EXIT_OK
    if args.detach:
        from engine.steering import EngineDidNotStart, spawn_engine

        try:
            started = spawn_engine(store, root, run_id)
        except EngineDidNotStart as exc:
            print(f"uet: {exc}", file=sys.stderr)
            return EXIT_FAILED
        print(run_id)
        print(f"fire {fire.id} runs in the background (pid {started.pid}); follow it with: uet logs {run_id} -f",
              file=sys.stderr)
        return EXIT_OK
    code = run_in_foreground(store, run_id, argparse.Namespace(plain=args.plain, json=False))
    state = queries.get_run(run_id).state.value
    fires_db.set_fire(store, fire.id, state="done", outcome=state,
                      event=("trigger.done", {"trigger": fire.trigger, "workstream": fire.workstream, "outcome": state}))
    return code
