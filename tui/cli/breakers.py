"""``uet breakers [list] [--json]`` and ``uet breakers reset TOOL``: each tool's breaker, the
runs it holds, and closing one by hand (``engine.breakers``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from engine.breakers import breaker_lines, reset
from engine.session import operator
from tui.cli.exits import EXIT_OK
from tui.format import duration, label
from tui.project import open_existing, project_root


def cmd_breakers(args: argparse.Namespace) -> int:
    if getattr(args, "breakers_command", None) == "reset":
        root = project_root(args)
        store = open_existing(args)
        try:
            print(reset(store, root, args.tool, operator()))
        finally:
            store.close()
        return EXIT_OK
    store = open_existing(args)
    try:
        lines = breaker_lines()
    finally:
        store.close()
    if getattr(args, "json", False):
        print(json.dumps([dataclasses.asdict(line) for line in lines], indent=2))
        return EXIT_OK
    if not lines:
        print("no breaker yet: no declared tool has run")
        return EXIT_OK
    now = time.time()
    rows = [("TOOL", "STATE", "FAILED", "PROBE IN", "WAITING RUNS")]
    for line in lines:
        probe = duration(max(0.0, line.next_probe_at - now)) if line.next_probe_at else "-"
        rows.append((line.tool, label(line.state), f"{line.failures}/{line.calls}", probe,
                     ", ".join(line.waiting) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[4])
    return EXIT_OK
