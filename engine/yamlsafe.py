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


def _line_column(text: str | bytes, index: int) -> tuple[int, int]:
    """1-based line and column of ``index`` in ``text``."""
    newline: Any = "\n" if isinstance(text, str) else b"\n"
    return text.count(newline, 0, index) + 1, index - (text.rfind(newline, 0, index) + 1) + 1


def decode(raw: bytes, file: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _fail(file, "UTF-16 text: save the file as UTF-8", 1, 1)
    if b"\x00" in raw:
        raise _fail(file, "binary data (a NUL byte): this is not a YAML file", *_line_column(raw, raw.index(b"\x00")))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(
            file, f"not UTF-8: byte 0x{raw[exc.start]:02x} cannot be decoded", *_line_column(raw, exc.start)
        ) from None
    return text.removeprefix("\ufeff")


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, file: str) -> ValidationFailed:
    """One line that says what PyYAML found, where, and what it was reading at the time."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
    problem = exc.problem or exc.context or "invalid YAML"
    if problem.startswith("found character '\\t'") and mark is not None:
        # PyYAML refuses a tab wherever YAML would need a space; tabs inside scalars are fine
        before = text[mark.index - mark.column : mark.index]
        where = "in the indentation" if not before.strip(" ") else "between values"
        return _fail(file, f"a tab {where}: YAML indents and separates with spaces only", line, column)
    if exc.context == "expected a single document in the stream":
        return _fail(file, "a second YAML document starts here: the file must hold exactly one", line, column)
    if problem.startswith("expected <block end>") and exc.context_mark is not None:
        cmark = exc.context_mark
        return _fail(
            file,
            f"YAML syntax: this line's indentation does not fit the block that starts at line {cmark.line + 1}, "
            f"column {cmark.column + 1} ({problem})",
            line,
            column,
        )
    message = f"YAML syntax: {problem}"
    if exc.problem and exc.context:
        context = exc.context
        cmark = exc.context_mark
        if cmark is not None and mark is not None and (cmark.line, cmark.column) != (mark.line, mark.column):
            context += f" that starts at line {cmark.line + 1}, column {cmark.column + 1}"
        message += f" ({context})"
    return _fail(file, message, line, column)


def parse(text: str, file: str) -> Located:
    """Parse one YAML document into plain values and a location map, or raise ValidationFailed."""
    if not text.strip():
        raise _fail(file, "the file is empty: a YAML mapping is expected", 1, 1)
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:  # a control character: the reader checks the whole text first
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise _fail(
            file, f"character U+{code:04X} is not allowed in YAML (a control character)", *_line_column(text, exc.position)
        ) from None
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise _syntax_problem(exc, text, file) from None
        except yaml.YAMLError as exc:
            raise _fail(file, f"YAML syntax: {exc}") from None
        if node is None:
            raise _fail(file, "the file holds no document: a YAML mapping is expected", 1, 1)
        builder = _Builder(loader, file)
        builder.check(node)
        data = builder.build(node, (), 0)
        return Located(data, file, builder.marks)
    finally:
        loader.dispose()


def load(path: Path, *, max_bytes: int = MAX_BYTES) -> Located:
    return parse(read_text(path, max_bytes=max_bytes), str(path))


_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_COLLECTIONS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_Pairs = list[tuple[yaml.Node, yaml.Node]]


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.marks: dict[Loc, tuple[int, int]] = {}
        self.sizes: dict[int, int] = {}
        self.open: set[int] = set()
        self.pairs: dict[int, tuple[_Pairs, _Pairs]] = {}

    def _problem(self, message: str, mark: yaml.Mark | None, loc: Loc) -> ValidationFailed:
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        return ValidationFailed([Problem(message, self.file, line, column, render_loc(loc) or None)])

    def check(self, node: yaml.Node) -> None:
        """Refuse recursive aliases, deep nesting and alias bombs before building anything."""
        self._expanded_size(node, (), 0)

    def _expanded_size(self, node: yaml.Node, loc: Loc, depth: int) -> int:
        """Values the node would hold once aliases are expanded, computed without expanding."""
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        if key in self.open:
            raise self._problem("an alias refers to a value that contains it (a recursive alias)", node.start_mark, loc)
        if depth > MAX_DEPTH:
            raise self._problem(f"nesting deeper than {MAX_DEPTH} levels", node.start_mark, loc)
        self.open.add(key)
        size = 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                child = (*loc, str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?")
                size += self._expanded_size(key_node, child, depth + 1) + self._expanded_size(value_node, child, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            size += sum(self._expanded_size(item, (*loc, i), depth + 1) for i, item in enumerate(node.value))
        self.open.discard(key)
        self.sizes[key] = size
        if size > MAX_NODES:
            raise self._problem(
                f"aliases expand this value to more than {MAX_NODES} values (an alias bomb?)", node.start_mark, loc
            )
        return size

    def _split_pairs(self, node: yaml.MappingNode, loc: Loc) -> tuple[_Pairs, _Pairs]:
        """The mapping's own key/value pairs, and those it takes in through ``<<`` merge keys."""
        cached = self.pairs.get(id(node))
        if cached is None:
            own = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
            if len(own) != len(node.value):
                try:
                    self.loader.flatten_mapping(node)
                except yaml.MarkedYAMLError as exc:
                    raise self._problem(f"merge key: {exc.problem or exc.context}", exc.problem_mark, loc) from None
            own_ids = {id(k) for k, _ in own}
            cached = self.pairs[id(node)] = (own, [(k, v) for k, v in node.value if id(k) not in own_ids])
        return cached

    def _construct(self, node: yaml.Node, loc: Loc) -> Any:
        tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            if node.tag not in self.loader.yaml_constructors:
                message = f"the tag {tag} is not supported: only plain values, lists and mappings are"
            else:
                message = f"cannot read {tag}: {exc.problem or exc.context}"
            raise self._problem(message, node.start_mark, loc) from None
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:  # e.g. a date in month 13
            raise self._problem(
                f"cannot read {node.value!r} as {tag} ({exc}); put it in quotes to mean the text", node.start_mark, loc
            ) from None

    def build(self, node: yaml.Node, loc: Loc, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self._problem(f"nesting deeper than {MAX_DEPTH} levels", node.start_mark, loc)
        self.marks.setdefault(loc, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_COLLECTIONS:
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            raise self._problem(f"the tag {tag} is not supported: only plain values, lists and mappings are",
                                node.start_mark, loc)
        if isinstance(node, yaml.MappingNode):
            own, merged = self._split_pairs(node, loc)
            out: dict[Any, Any] = {}
            # own keys first so they override merged ones; of merged ones, the first one listed wins
            for is_own, (key_node, value_node) in [(True, p) for p in own] + [(False, p) for p in reversed(merged)]:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self._problem("a mapping key must be a plain value", key_node.start_mark, loc)
                key = self._construct(key_node, loc)
                if not isinstance(key, str | int | float | bool) and key is not None:
                    raise self._problem("a mapping key must be a plain value", key_node.start_mark, loc)
                child = (*loc, key if isinstance(key, str) else str(key))
                if key in out:
                    if is_own:
                        raise self._problem(f"duplicate key {key!r}", key_node.start_mark, child)
                    continue
                self.marks[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[key] = self.build(value_node, child, depth + 1)
                self.marks.setdefault(child, (value_node.start_mark.line + 1, value_node.start_mark.column + 1))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, index), depth + 1) for index, item in enumerate(node.value)]
        return self._construct(node, loc)
