"""One file's tags: the definitions it makes (name, kind, line, signature) and the names it
uses, read with the language's tree-sitter queries (``engine.repomap.languages``).

A file is mapped only when it reads cleanly. Tree-sitter always returns a tree, with error
nodes where the text made no sense; a file whose tree has any is *skipped* with the line of
its first error, because a half-understood file gives definitions that are not there (a class
body read as statements, a signature cut in two). Binary, minified and oversized files are
skipped before parsing, with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from engine.repomap.languages import grammar

#: Larger files are skipped unread: generated tables, bundles, fixtures.
MAX_FILE_BYTES = 1024 * 1024
#: A line longer than this means generated or minified text, not source written by people.
MAX_LINE_CHARS = 4000
#: The most definitions kept of one file, and the longest signature shown.
MAX_DEFINITIONS = 2000
MAX_SIGNATURE_CHARS = 200
#: The most distinct names a file's references are kept for.
MAX_REFERENCE_NAMES = 5000

_SPACE = re.compile(r"\s+")


class Unparsable(Exception):
    """A file the map leaves out; the message says why, in words for the skipped list."""


class Definition(NamedTuple):
    name: str
    kind: str  # class, function, method, type, …
    line: int  # 1-based
    indent: int  # columns of leading white space on its line, for nesting in the rendering
    signature: str  # its first line(s) up to the body, white space collapsed


@dataclass(frozen=True)
class FileTags:
    language: str
    definitions: tuple[Definition, ...] = ()
    references: dict[str, int] = field(default_factory=dict)  # name -> times used


def check_text(data: bytes) -> None:
    """Raise ``Unparsable`` for text the map should not read: binary, huge or minified."""
    if len(data) > MAX_FILE_BYTES:
        raise Unparsable(f"larger than {MAX_FILE_BYTES // 1024 // 1024} MiB ({len(data):,} bytes)")
    if b"\0" in data[:8192]:
        raise Unparsable("binary (holds NUL bytes)")
    longest = max((len(line) for line in data.split(b"\n")), default=0)
    if longest > MAX_LINE_CHARS:
        raise Unparsable(f"minified or generated (a line of {longest:,} characters)")


def read_tags(language: str, data: bytes) -> FileTags:
    """The tags of one file's text in ``language``; raises ``Unparsable`` with the reason."""
    check_text(data)
    found = grammar(language)
    tree = found.parser.parse(data)
    root = tree.root_node
    if root.has_error:
        raise Unparsable(f"syntax error at line {_first_error_line(root)}")
    from tree_sitter import QueryCursor

    definitions: list[Definition] = []
    names_at: set[int] = set()  # where definitions' names are: no use of the name
    seen: set[tuple[int, int]] = set()
    for _, captures in QueryCursor(found.definitions).matches(root):
        names = captures.get("name")
        kinds = [key for key in captures if key.startswith("def.")]
        if not names or not kinds:
            continue
        name_node, node = names[0], captures[kinds[0]][0]
        key = (node.start_byte, name_node.start_byte)
        if key in seen:
            continue
        seen.add(key)
        names_at.add(name_node.start_byte)
        if len(definitions) < MAX_DEFINITIONS:
            name = _text(data, name_node.start_byte, name_node.end_byte)
            definitions.append(_definition(data, node, name, kinds[0][4:]))
    references: dict[str, int] = {}
    for nodes in QueryCursor(found.references).captures(root).values():
        for node in nodes:
            if node.start_byte in names_at:
                continue
            name = _text(data, node.start_byte, node.end_byte)
            references[name] = references.get(name, 0) + 1
    if len(references) > MAX_REFERENCE_NAMES:
        references = dict(sorted(references.items(), key=lambda item: -item[1])[:MAX_REFERENCE_NAMES])
    definitions.sort(key=lambda d: d.line)
    return FileTags(language, tuple(definitions), references)


def _text(data: bytes, start: int, end: int) -> str:
    return data[start:end].decode("utf-8", errors="replace")


def _definition(data: bytes, node: object, name: str, kind: str) -> Definition:
    """The definition's signature: from the start of its line to its body (or the end of its
    first line when it has no body, or the body is far below), white space collapsed."""
    start: int = node.start_byte  # type: ignore[attr-defined]
    line_start = data.rfind(b"\n", 0, start) + 1
    first_end = data.find(b"\n", start)
    first_end = len(data) if first_end < 0 else first_end
    end = first_end
    body = node.child_by_field_name("body")  # type: ignore[attr-defined]
    if body is not None and body.start_byte > start and body.start_point[0] - node.start_point[0] <= 10:  # type: ignore[attr-defined]
        end = body.start_byte if body.start_point[0] > node.start_point[0] or body.start_byte < first_end else first_end  # type: ignore[attr-defined]
    head = data[line_start:start]
    indent = len(head.expandtabs(4)) - len(head.expandtabs(4).lstrip()) if not head.strip() else 0
    text = _SPACE.sub(" ", _text(data, line_start, end)).strip()
    if len(text) > MAX_SIGNATURE_CHARS:
        text = text[: MAX_SIGNATURE_CHARS - 1] + "…"
    return Definition(name, kind, node.start_point[0] + 1, min(indent, 16), text)  # type: ignore[attr-defined]


def _first_error_line(root: object) -> int:
    """The 1-based line of the first error or missing node under ``root``."""
    cursor = root.walk()  # type: ignore[attr-defined]
    while True:
        node = cursor.node
        if node.is_error or node.is_missing:
            return int(node.start_point[0]) + 1
        if node.has_error and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return int(root.start_point[0]) + 1  # type: ignore[attr-defined]
    return 1
