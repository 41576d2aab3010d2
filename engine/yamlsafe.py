"""Loading YAML that nobody vouched for: size, encoding, alias and depth limits, and a map of
where every value was written so errors can name the line and column.

PyYAML's SafeLoader composes the node tree; we build the Python values ourselves so that
duplicate keys are errors (YAML says they are; PyYAML keeps the last one) and so that an
alias bomb is refused before it is expanded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.errors import Problem, ValidationFailed

MAX_BYTES = 5 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Located:
    """A parsed document and where each of its values (and mapping keys) stands in the file."""

    data: Any
    file: str
    marks: dict[Loc, tuple[int, int]]

    def problem(self, message: str, loc: Loc = (), field: str | None = None) -> Problem:
        line, column = self.position(loc)
        return Problem(message, self.file, line, column, field if field is not None else render_loc(loc))

    def position(self, loc: Loc) -> tuple[int | None, int | None]:
        """The line and column of ``loc``, or of the nearest enclosing value that has one."""
        for end in range(len(loc), -1, -1):
            found = self.marks.get(tuple(loc[:end]))
            if found:
                return found
        return None, None


def render_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _fail(file: str, message: str, line: int | None = None, column: int | None = None) -> ValidationFailed:
    return ValidationFailed([Problem(message, file, line, column)])


def read_text(path: Path, *, max_bytes: int = MAX_BYTES) -> str:
    """Read a text file we are about to parse, refusing what cannot be a config file."""
    file = str(path)
    try:
        if not path.exists():
            raise _fail(file, "no such file")
        if path.is_dir():
            raise _fail(file, "is a directory, not a file")
        size = path.stat().st_size
        if size > max_bytes:
            raise _fail(
                file,
                f"the file is {size / 1_048_576:.1f} MiB; the limit is {max_bytes / 1_048_576:.0f} MiB",
            )
        raw = path.read_bytes()[: max_bytes + 1]
    except OSError as exc:
        raise _fail(file, f"cannot read: {exc.strerror or exc}") from exc
    return decode(raw, file)


def decode(raw: bytes, file: str) -> str:
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise _fail(file, "binary data (a NUL byte): this is not a YAML file", line)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _fail(file, f"not UTF-8: byte 0x{raw[exc.start]:02x} cannot be decoded", line, column) from exc
    return text.removeprefix("\ufeff")


def _check_tabs(text: str, file: str) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip(" ")
        if stripped.startswith("\t"):
            raise _fail(file, "a tab in the indentation: YAML indents with spaces only", number, len(line) - len(stripped) + 1)


def parse(text: str, file: str) -> Located:
    """Parse one YAML document into plain values and a location map, or raise ValidationFailed."""
    if not text.strip():
        raise _fail(file, "the file is empty: a YAML mapping is expected", 1, 1)
    _check_tabs(text, file)
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            what = exc.problem or exc.context or "invalid YAML"
            raise _fail(
                file, f"YAML syntax: {what}", mark.line + 1 if mark else None, mark.column + 1 if mark else None
            ) from exc
        except yaml.YAMLError as exc:
            raise _fail(file, f"YAML syntax: {exc}") from exc
        if node is None:
            raise _fail(file, "the file holds no document: a YAML mapping is expected", 1, 1)
        builder = _Builder(loader, file)
        data = builder.build(node, (), 0)
        return Located(data, file, builder.marks)
    finally:
        loader.dispose()


def load(path: Path, *, max_bytes: int = MAX_BYTES) -> Located:
    return parse(read_text(path, max_bytes=max_bytes), str(path))


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.marks: dict[Loc, tuple[int, int]] = {}
        self.nodes = 0
        self.sizes: dict[int, int] = {}

    def _mark(self, node: yaml.Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def _expanded_size(self, node: yaml.Node, depth: int) -> int:
        """Nodes the value would have once aliases are expanded, computed without expanding."""
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        if depth > MAX_DEPTH:
            raise _fail(self.file, f"nesting deeper than {MAX_DEPTH} levels", *self._mark(node))
        self.sizes[key] = 1  # a recursive alias counts once and is refused when built
        if isinstance(node, yaml.MappingNode):
            size = 1 + sum(self._expanded_size(k, depth + 1) + self._expanded_size(v, depth + 1) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self._expanded_size(v, depth + 1) for v in node.value)
        else:
            size = 1
        self.sizes[key] = size
        if size > MAX_NODES:
            raise _fail(
                self.file,
                f"the document expands to more than {MAX_NODES} values (an alias bomb?)",
                *self._mark(node),
            )
        return size

    def build(self, node: yaml.Node, loc: Loc, depth: int) -> Any:
        if depth == 0:
            self._expanded_size(node, 0)
        if depth > MAX_DEPTH:
            raise _fail(self.file, f"nesting deeper than {MAX_DEPTH} levels", *self._mark(node))
        self.marks.setdefault(loc, self._mark(node))
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise _fail(self.file, "a mapping key must be a plain value", *self._mark(key_node))
                key = self.loader.construct_object(key_node)
                if not isinstance(key, str | int | float | bool) and key is not None:
                    raise _fail(self.file, "a mapping key must be a plain value", *self._mark(key_node))
                if key in out:
                    raise ValidationFailed(
                        [Problem(f"duplicate key {key!r}", self.file, *self._mark(key_node), render_loc((*loc, str(key))))]
                    )
                child = (*loc, key if isinstance(key, str) else str(key))
                self.marks[child] = self._mark(key_node)
                out[key] = self.build(value_node, child, depth + 1)
                self.marks.setdefault(child, self._mark(value_node))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, index), depth + 1) for index, item in enumerate(node.value)]
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise _fail(self.file, f"cannot read value: {exc}", *self._mark(node)) from exc
