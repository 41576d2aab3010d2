"""The Project Scanner: one pass over a repository, and every fact bootstrap needs from it.

    scan(root) -> Scan(report: ScanReport, index: ScanIndex)

The report is data (JSON for ``uet bootstrap --json``); the index keeps every path in memory
so the profile selector can test globs and file contents without walking again.

Stages: check the root, find the git work tree (by looking for ``.git``, so no git is
needed), walk (``walker``; in a work tree git then names the files it tracks although an
ignore rule matches them, the one thing a walker cannot see), read the few config files that
matter (``rules_*``), ask git for branch and dirty state (``gitinfo``). Bad trees (unreadable
folders, symlink loops, broken links, binary or huge files, invalid JSON/TOML) become skips
with a reason; only a root that is missing or not a directory is an error:

    InputError (engine.errors)
    ├── NotFound          the root does not exist
    └── ScanRootError     the root is not a directory, or cannot be listed
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.bootstrap.facts import (
    CATEGORIES,
    Context,
    languages,
    layout,
    lower_extensions,
    shallowest_first,
)
from engine.bootstrap.gitinfo import git_info, tracked_but_ignored
from engine.bootstrap.ignore import find_repository, repository_rules
from engine.bootstrap.index import ScanIndex
from engine.bootstrap.lfs import lfs_info
from engine.bootstrap.rules_infra import (
    ansible_playbooks,
    infra_rules,
    kubernetes_manifests,
    terraform_files,
)
from engine.bootstrap.rules_node import node_rules
from engine.bootstrap.rules_other import other_rules
from engine.bootstrap.rules_python import python_commands, python_rules
from engine.bootstrap.walker import Skips, Tick, add_tracked, walk_tree
from engine.errors import InputError, NotFound
from schemas.scan import FileGroup, ScanProgress, ScanReport, Skipped

PROGRESS_INTERVAL_S = 0.1
FILES_LISTED = 20
"""Paths kept per interesting-file group in the report (the index has them all)."""


class ScanRootError(InputError):
    """The path given to scan is not a directory that can be listed."""


@dataclass(frozen=True)
class Scan:
    report: ScanReport
    index: ScanIndex


def scan(
    root: str | os.PathLike[str],
    *,
    on_progress: Callable[[ScanProgress], None] | None = None,
    max_files: int = 2_000_000,
) -> Scan:
    """Scan the tree at ``root``.

    ``on_progress`` is called at most every 0.1 s while walking; an exception it raises (a
    cancelled worker) ends the scan. After ``max_files`` files the walk stops and the report
    says ``truncated``.
    """
    started = time.perf_counter()
    top = _checked_root(root)
    skips = Skips()
    repo = find_repository(top)
    problems: list[tuple[str, str]] = []
    base = repository_rules(top, repo, problems)
    for path, reason in problems:
        skips.add(path, reason)
    walk = walk_tree(top, base, skips, _throttled(on_progress, started), max_files)
    if walk.ignored and not walk.truncated:
        add_tracked(top, walk, tracked_but_ignored(top, repo), skips)
    walk.files.sort()
    walk.dirs.sort()
    index = ScanIndex(top, tuple(walk.files), tuple(walk.dirs))

    ctx = Context(index, walk, skips)
    python_rules(ctx)
    node_rules(ctx)
    other_rules(ctx)
    infra_rules(ctx)
    python_commands(ctx)
    lfs = lfs_info(ctx)
    git = git_info(top, repo)
    best, candidates = ctx.commands.ranked()
    source_dirs, test_dirs = layout(index, ctx.test_dir_hints)
    extensions = lower_extensions(walk.extensions)

    groups = {key: _group(paths) for key, paths in walk.interesting.items()}
    tf = terraform_files(ctx)
    if tf:
        groups["*.tf"] = _group(tf)
    for key, paths in (("ansible playbooks", ansible_playbooks(ctx)), ("kubernetes manifests", kubernetes_manifests(ctx))):
        if paths:
            groups[key] = _group(paths)
    detected = {category: ctx.detected(category) for category in CATEGORIES}
    report = ScanReport(
        root=top,
        files_seen=len(walk.files),
        dirs_seen=len(walk.dirs),
        duration_s=round(time.perf_counter() - started, 4),
        truncated=walk.truncated,
        ignored=walk.ignored,
        vendored=walk.vendored,
        languages=languages(extensions, walk),
        extension_counts=extensions,
        package_managers=ctx.managers.report(),
        notebooks=extensions.get(".ipynb", 0),
        git=git,
        lfs=lfs,
        commands=best,
        command_candidates=candidates,
        source_dirs=source_dirs,
        test_dirs=test_dirs,
        files=dict(sorted(groups.items())),
        skipped=[Skipped(path=path, reason=reason) for path, reason in skips.entries],
        skipped_count=skips.count,
        **detected,
    )
    return Scan(report, index)


def _checked_root(root: str | os.PathLike[str]) -> str:
    """The absolute, symlink-free path of the root, or an error that names it."""
    shown = os.fspath(root)
    try:
        path = os.path.realpath(Path(shown).expanduser(), strict=True)
    except FileNotFoundError as exc:
        raise NotFound(f"{shown}: no such directory; give the path of the project to scan") from exc
    except OSError as exc:
        raise ScanRootError(f"{shown}: cannot be resolved ({exc.strerror or exc})") from exc
    if not os.path.isdir(path):
        raise ScanRootError(f"{shown}: not a directory; give the project's folder, not a file in it")
    try:
        with os.scandir(path):
            pass
    except OSError as exc:
        raise ScanRootError(f"{shown}: cannot list the directory ({exc.strerror or exc})") from exc
    return path


def _group(paths: list[str]) -> FileGroup:
    return FileGroup(count=len(paths), paths=shallowest_first(paths)[:FILES_LISTED])


def _throttled(on_progress: Callable[[ScanProgress], None] | None, started: float) -> Tick | None:
    if on_progress is None:
        return None
    last = started

    def tick(files: int, dirs: int, current: str) -> None:
        nonlocal last
        now = time.perf_counter()
        if now - last >= PROGRESS_INTERVAL_S:
            last = now
            on_progress(ScanProgress(files=files, dirs=dirs, current=current, elapsed_s=round(now - started, 3)))

    return tick
