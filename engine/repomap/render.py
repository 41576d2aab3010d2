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


#: Entries looked at past the last one that fitted before the text is called full.
PATIENCE = 2000


def fit(entries: Sequence[Ranked], tags: Mapping[str, FileTags], tokens: int) -> tuple[str, list[str]]:
    """The text of the best entries that fit in ``tokens``, and its files in order. An entry
    too long for what is left is passed over for shorter ones further down."""
    budget = tokens * CHARS_PER_TOKEN
    used = 0
    files: dict[str, list[Ranked]] = {}
    widths: dict[str, int] = {}
    misses = 0
    for entry in entries:
        if budget - used < 8 or misses > PATIENCE:
            break
        path = entry.path
        cost = 0 if path in files else len(path) + 2 + (1 if files else 0)  # "path:\n", a blank line before
        if entry.definition is not None:
            width = widths.get(path)
            if width is None:
                width = widths[path] = _width(tags.get(path))
            cost += len(_line(entry, width)) + 1
        if used + cost > budget:
            misses += 1
            continue
        misses = 0
        used += cost
        chosen = files.setdefault(path, [])
        if entry.definition is not None:
            chosen.append(entry)
    blocks = []
    for path, chosen in files.items():
        width = widths.get(path) or _width(tags.get(path))
        lines = [f"{path}:"] + [_line(e, width) for e in sorted(chosen, key=lambda e: e.definition.line)]  # type: ignore[union-attr]
        blocks.append("\n".join(lines))
    text = "\n\n".join(blocks) + ("\n" if blocks else "")
    return text, list(files)
