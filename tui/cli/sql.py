"""``uet sql``: one read-only statement over the store (``store.sql``), printed as a table,
JSON or CSV, at most ``--limit`` rows."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from engine.errors import UsageError
from store.errors import NoSuchRecord
from store.sql import SqlFailed, SqlRefused, plain_rows, run_sql
from store.views import ReadOnlyStoreError, view_descriptions
from tui.cli.exits import EXIT_OK
from tui.project import db_path, project_root

_CELL = 40  # characters of a value the table shows


def cmd_sql(args: argparse.Namespace) -> int:
    if args.views:
        return _print_views()
    if not args.query:
        raise UsageError("a query is needed, e.g. uet sql \"select tool, avg(duration) from v_attempts group by 1\"")
    path = db_path(args, project_root(args))
    try:
        result = run_sql(path, args.query, limit=args.limit, backend=args.backend)
    except (SqlRefused, SqlFailed, ReadOnlyStoreError, NoSuchRecord) as exc:
        raise UsageError(str(exc)) from exc
    rows = plain_rows(result.rows)
    more = f"… more rows: only the first {args.limit} are shown (--limit N for more)" if result.more else None
    if args.json:
        print(json.dumps([dict(zip(result.columns, row, strict=True)) for row in rows], indent=2, ensure_ascii=False))
    elif args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(rows)
    else:
        _print_table(result.columns, rows)
        if more is None:
            print(f"({len(rows)} row{'s' * (len(rows) != 1)}, {result.backend})")
    if more is not None:
        print(more, file=sys.stderr if args.json or args.csv else sys.stdout)
    return EXIT_OK


def _text(value: object) -> str:
    text = "NULL" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


def _print_table(columns: list[str], rows: list[list[object]]) -> None:
    cells = [[_text(value) for value in row] for row in rows]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]
    numeric = [bool(rows) and all(isinstance(row[i], int | float) or row[i] is None for row in rows)
               for i in range(len(columns))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if right else v.ljust(w)
                         for v, w, right in zip(values, widths, numeric, strict=True)).rstrip()

    print(line(columns))
    print(line(["-" * w for w in widths]))
    for row in cells:
        print(line(row))


def _print_views() -> int:
    for view in view_descriptions():
        print(f"{view.name}: {view.description}")
        print("    " + ", ".join(view.columns))
    return EXIT_OK
