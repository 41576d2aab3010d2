"""The map as text: each file with its chosen definitions' signature lines, best files first,
cut to a token budget.

    engine/prompts.py:
     54│class Section:
    172│def render(text: str, values: Mapping[str, str], …) -> str:

Tokens are estimated as characters / 4, the usual rule for code and English. The entries are
taken best first while the estimate of the whole text stays within the budget: every line's
cost is known beforehand (a file's line numbers are as wide as its last definition's), so the
longest prefix that fits is found in one pass and the text rendered once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.repomap.parse import FileTags
from engine.repomap.rank import Ranked

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def _width(tags: FileTags | None) -> int:
    return len(str(tags.definitions[-1].line)) if tags is not None and tags.definitions else 1


def _line(entry: Ranked, width: int) -> str:
    d = entry.definition
    assert d is not None
    return f"{d.line:>{width}}│{' ' * d.indent}{d.signature}"


def fit(entries: Sequence[Ranked], tags: Mapping[str, FileTags], tokens: int) -> tuple[str, list[str]]:
    """The text of the best entries that fit in ``tokens``, and its files in order."""
    budget = tokens * CHARS_PER_TOKEN
    used = 0
    files: dict[str, list[Ranked]] = {}
    for entry in entries:
        cost = 0
        if entry.path not in files:
            cost += len(entry.path) + 2 + (1 if files else 0)  # "path:\n", a blank line before it
        if entry.definition is not None:
            cost += len(_line(entry, _width(tags.get(entry.path)))) + 1
        if used + cost > budget:
            continue  # a shorter entry further down may still fit
        used += cost
        files.setdefault(entry.path, [])
        if entry.definition is not None:
            files[entry.path].append(entry)
    blocks = []
    for path, chosen in files.items():
        width = _width(tags.get(path))
        lines = [f"{path}:"] + [_line(e, width) for e in sorted(chosen, key=lambda e: e.definition.line)]  # type: ignore[union-attr]
        blocks.append("\n".join(lines))
    text = "\n\n".join(blocks) + ("\n" if blocks else "")
    return text, list(files)
