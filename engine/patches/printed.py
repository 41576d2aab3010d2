"""Diffs that tools print instead of editing files (``ruff check --fix --diff``,
``ruff format --diff``): cut out of the surrounding output and given git's ``a/`` and ``b/``
prefixes, so they go through the same inspection and ``git apply`` as any other patch."""

from __future__ import annotations

import re

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")
_BODY = (" ", "+", "-", "\\")


def extract_diff(output: str) -> str:
    """The unified diff in ``output`` with git-style path prefixes; empty when there is none.

    Lines before the first ``--- `` header and lines that cannot belong to a hunk (a tool's
    summary such as "Would fix 1 error.") are dropped; hunk bodies are kept exactly.
    """
    lines = output.splitlines(keepends=True)
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("--- ") and index + 1 < len(lines) and lines[index + 1].startswith("+++ "):
            out.append(_prefixed(line, "--- ", "a/"))
            out.append(_prefixed(lines[index + 1], "+++ ", "b/"))
            index += 2
            while index < len(lines) and _HUNK.match(lines[index]):
                out.append(lines[index])
                index += 1
                while index < len(lines) and lines[index].startswith(_BODY) and not (
                        lines[index].startswith("--- ") and index + 1 < len(lines)
                        and lines[index + 1].startswith("+++ ")):
                    out.append(lines[index])
                    index += 1
            continue
        index += 1
    text = "".join(out)
    return text if text.endswith("\n") or not text else text + "\n"


def _prefixed(line: str, marker: str, prefix: str) -> str:
    path = line[len(marker):].rstrip("\n")
    path = path.split("\t", 1)[0]
    if path == "/dev/null" or path.startswith(("a/", "b/")):
        return f"{marker}{path}\n"
    return f"{marker}{prefix}{path}\n"
