"""The repository map: a ranked, budgeted outline of a repository's files and definitions, for
an agent's prompt (``context: [repo_map]``, ``{repo_map}``) and for ``uet map``.

Modules: ``languages`` (grammars and queries), ``parse`` (one file's tags), ``files`` (which
files), ``cache`` (tags by content hash), ``rank`` (PageRank), ``render`` (text within a token
budget), ``build`` (``build_map``, the one entry point).
"""

from __future__ import annotations

from engine.repomap.build import (
    DEFAULT_TOKENS,
    MAX_TOKENS,
    MIN_TOKENS,
    MapStats,
    RepoMap,
    RepoMapError,
    build_map,
    default_cache_dir,
)
from engine.repomap.languages import EXTENSIONS, LANGUAGES

__all__ = [
    "DEFAULT_TOKENS",
    "EXTENSIONS",
    "LANGUAGES",
    "MAX_TOKENS",
    "MIN_TOKENS",
    "MapStats",
    "RepoMap",
    "RepoMapError",
    "build_map",
    "default_cache_dir",
]
