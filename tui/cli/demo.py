"""``uet demo``: lay out the bundled demo project in a fresh temporary directory and run its
workstream there with the live display (plain lines when stdout is not a terminal)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from engine.demo import prepare
from engine.planner import plan_file
from engine.session import create_run
from store import Store
from tui.cli.foreground import open_dashboard, run_in_foreground


def _own_command() -> str:
    """How to call uet again: the path this process was started by, if it is the script."""
    started = Path(sys.argv[0])
    if started.name == "uet" and started.exists():
        return str(started.resolve()) if shutil.which("uet") != str(started.resolve()) else "uet"
    return "uet"


def cmd_demo(args: argparse.Namespace) -> int:
    root = Path(args.dir).resolve() if args.dir else Path(tempfile.mkdtemp(prefix="uet-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    uet = _own_command()  # before the run moves into the project directory
    workstream = prepare(root)
    if sys.stdin.isatty() and sys.stdout.isatty() and not args.plain:
        code = open_dashboard(root, root / ".uet" / "uet.db", start=[workstream])
        print(f"demo project: {root}")
        print(f"look around:  cd {root} && {uet} runs")
        return code
    print(f"demo project: {root}")
    plan = plan_file(workstream, root)
    store = Store(root / ".uet" / "uet.db")
    try:
        run_id = create_run(store, plan)
        code = run_in_foreground(store, run_id, args)
    finally:
        store.close()
    print(f"look around:  cd {root}")
    print(f"              {uet} runs;  {uet} status {run_id[:6]};  {uet} logs {run_id[:6]} test")
    return code
