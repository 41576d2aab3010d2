"""Choosing a folder from the keyboard: a path completer for an ``Input`` and a tree that
lists folders only.

Both take paths relative to a base folder (the project the app was opened on), so what the
user types and sees does not depend on where the app was started.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from textual.suggester import Suggester
from textual.widgets import DirectoryTree

MAX_LISTED = 2_000
"""Entries read from one folder while completing; a huge folder must not stall typing."""


def resolve(base: Path, typed: str) -> Path:
    """``typed`` as a path: ``~`` expanded, relative to ``base`` unless absolute."""
    path = Path(typed.strip() or ".").expanduser()
    return path if path.is_absolute() else base / path


def shown(base: Path, path: Path) -> str:
    """``path`` as the user would type it: relative to ``base`` when inside it."""
    try:
        relative = path.resolve().relative_to(base.resolve())
    except (ValueError, OSError):
        return str(path)
    return str(relative) if str(relative) != "." else "."


def _folders(parent: Path, prefix: str) -> list[str]:
    found: list[str] = []
    try:
        with os.scandir(parent) as entries:
            for n, entry in enumerate(entries):
                if n >= MAX_LISTED:
                    break
                if not entry.name.startswith(prefix) or (entry.name.startswith(".") and not prefix.startswith(".")):
                    continue
                try:
                    if entry.is_dir():
                        found.append(entry.name)
                except OSError:
                    continue
    except OSError:
        return []
    return sorted(found)


class FolderSuggester(Suggester):
    """Completes the last part of a typed path with the first folder (alphabetically) whose name
    starts with it, hidden folders only once a dot is typed; a complete folder name gets its
    ``/``. Right arrow accepts the suggestion, as in any ``Input``."""

    def __init__(self, base: Path) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.base = base

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        head, _, prefix = value.rpartition("/")
        parent = resolve(self.base, head + "/" if head or value.startswith("/") else ".")
        names = _folders(parent, prefix)
        if not names:
            return None
        if prefix in names:
            return value + "/"
        return value + names[0][len(prefix):]


class FolderTree(DirectoryTree):
    """A ``DirectoryTree`` of folders only, hidden ones left out; Enter chooses a folder
    (``DirectorySelected``) and space opens or closes it."""

    def __init__(self, path: Path, *, label: str | None = None, id: str | None = None) -> None:
        super().__init__(path, id=id)
        self.auto_expand = False
        if label is not None:
            self.root.set_label(label)

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [path for path in paths if not path.name.startswith(".") and _is_dir(path)]


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False
