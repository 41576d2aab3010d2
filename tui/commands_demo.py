"""``uet demo``: lay out the bundled demo project in a fresh temporary directory and run its
workstream there with the live display (plain lines when stdout is not a terminal)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from engine.demo import prepare
from engine.planner import plan_file
from engine.session import create_run
from store import Store
from tui.commands_run import _foreground


def cmd_demo(args: argparse.Namespace) -> int:
    root = Path(args.dir).resolve() if args.dir else Path(tempfile.mkdtemp(prefix="uet-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    workstream = prepare(root)
    print(f"demo project: {root}")
    plan = plan_file(workstream, root)
    store = Store(root / ".uet" / "uet.db")
    try:
        run_id = create_run(store, plan)
        code = _foreground(store, run_id, args)
    finally:
        store.close()
    print(f"look around: cd {root} && uet runs && uet status {run_id} && uet logs {run_id} test")
    return code
