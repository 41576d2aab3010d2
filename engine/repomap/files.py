"""Which files a repository map reads: the files git knows in a work tree (tracked, and new
ones it does not ignore), else a walk that honours ``.gitignore`` (``engine.bootstrap.walker``).
Only files of a language the map reads (``engine.repomap.languages``), only regular files (a
symbolic link may lead out of the repository), never under ``.uet/`` nor in a vendored or
build folder (``engine.bootstrap.catalog.SKIP_DIRS``), and at most ``MAX_FILES`` of them.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass, field

from engine.bootstrap.catalog import SKIP_DIRS
from engine.bootstrap.ignore import find_repository, repository_rules
from engine.bootstrap.walker import Skips, walk_tree
from engine.repomap.languages import language_of

#: The most source files one map reads; the rest are listed as skipped.
MAX_FILES = 50_000
#: Files a walk looks at (of every kind) before it stops.
MAX_WALKED = 500_000
GIT_TIMEOUT_S = 60
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
IGNORED_DIRS = SKIP_DIRS | {".uet"}


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to the root, with '/'
    language: str
    size: int
    mtime_ns: int


@dataclass
class Listing:
    files: list[SourceFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    source: str = "walk"  # "git" or "walk"


def source_files(root: str) -> Listing:
    """The files of ``root`` (an absolute, resolved directory) the map reads, with their size
    and modification time (the cache's first check)."""
    listing = Listing()
    names = _git_files(root)
    if names is not None:
        listing.source = "git"
    else:
        skips = Skips()
        problems: list[tuple[str, str]] = []
        walk = walk_tree(root, repository_rules(root, find_repository(root), problems), skips, None, MAX_WALKED)
        names = walk.files
    for name in sorted(names):
        language = language_of(name)
        if language is None or IGNORED_DIRS.intersection(name.split("/")[:-1]):
            continue
        try:
            info = os.lstat(os.path.join(root, name))
        except OSError:
            continue  # deleted from the work tree, not from git's index yet
        if not stat.S_ISREG(info.st_mode):
            continue
        if len(listing.files) >= MAX_FILES:
            listing.skipped.append((name, f"over the limit of {MAX_FILES:,} files"))
            continue
        listing.files.append(SourceFile(name, language, info.st_size, info.st_mtime_ns))
    return listing


def _git_files(root: str) -> list[str] | None:
    """The files git lists under ``root`` (tracked, and untracked ones it does not ignore);
    None when ``root`` is in no work tree or git cannot say."""
    if find_repository(root) is None or shutil.which("git") is None:
        return None
    try:
        done = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                              cwd=root, capture_output=True, timeout=GIT_TIMEOUT_S,
                              env={**os.environ, **GIT_ENV}, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    names = done.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    return list(dict.fromkeys(name for name in names if name))
