"""Finding the project and its store from the command line's options."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from engine.projects import find_root, workstream_project
from store.db import default_db_path

if TYPE_CHECKING:
    import sqlite3

    from store import Store


def project_root(args: argparse.Namespace, file: Path | None = None) -> Path:
    if getattr(args, "project", None):
        return Path(args.project).resolve()
    if file is not None:  # the same answer every face gets (the dashboard's fallback is its project)
        return workstream_project(file, Path.cwd()).root
    return find_root(Path.cwd())


def db_path(args: argparse.Namespace, root: Path) -> Path:
    return Path(args.db).resolve() if getattr(args, "db", None) else default_db_path(root)


def open_existing(args: argparse.Namespace) -> Store:
    """Open the store for read commands; a project without one is an input error. The store is
    imported here: ``uet validate`` finds the project with this module and opens no store."""
    from store import Store

    return Store(_existing(args))


def read_existing(args: argparse.Namespace) -> tuple[Path, sqlite3.Connection]:
    """The store's path and a plain connection to read it with (``store.reads``), for the read
    commands: no ORM, no Pydantic. An out-of-date store is migrated first, as ``open_existing``
    would."""
    from store.reads import connect

    path = _existing(args)
    return path, connect(path)


def _existing(args: argparse.Namespace) -> Path:
    from store.errors import NoSuchRecord

    path = db_path(args, project_root(args))
    if not path.exists():
        raise NoSuchRecord(f"no UET database at {path}: run a workstream first (uet run FILE), or pass --db")
    return path
