"""``uet patches`` and ``uet costs``: the patch ledger and the costs, listed. Read commands: they
read with ``store.reads`` on a plain connection, so they load neither the engine, the ORM nor
Pydantic; reviewing a patch is ``tui.cli.patch``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from engine.errors import UsageError
from engine.review import rounds_allowed
from store import reads
from store.since import parse_since
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


def _cost_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per row of totals, the columns as wide as this table's widest value."""
    cells = [(" / ".join(str(v) if v is not None else "(unknown)" for v in row["key"].values()),
              f"{row['attempts']:,}×", f"{row['tokens_in']:,}", f"{row['tokens_out']:,}", _usd(row)) for row in rows]
    if not cells:
        return []
    key, attempts, tin, tout = (max(len(c[i]) for c in cells) for i in range(4))
    return [f"  {c[0]:<{key}}  {c[1]:>{attempts}}  in {c[2]:>{tin}}  out {c[3]:>{tout}}  {c[4]}" for c in cells]


def _usd(totals: dict[str, Any]) -> str:
    priced = f"${totals['usd']:,.4f}"
    return priced + (f" + {totals['unpriced']:,} unpriced" if totals["unpriced"] else "")


def cmd_costs(args: argparse.Namespace) -> int:
    """One run: its total, by step, tool and model. All runs: the total, by tool and model over
    every run, and by run for the newest ``--limit`` runs that have costs (``--all``: every one);
    by step needs a run (a store of a year holds a million steps)."""
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from exc
    _, conn = read_existing(args)
    try:
        run_id = reads.resolve_run_id(conn, args.run) if args.run else None
        # One pass over the attempts, grouped finely, then folded by step, tool, model and in all.
        fine = reads.cost_totals(conn, ("step_id", "tool", "model") if run_id else ("tool", "model"), run_id,
                                 since=since, rounded=False)
        tables: dict[str, list[dict[str, Any]]] = {}
        more = False
        if run_id is not None:
            tables["step"] = reads.fold_costs(fine, ("step_id",))
        else:
            listed = reads.runs_with_costs(conn, None if args.all else args.limit + 1, since)
            more = len(listed) > args.limit and not args.all
            tables["run"] = reads.cost_totals(conn, ("run_id",), run_ids=listed[:None if args.all else args.limit],
                                              since=since)
        tables |= {"tool": reads.fold_costs(fine, ("tool",)), "model": reads.fold_costs(fine, ("model",))}
        total = reads.fold_costs(fine, ())
        if args.json:
            print(json.dumps({"run": run_id, "since": since, "total": total[0] if total else None,
                              **{f"by_{k}": v for k, v in tables.items()},
                              **({} if run_id else {"more_runs": more})}, indent=2))
            return EXIT_OK
        if not total:
            print("no costs recorded yet" if since is None else f"no costs since {args.since}")
            return EXIT_OK
        t = total[0]
        print(("total" if since is None else f"since {args.since}") + f": {t['attempts']:,} attempt(s), "
              f"{t['tokens_in']:,} tokens in, {t['tokens_out']:,} out, {t['tokens_cached']:,} cached, {_usd(t)}, "
              f"{duration(t['wall'])} of tool time")
        if t["untokened"]:
            print(f"       {t['untokened']:,} attempt(s) reported no tokens: their counts are unknown, not zero")
        for name, rows in tables.items():
            heading = {"run": "by run, newest first" + (f" (the newest {args.limit})" if more else "")}.get(
                name, f"by {name}")
            print(f"\n{heading}:")
            for line in _cost_lines(rows):
                print(line)
            if name == "run" and more:
                print("  … older runs have costs too: --limit N, --all, or uet costs RUN for one")
        if run_id is None:
            print("\nby step: name a run (uet costs RUN)")
        return EXIT_OK
    finally:
        conn.close()
