"""Gitignore rules as git applies them, for the walker.

Matching itself is pathspec's (gitignore semantics are subtle: anchoring, ``**``, directory-only
patterns, negation); this module only decides *which* rule files apply to a path and in what
order. Git reads, from highest to lowest priority: the ``.gitignore`` of the path's own
directory, those of each parent up to the top of the work tree, then ``.git/info/exclude``.
The user's global excludes file is left out on purpose, so a scan gives the same answer on
every machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pathspec

MAX_RULES_BYTES = 1024 * 1024
"""A .gitignore larger than this is read only this far: real ones are a few KiB."""


@dataclass(frozen=True, slots=True)
class Rules:
    """The patterns of one rule file, and how to express a root-relative path in its terms.

    Rules below the scanned root cut their own directory off the front of the path (``strip``);
    rules above it (the root is a subfolder of a work tree) put the way down in front
    (``prepend``).
    """

    spec: pathspec.GitIgnoreSpec
    strip: int = 0
    prepend: str = ""


def verdict(chain: tuple[Rules, ...], relpath: str) -> bool:
    """Whether ``relpath`` (a directory ends in '/') is ignored: the nearest rule file with an
    opinion decides; a negation (``!keep.log``) is an opinion too."""
    for rules in chain:
        include = rules.spec.check_file(rules.prepend + relpath[rules.strip:]).include
        if include is not None:
            return include
    return False


def load_rules(path: str, strip: int = 0, prepend: str = "") -> tuple[Rules | None, str | None]:
    """Compile one rule file; returns the rules (None when absent or empty) and, when part of
    it could not be used, the reason."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_RULES_BYTES)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"ignore rules not read: {exc.strerror or exc}"
    lines = data.decode("utf-8", "replace").splitlines()
    problem = None
    try:
        spec = pathspec.GitIgnoreSpec.from_lines(lines)
    except Exception:  # pathspec raises its own errors for malformed patterns; keep the good lines
        good = []
        for line in lines:
            try:
                pathspec.GitIgnoreSpec.from_lines([line])
            except Exception:
                problem = f"ignore pattern {line.strip()!r} is not valid and was left out"
                continue
            good.append(line)
        spec = pathspec.GitIgnoreSpec.from_lines(good)
    if not any(p.include is not None for p in spec.patterns):
        return None, problem
    return Rules(spec, strip, prepend), problem


@dataclass(frozen=True)
class Repository:
    """Where the work tree that holds the root starts, and its git directory."""

    toplevel: str
    gitdir: str | None


def find_repository(root: str) -> Repository | None:
    """The nearest work tree at or above ``root``, found by looking for ``.git`` the way git
    does, without running git (which may be missing)."""
    here = root
    while True:
        dotgit = os.path.join(here, ".git")
        if os.path.isdir(dotgit):
            return Repository(here, dotgit)
        if os.path.isfile(dotgit):  # a linked worktree or a submodule: "gitdir: <path>"
            return Repository(here, _gitdir_from_file(dotgit, here))
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _gitdir_from_file(dotgit: str, here: str) -> str | None:
    try:
        with open(dotgit, encoding="utf-8", errors="replace") as handle:
            first = handle.readline().strip()
    except OSError:
        return None
    if not first.startswith("gitdir:"):
        return None
    return os.path.normpath(os.path.join(here, first.removeprefix("gitdir:").strip()))


def repository_rules(root: str, repo: Repository | None, problems: list[tuple[str, str]]) -> tuple[Rules, ...]:
    """The rules that apply to the root before any of its own .gitignore files: those of the
    folders between the top of the work tree and the root, then info/exclude. Nearest first."""
    if repo is None:
        return ()
    chain: list[Rules] = []
    below_top = os.path.relpath(root, repo.toplevel)
    parts = [] if below_top == "." else below_top.split(os.sep)
    # Folders strictly above the root, nearest first; the root's own file is read by the walker.
    for depth in range(len(parts) - 1, -1, -1):
        folder = os.path.join(repo.toplevel, *parts[:depth])
        prepend = "/".join(parts[depth:]) + "/"
        rules, problem = load_rules(os.path.join(folder, ".gitignore"), prepend=prepend)
        if problem:
            problems.append((os.path.relpath(os.path.join(folder, ".gitignore"), root), problem))
        if rules:
            chain.append(rules)
    if repo.gitdir:
        exclude = os.path.join(_common_dir(repo.gitdir), "info", "exclude")
        rules, _ = load_rules(exclude, prepend="/".join(parts) + "/" if parts else "")
        if rules:
            chain.append(rules)
    return tuple(chain)


def _common_dir(gitdir: str) -> str:
    """A linked worktree keeps info/exclude in the main repository's git directory."""
    try:
        with open(os.path.join(gitdir, "commondir"), encoding="utf-8") as handle:
            return os.path.normpath(os.path.join(gitdir, handle.read().strip()))
    except OSError:
        return gitdir
