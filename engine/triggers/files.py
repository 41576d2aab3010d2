"""Files triggers: which changed paths count, and which steps a change concerns.

A path counts when it matches the trigger's ``paths`` and none of its ``ignore`` globs, is not
ignored by the project's ``.gitignore`` (and ``.git/info/exclude``), and lies outside ``.git/``
and UET's own ``.uet/`` (the store, logs and scratch copies change all the time while a run
goes). Globs are gitignore-style (``src/**/*.py``, ``*.md``), read by pathspec.

When a workstream's steps declare ``inputs:``, a change runs only the steps whose inputs match
a changed file and the steps that depend on them; the run is a plan of those steps alone (their
needs on steps left out are dropped: those steps' last results stand).
"""

from __future__ import annotations

import dataclasses
import graphlib
import os
from collections.abc import Iterable
from pathlib import Path

import pathspec

from engine.planner import Plan
from schemas.triggers import FilesTrigger

#: Folders never watched, whatever the globs say.
NEVER = (".uet", ".git")
#: The most changed paths kept with a fire (the count is kept whole).
FIRE_PATHS = 20


def _spec(globs: Iterable[str]) -> pathspec.PathSpec:
    return pathspec.GitIgnoreSpec.from_lines(list(globs))


def _gitignore(root: Path) -> pathspec.PathSpec:
    lines: list[str] = []
    for name in (".gitignore", ".git/info/exclude"):
        try:
            lines.extend((root / name).read_text(encoding="utf-8", errors="replace").splitlines())
        except OSError:
            continue
    return _spec(lines)


class Matcher:
    """Whether a changed path concerns a files trigger."""

    def __init__(self, root: Path, trigger: FilesTrigger) -> None:
        self.root = root.resolve()
        self.paths = _spec(trigger.paths)
        self.ignore = _spec(trigger.ignore)
        self.gitignore = _gitignore(self.root)

    def relative(self, path: str) -> str | None:
        """``path`` relative to the root, or None when it is outside or never watched."""
        try:
            rel = Path(os.path.abspath(path)).relative_to(self.root).as_posix()
        except ValueError:
            return None
        if rel == "." or rel.split("/", 1)[0] in NEVER:
            return None
        return rel

    def concerns(self, path: str) -> str | None:
        """The project-relative path when a change to ``path`` counts; else None."""
        rel = self.relative(path)
        if rel is None:
            return None
        if self.gitignore.match_file(rel) or self.ignore.match_file(rel):
            return None
        return rel if self.paths.match_file(rel) else None

    def watch_filter(self, _change: object, path: str) -> bool:
        """For watchfiles: only changes that count wake the watcher (directories pass, so
        new folders are watched)."""
        rel = self.relative(path)
        if rel is None:
            return False
        return self.concerns(path) is not None or os.path.isdir(path)


def affected(plan: Plan, changed: list[str]) -> Plan | None:
    """The plan of the steps a change concerns: the whole plan when no step declares inputs;
    None when steps declare inputs and no changed file matches any."""
    declared = {step.id: _spec(step.spec["inputs"]) for step in plan.steps if step.spec.get("inputs")}
    if not declared:
        return plan
    hit = {sid for sid, spec in declared.items() if any(spec.match_file(path) for path in changed)}
    if not hit:
        return None
    dependents: dict[str, list[str]] = {}
    for step in plan.steps:
        for need in step.needs:
            dependents.setdefault(need, []).append(step.id)
    wanted = set(hit)
    todo = list(hit)
    while todo:
        for child in dependents.get(todo.pop(), ()):
            if child not in wanted:
                wanted.add(child)
                todo.append(child)
    steps = [dataclasses.replace(step, needs=[n for n in step.needs if n in wanted])
             for step in plan.steps if step.id in wanted]
    graphlib.TopologicalSorter({s.id: s.needs for s in steps}).prepare()  # a subset of a DAG is one
    return dataclasses.replace(plan, steps=steps)
