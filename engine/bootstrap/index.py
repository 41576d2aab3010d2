"""The scanned tree kept in memory, so the profile selector can test its signals (file, glob,
directory, content) without walking the disk a second time.

Paths are relative, POSIX, sorted. A glob is one compiled regular expression run through
``filter`` over the tuple of paths: about 20 ms for 100,000 files, and each answer is cached.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import pathspec

from engine.errors import InputError

HEAD_LIMIT = 256 * 1024
"""Content checks read at most this much of a file: config files are small, and a 30 MB
file must cost no more than a small one."""

BINARY_PROBE = 8 * 1024
"""A NUL byte within this many leading bytes marks a file as binary (git's own heuristic)."""

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class Head(NamedTuple):
    """The start of a file as text, or the reason there is none."""

    text: str | None
    reason: str | None = None
    truncated: bool = False


class GlobError(InputError):
    """A glob pattern that cannot be used to look files up (a negation, a comment, empty)."""


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> tuple[re.Pattern[str], bool]:
    """Compile a gitignore-style pattern into a regex over relative paths, and whether it
    names directories only (a trailing '/'). Raises GlobError naming the pattern."""
    try:
        compiled = pathspec.GitIgnoreSpec.from_lines([pattern]).patterns
    except Exception as exc:
        raise GlobError(f"glob {pattern!r}: {exc}") from exc
    if not compiled or compiled[0].include is None or compiled[0].regex is None:
        raise GlobError(f"glob {pattern!r}: empty or a comment; give a path pattern such as '**/*.tf'")
    if compiled[0].include is False:
        raise GlobError(f"glob {pattern!r}: a negation ('!') cannot look files up; drop the '!'")
    return compiled[0].regex, pattern.rstrip().endswith("/")


def read_head(root: str, relpath: str, limit: int = HEAD_LIMIT) -> Head:
    """Read up to ``limit`` bytes of a file below ``root`` as text.

    Never follows a symlink out of the root, never blocks on a FIFO, never reads past the
    limit; binary files give no text.
    """
    parts = relpath.split("/")
    if not relpath or relpath.startswith("/") or ".." in parts:
        return Head(None, "path is outside the scanned root")
    path = os.path.join(root, relpath)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            return Head(None, describe_os_error(exc))
        target = os.path.realpath(path)  # a symlink: read it only if it stays inside the root
        if os.path.commonpath([target, root]) != root:
            return Head(None, "symlink to outside the scanned root, not followed")
        try:
            fd = os.open(target, _OPEN_FLAGS)
        except OSError as inner:
            return Head(None, describe_os_error(inner))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return Head(None, "not a regular file")
        chunks = []
        left = limit
        while left > 0:
            chunk = os.read(fd, min(left, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        return Head(None, describe_os_error(exc))
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if b"\0" in data[:BINARY_PROBE]:
        return Head(None, "binary file")
    return Head(data.decode("utf-8", "replace"), None, info.st_size > len(data))


def describe_os_error(exc: OSError) -> str:
    """A short reason for a skip list, the same on every platform."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if isinstance(exc, FileNotFoundError):
        return "vanished while scanning"
    return (exc.strerror or type(exc).__name__).lower()


@dataclass(frozen=True, eq=False)
class ScanIndex:
    """Every file and folder the scan kept (ignored and vendored ones are not here)."""

    root: str
    files: tuple[str, ...]
    dirs: tuple[str, ...]
    _cache: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def glob(self, pattern: str) -> list[str]:
        """Paths a gitignore-style pattern covers, sorted.

        ``pyproject.toml`` matches at any depth, ``/pyproject.toml`` only at the root,
        ``**/*.tf`` any Terraform file, ``docs`` every file under a folder named docs.
        A pattern ending in '/' (``tests/``) answers with the folders themselves, each
        ending in '/' (``tests/``, ``pkg/tests/``), so a directory signal is one call.
        """
        cached = self._cache.get(pattern)
        if cached is None:
            regex, dirs_only = compile_glob(pattern)
            if dirs_only:
                cached = [d for d in (p + "/" for p in self.dirs) if _whole(regex.match(d), d)]
            else:
                cached = list(filter(regex.search, self.files))
            self._cache[pattern] = cached
        return list(cached)

    def read_head(self, relpath: str, limit: int = HEAD_LIMIT) -> str | None:
        """The first ``limit`` bytes of a file as text; None for binary, unreadable or missing
        files (``read`` says why)."""
        return self.read(relpath, limit).text

    def read(self, relpath: str, limit: int = HEAD_LIMIT) -> Head:
        return read_head(self.root, relpath, limit)

    def __len__(self) -> int:
        return len(self.files)


def _whole(match: re.Match[str] | None, text: str) -> bool:
    """A directory pattern matches the folder itself, not only something below it."""
    return match is not None and match.end() == len(text)
