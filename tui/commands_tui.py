"""``uet tui``: the dashboard over a project's store."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from engine.errors import UsageError
from tui.cli import EXIT_OK
from tui.project import db_path, project_root
from tui.settings import load_settings


def open_dashboard(root: Path, db: Path, start: list[Path] | None = None, slow_link: bool = False) -> int:
    settings = load_settings()  # a bad settings file stops here with its line, before the screen changes
    if slow_link:
        settings = settings.model_copy(update={"slow_link": True})
    if settings.slow_link:
        os.environ.setdefault("TEXTUAL_FPS", "10")
        os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    from tui.app import make_app  # after TEXTUAL_* are set: Textual reads them at import

    db.parent.mkdir(parents=True, exist_ok=True)
    app = make_app(root, db, settings, start=start or [])
    app.run()
    return EXIT_OK if app.return_code in (None, 0) else int(app.return_code)


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
