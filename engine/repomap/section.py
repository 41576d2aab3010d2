"""The ``repo_map`` section of a step's prompt (``{repo_map}``, or ``repo_map`` in its
``context``): the map of the attempt's working copy, weighted toward the files the step names
in its ``context`` and, in a later round, the files its previous patch touched. The budget is
the step's ``repo_map: {tokens: N}``.

The working copy of an agent or a patch step is a scratch copy, so the cache is the user's
project's (``<project>/.uet/cache/repomap``): its tags are found there by content hash and the
copy parses nothing the project has mapped before. A map that cannot be made becomes a line
saying why: the attempt goes on without it.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterable
from typing import Any

from engine.repomap.build import DEFAULT_TOKENS, RepoMapError, build_map, default_cache_dir

#: The names of ``context`` that are sections, not files (``engine.prompts.CONTEXT_SECTIONS``).
SECTION_NAMES = frozenset({"repo_map", "memory"})
MAX_FOCUS = 200
DIFF_PATH = re.compile(r"^(?:\+\+\+ b/|--- a/)(.+?)\t?$", re.MULTILINE)


def focus_files(workdir: str, context: Iterable[str], diff: str = "") -> list[str]:
    """The files of ``context`` (globs expanded in the working copy) and those ``diff`` names,
    once each, at most ``MAX_FOCUS``."""
    found: dict[str, None] = {}
    for entry in context:
        if entry in SECTION_NAMES:
            continue
        names = sorted(glob.iglob(entry, root_dir=workdir, recursive=True)) if glob.has_magic(entry) else [entry]
        found.update(dict.fromkeys(names))
    found.update(dict.fromkeys(match.group(1) for match in DIFF_PATH.finditer(diff)))
    return list(found)[:MAX_FOCUS]


def repo_map_text(root: str, workdir: str, spec: dict[str, Any], diff: str = "") -> str:
    """The section's text for one attempt."""
    tokens = int((spec.get("repo_map") or {}).get("tokens", DEFAULT_TOKENS))
    try:
        found = build_map(workdir, focus=focus_files(workdir, spec.get("context", ()), diff), tokens=tokens,
                          cache_dir=default_cache_dir(root))
    except (RepoMapError, OSError, RuntimeError) as exc:  # RuntimeError: a parsing worker died
        return f"[no repository map: {exc}]"
    return found.text
