"""``uet tui``: the dashboard over a project's store."""

from __future__ import annotations

import argparse
import sys

from engine.errors import UsageError
from tui.cli.foreground import open_dashboard
from tui.project import db_path, project_root


def cmd_tui(args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the dashboard needs a terminal; without one use `uet runs`, `uet status RUN` "
                         "or `uet logs RUN --follow`")
    if args.dir is not None:
        if not args.dir.is_dir():
            raise UsageError(f"{args.dir} is not a directory")
        args.project = args.dir
    root = project_root(args)
    return open_dashboard(root, db_path(args, root), slow_link=args.slow_link)
