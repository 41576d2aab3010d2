"""The project a workstream file belongs to, for every face that starts one.

A workstream runs in its project: the nearest directory from the file upward that holds
``.uet/``. Its steps run there, ``{root}`` is there, and its run is recorded in that project's
store (``<root>/.uet/uet.db``), so ``uet runs`` in that folder lists it and ``uet resume``
finds it. ``uet run FILE``, the dashboard's launcher, its bootstrap screen and the workstreams
it starts on opening all ask here, so a file of another folder can never run in the project
that happens to be open (ruff on the wrong tree, an editing step in the wrong repository).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from store import default_db_path


def find_root(start: Path) -> Path:
    """The nearest directory from ``start`` upward that holds ``.uet/``; else the current one."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".uet").is_dir():
            return candidate
    return Path.cwd().resolve()


class Project(NamedTuple):  # not a dataclass: read commands find their project here, without dataclasses
    root: Path
    db: Path


def workstream_project(file: Path, fallback: Path) -> Project:
    """The project of ``file``: the nearest directory upward holding ``.uet/``; a file in no
    project belongs to ``fallback`` (the command line's current directory, the dashboard's
    own project)."""
    try:
        real = file.resolve()
    except (OSError, RuntimeError):  # a loop of links: reading the file will say so, as bad input
        real = file.absolute()
    root = find_root(real.parent)
    if not (root / ".uet").is_dir():
        root = fallback.resolve()
    return Project(root, default_db_path(root))
