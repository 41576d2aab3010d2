"""The tree walk: one ``os.scandir`` per folder, an explicit stack instead of recursion, and as
little Python per file as the facts allow.

Per file the loop does two type checks that cost no system call (``scandir`` already knows the
entry type), an ignore check only when rules apply, a dictionary increment for the
extension and a set lookup for the name. Files are never opened here; the facts stage opens
the few config files that matter.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.bootstrap.catalog import (
    INTERESTING_DIRS,
    INTERESTING_NAMES,
    INTERESTING_PREFIXES,
    SKIP_DIRS,
    pattern_key,
)
from engine.bootstrap.ignore import Rules, load_rules, verdict
from engine.bootstrap.index import describe_os_error

SKIPPED_KEPT = 200
"""Skipped entries listed in the report; the rest are only counted."""


@dataclass
class Skips:
    """Entries left out with a reason: the first SKIPPED_KEPT listed, all counted."""

    entries: list[tuple[str, str]] = field(default_factory=list)
    count: int = 0

    def add(self, path: str, reason: str) -> None:
        self.count += 1
        if len(self.entries) < SKIPPED_KEPT:
            self.entries.append((path or ".", reason))


@dataclass
class Walk:
    files: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    extensions: dict[str, int] = field(default_factory=dict)
    interesting: dict[str, list[str]] = field(default_factory=dict)
    ignored: int = 0
    vendored: int = 0
    truncated: bool = False


Tick = Callable[[int, int, str], None]


def walk_tree(root: str, base: tuple[Rules, ...], skips: Skips, tick: Tick | None, max_files: int) -> Walk:
    """Walk ``root`` (an absolute, resolved directory) and collect what the facts need."""
    out = Walk()
    files, dirs, extensions, interesting = out.files, out.dirs, out.extensions, out.interesting
    names = INTERESTING_NAMES
    prefixes = INTERESTING_PREFIXES
    stack: list[tuple[str, tuple[Rules, ...]]] = [("", base)]
    while stack:
        rel, chain = stack.pop()
        if tick is not None:
            tick(len(files), len(dirs), rel[:-1] or ".")
        folder = root + "/" + rel if rel else root
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as exc:
            skips.add(rel.rstrip("/"), describe_os_error(exc))
            continue
        own, problem = load_rules(folder + "/.gitignore", strip=len(rel))
        if problem:
            skips.add(rel + ".gitignore", problem)
        if own is not None:
            chain = (own, *chain)
        whole_dir = INTERESTING_DIRS.get(rel)
        for entry in entries:
            name = entry.name
            if entry.is_dir(follow_symlinks=False):
                if name in SKIP_DIRS:
                    if name != ".git":
                        out.vendored += 1
                    continue
                sub = rel + name + "/"
                if chain and verdict(chain, sub):
                    out.ignored += 1
                    continue
                dirs.append(sub[:-1])
                stack.append((sub, chain))
                continue
            if not entry.is_file(follow_symlinks=False) and not _symlink_to_file(entry, rel + name, skips):
                continue
            path = rel + name
            if chain and verdict(chain, path):
                out.ignored += 1
                continue
            if len(files) >= max_files:
                out.truncated = True
                skips.add(path, f"file limit of {max_files} reached; the rest of the tree was not scanned")
                return out
            files.append(path)
            dot = name.rfind(".")
            ext = name[dot:] if dot > 0 else ""
            extensions[ext] = extensions.get(ext, 0) + 1
            if name in names:
                key: str | None = name
            elif name.startswith(prefixes):
                key = pattern_key(name)
            else:
                key = whole_dir
            if key is not None:
                group = interesting.get(key)
                if group is None:
                    interesting[key] = [path]
                else:
                    group.append(path)
    return out


def _symlink_to_file(entry: os.DirEntry[str], path: str, skips: Skips) -> bool:
    """Whether a non-regular entry should count as a file: a symlink to a regular file does
    (its target is read only if it stays inside the root); loops, broken links, links to
    folders (never followed) and special files are skipped with the reason."""
    if not entry.is_symlink():
        skips.add(path, "not a regular file (a FIFO, socket or device)")
        return False
    try:
        mode = os.stat(entry.path).st_mode
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            skips.add(path, "broken symlink: its target does not exist")
        else:
            skips.add(path, describe_os_error(exc))
        return False
    if stat.S_ISDIR(mode):
        skips.add(path, "symlink to a folder, not followed")
        return False
    if not stat.S_ISREG(mode):
        skips.add(path, "symlink to a special file")
        return False
    return True


def add_tracked(root: str, walk: Walk, paths: list[str], skips: Skips) -> int:
    """Add files git tracks inside folders or under names the ignore rules left out (the walk
    cannot know them). Vendored folders stay out, as do files missing from the work tree.

    The bookkeeping is the hot loop's, written once more for a handful of files."""
    known = set(walk.files)
    folders = set(walk.dirs)
    added = 0
    for path in paths:
        parts = path.split("/")
        if path in known or SKIP_DIRS.intersection(parts[:-1]):
            continue
        full = os.path.join(root, path)
        try:
            mode = os.lstat(full).st_mode
        except OSError:
            continue  # deleted in the work tree, not committed yet
        if stat.S_ISLNK(mode):
            try:
                mode = os.stat(full).st_mode
            except OSError as exc:
                skips.add(path, describe_os_error(exc))
                continue
        if not stat.S_ISREG(mode):
            continue
        known.add(path)
        walk.files.append(path)
        added += 1
        name = parts[-1]
        dot = name.rfind(".")
        ext = name[dot:] if dot > 0 else ""
        walk.extensions[ext] = walk.extensions.get(ext, 0) + 1
        folder = "/".join(parts[:-1])
        key = name if name in INTERESTING_NAMES else pattern_key(name) or INTERESTING_DIRS.get(folder + "/")
        if key is not None:
            walk.interesting.setdefault(key, []).append(path)
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent not in folders:
                folders.add(parent)
                walk.dirs.append(parent)
    return added
