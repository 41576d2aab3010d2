"""``uet export``: a dataset of the store as Parquet, CSV or JSON lines (``store.export``).

Written to a temporary file beside ``-o`` and renamed into place at the end, so a failed or
interrupted export leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

from engine.errors import UsageError
from store.export import AnalyticsMissing, export, require_pyarrow, resolve_run
from store.since import parse_since
from store.views import ReadOnlyStoreError, connect_read_only
from tui.cli.exits import EXIT_OK
from tui.project import db_path, project_root


def cmd_export(args: argparse.Namespace) -> int:
    if args.format == "parquet":
        if args.output is None:
            raise UsageError("--format parquet needs -o PATH (a Parquet file cannot go to the terminal)")
        try:
            require_pyarrow()
        except AnalyticsMissing as exc:
            raise UsageError(str(exc)) from exc
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from exc
    output: Path | None = args.output
    if output is not None and output.is_dir():
        raise UsageError(f"-o: {output} is a folder; name a file")
    if output is not None and not output.parent.is_dir():
        raise UsageError(f"-o: the folder {output.parent} does not exist")
    try:
        conn = connect_read_only(db_path(args, project_root(args)))
    except ReadOnlyStoreError as exc:
        raise UsageError(str(exc)) from exc
    try:
        try:
            run_id = resolve_run(conn, args.run) if args.run else None
        except ReadOnlyStoreError as exc:
            raise UsageError(str(exc)) from exc
        if output is None:
            export(conn, args.dataset, args.format, out=sys.stdout, since=since, run_id=run_id)
            return EXIT_OK
        count = _to_file(conn, args, output, since, run_id)
    finally:
        conn.close()
    print(f"exported {count:,} {args.dataset} rows to {output}", file=sys.stderr)
    return EXIT_OK


def _to_file(conn: sqlite3.Connection, args: argparse.Namespace, output: Path, since: float | None, run_id: str | None) -> int:
    handle, temporary = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=output.parent)
    os.close(handle)
    part = Path(temporary)
    try:
        if args.format == "parquet":
            count = export(conn, args.dataset, "parquet", path=part, since=since, run_id=run_id)
        else:
            with part.open("w", encoding="utf-8", newline="") as out:
                count = export(conn, args.dataset, args.format, out=out, since=since, run_id=run_id)
        os.replace(part, output)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise
    return count
