"""``uet schemas export``: write (or check) the JSON Schema files of every contract."""

from __future__ import annotations

import argparse

from schemas.export import JSON_DIR, export_all, stale_files
from tui.cli.exits import EXIT_FAILED, EXIT_OK


def cmd_schemas(args: argparse.Namespace) -> int:
    directory = args.dir or JSON_DIR
    if args.check:
        stale = stale_files(directory)
        for name in stale:
            print(f"out of date: {directory / name}")
        if stale:
            print("fix with: uet schemas export")
            return EXIT_FAILED
        print(f"all schema files in {directory} match the models")
        return EXIT_OK
    for path in export_all(directory):
        print(f"wrote {path}")
    return EXIT_OK
