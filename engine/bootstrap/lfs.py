"""Git LFS: which paths .gitattributes routes through LFS, and which of those files are still
pointers (their content was never fetched, so a tool reading them sees three lines of text).

Nothing is fetched and ``git lfs`` is not needed: a pointer is recognised by its first line.
Only files under an LFS pattern are looked at, and only those small enough to be a pointer.
"""

from __future__ import annotations

import os

from engine.bootstrap.facts import Context, folder_of
from engine.bootstrap.index import GlobError
from schemas.scan import LfsInfo

POINTER_PREFIX = "version https://git-lfs.github.com/spec/v1"
POINTER_MAX_BYTES = 1024
"""The LFS spec keeps pointer files under 1024 bytes."""
POINTERS_LISTED = 200
MAX_CANDIDATES = 100_000


def _rooted(folder: str, pattern: str) -> str:
    """A .gitattributes pattern made relative to the scanned root: a pattern without a slash
    matches at any depth below its own folder, one with a slash is anchored there."""
    if folder == ".":
        return pattern
    anchored = "/" in pattern.rstrip("/")
    return f"{folder}/{pattern.lstrip('/')}" if anchored else f"{folder}/**/{pattern}"


def lfs_info(ctx: Context) -> LfsInfo:
    patterns: list[str] = []
    for path in ctx.paths(".gitattributes"):
        for line in (ctx.text(path) or "").splitlines():
            fields = line.split()
            if len(fields) > 1 and not fields[0].startswith("#") and "filter=lfs" in fields[1:]:
                rooted = _rooted(folder_of(path), fields[0])
                if rooted not in patterns:
                    patterns.append(rooted)
    pointers: list[str] = []
    checked: set[str] = set()
    for pattern in patterns:
        try:
            candidates = ctx.index.glob(pattern)
        except GlobError as exc:
            ctx.skips.add(".gitattributes", str(exc))
            continue
        for relpath in candidates:
            if relpath in checked or len(checked) >= MAX_CANDIDATES:
                continue
            checked.add(relpath)
            if _is_pointer(ctx, relpath):
                pointers.append(relpath)
    pointers.sort()
    return LfsInfo(tracked_patterns=patterns, pointer_files=pointers[:POINTERS_LISTED], count=len(pointers))


def _is_pointer(ctx: Context, relpath: str) -> bool:
    try:
        if os.lstat(os.path.join(ctx.index.root, relpath)).st_size > POINTER_MAX_BYTES:
            return False
    except OSError:
        return False
    head = ctx.index.read(relpath, len(POINTER_PREFIX))
    return head.text == POINTER_PREFIX
