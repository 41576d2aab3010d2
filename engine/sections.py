"""Where each prompt section's text comes from (``engine.prompts.SECTIONS``): a provider per
name, given what an attempt knows (the user's project, the attempt's working copy, the step,
the round it is in). A provider is called only when a prompt or a context names its section,
so a step that names none pays nothing, not even the import of what would compute it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Where:
    """What an attempt's sections are computed from."""

    root: str  # the user's project (caches live under its .uet/)
    workdir: str  # the attempt's working copy (a scratch copy for an agent or a patch step)
    run_id: str
    step_id: str
    spec: dict[str, Any]
    #: Per round (engine.patches.steps): the section texts it carries, such as a revision
    #: round's review comments and the previous round's diff.
    round_texts: dict[str, str] = field(default_factory=dict)


def providers(where: Where) -> dict[str, Callable[[], str]]:
    """A provider of each section's text for one attempt."""
    found: dict[str, Callable[[], str]] = {}
    for name, text in where.round_texts.items():
        found[name] = (lambda text=text: text)
    found["repo_map"] = lambda: _repo_map(where)
    found["memory"] = lambda: _memory(where)
    return found


def _memory(where: Where) -> str:
    from engine.memory import step_memory

    return step_memory(where.spec, where.run_id)


def _repo_map(where: Where) -> str:
    from engine.repomap.section import repo_map_text

    return repo_map_text(where.root, where.workdir, where.spec, where.round_texts.get("round.patch", ""))
