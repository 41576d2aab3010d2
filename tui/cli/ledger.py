"""``uet patches`` and ``uet costs``: the patch ledger and the costs, listed. Read commands: they
read with ``store.reads`` on a plain connection, so they load neither the engine, the ORM nor
Pydantic; reviewing a patch is ``tui.cli.patch``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from engine.review import rounds_allowed
from store import reads
from tui.cli.exits import EXIT_OK
from tui.cli.output import patch_label, print_table
from tui.format import age, duration
from tui.project import read_existing


def cmd_patches(args: argparse.Namespace) -> int:
    _, conn = read_existing(args)
    try:
        run_id = reads.resolve_run_id(conn, args.run) if args.run else None
        patches = reads.patches(conn, run_id=run_id, state=args.state)
        if args.json:
            print(json.dumps(patches, indent=2))
            return EXIT_OK
        if not patches:
            print("no patches" + (f" in state {args.state}" if args.state else "") +
                  ": steps with `produces: patch` propose them")
            return EXIT_OK
        rows = [("PATCH", "STATE", "ROUND", "RUN", "STEP", "FILES", "+/-", "GATE", "AGE")]
        limits: dict[tuple[str, str], int] = {}
        for p in patches:
            step = (p["run_id"], p["step_id"])
            if step not in limits:
                limits[step] = rounds_allowed(reads.step_spec(conn, *step))
            rows.append((p["id"], patch_label(p["state"]), f"{p['round']}/{limits[step]}", p["run_id"], p["step_id"],
                         str(len(p["files"])), f"+{p['added']}/-{p['removed']}", p["gate"] or "-",
                         age(p["created_at"])))
        print_table(rows)
        return EXIT_OK
    finally:
        conn.close()


def _usd(totals: dict[str, Any]) -> str:
    priced = f"${totals['usd']:,.4f}"
    return priced + (f" + {totals['unpriced']} unpriced" if totals["unpriced"] else "")


def cmd_costs(args: argparse.Namespace) -> int:
    _, conn = read_existing(args)
    try:
        run_id = reads.resolve_run_id(conn, args.run) if args.run else None
        groups = {"run": ("run_id",), "step": ("run_id", "step_id"), "tool": ("tool",), "model": ("model",)}
        tables = {name: reads.cost_totals(conn, cols, run_id) for name, cols in groups.items()}
        total = reads.cost_totals(conn, (), run_id)
        if args.json:
            print(json.dumps({"run": run_id, "total": total[0] if total else None,
                              **{f"by_{k}": v for k, v in tables.items()}}, indent=2))
            return EXIT_OK
        if not total:
            print("no costs recorded yet")
            return EXIT_OK
        t = total[0]
        print(f"total: {t['attempts']} attempt(s), {t['tokens_in']:,} tokens in, {t['tokens_out']:,} out, "
              f"{t['tokens_cached']:,} cached, {_usd(t)}, {duration(t['wall'])} of tool time")
        if t["untokened"]:
            print(f"       {t['untokened']} attempt(s) reported no tokens: their counts are unknown, not zero")
        for name in ("run", "step", "tool", "model"):
            print(f"\nby {name}:")
            for row in tables[name]:
                key = " / ".join(str(v) if v is not None else "(unknown)" for v in row["key"].values())
                print(f"  {key:40} {row['attempts']:>5}×  in {row['tokens_in']:>9,}  out {row['tokens_out']:>8,}  "
                      f"{_usd(row)}")
        return EXIT_OK
    finally:
        conn.close()
