"""Loading YAML that nobody vouched for: regular files only, size, encoding, alias and depth
limits, YAML's core tags only, and a map of where every value was written so errors can name
the line and column.

PyYAML's parser (libyaml's where PyYAML has it) gives the events. A plain document (values,
lists, mappings with text keys, anchors and aliases) is read from them straight into values
and marks (``_Quick``); anything else, and anything wrong, is read again carefully: we compose
the node tree from the events, checking depth and alias expansion as it grows, and build the
Python values ourselves so that duplicate keys are errors (YAML says they are; PyYAML keeps the
last one) and so that an alias bomb is refused before it is expanded.
"""

from __future__ import annotations

import errno
import gc
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

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
    known_marks: dict[Loc, tuple[int, int]] | None  # None until a position is first asked for
    text: str = ""  # the document's text, to place a problem inside a long value (a prompt's placeholder)

    @property
    def marks(self) -> dict[Loc, tuple[int, int]]:
        """Where each value stands. A document read without problems has them read again only
        when one is reported (a warning, a problem the schema finds): most are never asked for."""
        if self.known_marks is None:
            object.__setattr__(self, "known_marks", _marks_of(self.text, self.file))
        return self.known_marks  # type: ignore[return-value]

    def position_in(self, loc: Loc, needle: str, nth: int = 0) -> tuple[int | None, int | None]:
        """The line and column of ``needle`` at or after the value at ``loc`` (its ``nth``
        occurrence there, counted from 0, as written in the file); the value's own position
        when it is not written there as it is (an escaped, quoted string)."""
        line, column = self.position(loc)
        if line is None or column is None or not self.text:
            return line, column
        start = 0
        for _ in range(line - 1):
            start = self.text.find("\n", start) + 1
            if start == 0:
                return line, column
        found = start + column - 2
        for _ in range(nth + 1):
            found = self.text.find(needle, found + 1)
            if found < 0:
                break
        if found < 0:
            return line, column
        return _line_column(self.text, found)

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
    """Read a text file we are about to parse, refusing what cannot be a config file.

    Only a regular file is read: a named pipe may never be written to (opening one waits for a
    writer), a device may never end, and a directory or a socket holds no text. The kind is
    checked before the file is opened (opening a device can itself do something) and again on
    the open descriptor, which is opened without waiting so that a file swapped for a pipe in
    between cannot block either. At most ``max_bytes + 1`` bytes are read.
    """
    file = str(path)
    try:
        _refuse_unless_regular(file, os.stat(path).st_mode)
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(descriptor, "rb") as stream:
            info = os.fstat(descriptor)
            _refuse_unless_regular(file, info.st_mode)
            os.set_blocking(descriptor, True)
            if info.st_size > max_bytes:
                raise _fail(file, f"the file is {info.st_size / 1_048_576:.1f} MiB; the limit is {_amount(max_bytes)}")
            raw = stream.read(max_bytes + 1)
    except FileNotFoundError:
        if os.path.islink(path):
            raise _fail(file, f"a symbolic link to {os.readlink(path)!r}, which does not exist") from None
        raise _fail(file, "no such file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _fail(file, "symbolic links that lead round in a loop and never reach a file") from None
        raise _fail(file, f"cannot read: {exc.strerror or exc}") from exc
    if len(raw) > max_bytes:
        raise _fail(file, f"more than {_amount(max_bytes)} to read; the limit is {_amount(max_bytes)}")
    return decode(raw, file)


_KINDS = ((stat.S_ISDIR, "is a directory, not a file"), (stat.S_ISFIFO, "a named pipe"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _refuse_unless_regular(file: str, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    if kind.startswith("a "):
        kind += ", not a regular file: only a file's own text is read"
    raise _fail(file, kind)


def _amount(size: int) -> str:
    return f"{size // 1_048_576} MiB" if size % 1_048_576 == 0 else f"{size} bytes"


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


_TAB_PROBLEMS = ("cannot start any token", "tab character")
_BLOCK_END_PROBLEMS = ("expected <block end>", "did not find expected key", "did not find expected '-' indicator")


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, file: str) -> ValidationFailed:
    """One line that says what the parser found, where, and what it was reading at the time.

    libyaml and PyYAML's own parser word some errors differently; both wordings are recognised.
    """
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
    problem = exc.problem or exc.context or "invalid YAML"
    if mark is not None and text[mark.index : mark.index + 1] == "\t" and any(p in problem for p in _TAB_PROBLEMS):
        before = text[mark.index - mark.column : mark.index]
        if not before.strip(" "):
            return _fail(file, "a tab in the indentation: YAML indents with spaces only", line, column)
        return _fail(file, "a tab where this YAML loader does not accept one: use spaces", line, column)
    if exc.context == "expected a single document in the stream":
        return _fail(file, "a second YAML document starts here: the file must hold exactly one", line, column)
    if problem.startswith(_BLOCK_END_PROBLEMS) and exc.context_mark is not None:
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


Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser where PyYAML was built with it (several times faster), else PyYAML's own."""

# what PyYAML's reader refuses; checked here so that both parsers refuse it with the same position
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def parse(text: str, file: str) -> Located:
    """Parse one YAML document into plain values and a location map, or raise ValidationFailed."""
    if not text.strip():
        raise _fail(file, "the file is empty: a YAML mapping is expected", 1, 1)
    control = _NON_PRINTABLE.search(text)
    if control:
        raise _fail(
            file,
            f"character U+{ord(control.group()):04X} is not allowed in YAML (a control character)",
            *_line_column(text, control.start()),
        )
    loader = Loader(text)
    try:
        with cycle_collection_paused():
            read = _Quick(loader, marking=False).read()
    finally:
        loader.dispose()
    if read is not None:
        return Located(read[0], file, None, text)
    return _read_carefully(text, file)


def _marks_of(text: str, file: str) -> dict[Loc, tuple[int, int]]:
    """The marks of a document the quick reading read without them."""
    loader = Loader(text)
    try:
        with cycle_collection_paused():
            read = _Quick(loader).read()
    finally:
        loader.dispose()
    if read is not None:
        return read[1]
    return _read_carefully(text, file).marks  # not met: both quick readings take the same documents


def _read_carefully(text: str, file: str) -> Located:
    """The document read through a node tree: what ``parse`` does with any file the quick
    reading leaves to it, and every problem's own wording and position."""
    loader = Loader(text)
    try:
        with cycle_collection_paused():
            return _located(loader, text, file)
    finally:
        loader.dispose()


def _located(loader: yaml.SafeLoader, text: str, file: str) -> Located:
    try:
        node = _Composer(loader, file).compose()
    except yaml.MarkedYAMLError as exc:
        raise _syntax_problem(exc, text, file) from None
    except yaml.YAMLError as exc:
        raise _fail(file, f"YAML syntax: {exc}") from None
    if node is None:
        raise _fail(file, "the file holds no document: a YAML mapping is expected", 1, 1)
    builder = _Builder(loader, file)
    data = builder.build(node, (), 0)
    return Located(data, file, builder.marks, text)


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Keep the cycle collector from running while a document is read.

    Also held by the planner while it validates and plans (half their time on a 10,000-step file).
    A big document makes millions of objects that live until the end, none of them in a cycle;
    each collection the allocations trigger walks all of them again, which made reading a
    100,000-step file several times slower. Paused, it runs after the document is read.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load(path: Path, *, max_bytes: int = MAX_BYTES) -> Located:
    return parse(read_text(path, max_bytes=max_bytes), str(path))


def _problem(file: str, message: str, mark: yaml.Mark | None, loc: Loc) -> ValidationFailed:
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    return ValidationFailed([Problem(message, file, line, column, render_loc(loc) or None)])


class _Open:
    """A collection whose end the parser has not reached yet, and what it holds so far."""

    __slots__ = ("node", "anchored", "key", "size", "added")

    def __init__(self, node: SequenceNode | MappingNode, anchored: bool) -> None:
        self.node = node
        self.anchored = anchored
        self.key: Node | None = None  # a mapping key still waiting for its value
        self.size = 1  # values it holds once aliases are expanded, itself included
        self.added = 0  # of those, the ones reached through an alias

    def add(self, child: Node, size: int, added: int) -> None:
        if isinstance(self.node, SequenceNode):
            self.node.value.append(child)
        elif self.key is None:
            self.key = child
        else:
            self.node.value.append((self.key, child))
            self.key = None
        self.size += size
        self.added += added

    def next_part(self, event: Any = None) -> str | int:
        """How the location of the value being read now ends: its index, or its key (``event``,
        when the value is a key being read)."""
        if isinstance(self.node, SequenceNode):
            return len(self.node.value)
        key = self.key or event
        return str(key.value) if isinstance(key, ScalarNode | ScalarEvent) else "?"


#: The tags a file may spell out: YAML's core schema (plain values, lists, mappings) and ``<<``.
_CORE_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map",
                                                                 "merge"))


class _Composer:
    """PyYAML's node tree, composed from the parser's events in a loop rather than by recursion.

    PyYAML's composers recurse once per level, so a value nested some hundreds of levels deep
    overflows the stack before any limit could be checked. Here the depth is checked as each value
    starts, and what aliases add is counted as each collection ends, without expanding anything:
    values written out in the file are already bounded by its size, values reached through aliases
    (counted once per path that reaches them) are bounded by ``MAX_NODES``.

    Nodes keep their start marks only: nothing reads the end marks, and a big file has millions.
    """

    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.stack: list[_Open] = []
        self.anchors: dict[str, Node] = {}
        self.sizes: dict[int, int] = {}  # of anchored values whose end has been read

    def compose(self) -> Node | None:
        """The document's root node; None for a stream without a document."""
        self.loader.get_event()
        if self.loader.check_event(StreamEndEvent):
            return None
        self.loader.get_event()
        try:
            root = self._root()
        except yaml.MarkedYAMLError as exc:
            if exc.problem == "exceeded maximum nesting depth":  # libyaml's own limit (1000), met while it looks ahead
                raise self._problem(f"nesting deeper than {MAX_DEPTH} levels", exc.problem_mark) from None
            raise
        self.loader.get_event()
        if not self.loader.check_event(StreamEndEvent):
            raise ComposerError("expected a single document in the stream", root.start_mark,
                                "but found another document", self.loader.get_event().start_mark)
        return root

    def _root(self) -> Node:
        """Each event starts a value, ends the innermost open collection, or refers to an anchor."""
        get_event, stack = self.loader.get_event, self.stack
        while True:
            event = get_event()
            kind = type(event)
            if kind is SequenceEndEvent or kind is MappingEndEvent:
                node, size, added = self._close()
            else:
                if len(stack) > MAX_DEPTH:
                    raise self._problem(f"nesting deeper than {MAX_DEPTH} levels", event.start_mark, event)
                if kind is AliasEvent:
                    node = self._alias(event)
                    size = added = self.sizes[id(node)]
                elif kind is ScalarEvent:
                    node, size, added = self._scalar(event), 1, 0
                else:
                    self._open(event)
                    continue
            if not stack:
                return node
            stack[-1].add(node, size, added)

    def _problem(self, message: str, mark: yaml.Mark | None, event: Any = None) -> ValidationFailed:
        """A problem with the value that ``event`` starts, or with the collection that just ended."""
        loc = tuple(open_.next_part() for open_ in self.stack[:-1])
        if self.stack:
            loc += (self.stack[-1].next_part(event),)
        return _problem(self.file, message, mark, loc)

    def _anchor(self, anchor: str | None, node: Node) -> None:
        if anchor is None:
            return
        if anchor in self.anchors:
            raise ComposerError(f"found duplicate anchor {anchor!r}; first occurrence",
                                self.anchors[anchor].start_mark, "second occurrence", node.start_mark)
        self.anchors[anchor] = node

    def _alias(self, event: AliasEvent) -> Node:
        node = self.anchors.get(event.anchor)
        if node is None:
            raise ComposerError(None, None, f"found undefined alias {event.anchor!r}", event.start_mark)
        if id(node) not in self.sizes:
            raise self._problem("an alias refers to a value that contains it (a recursive alias)", node.start_mark)
        return node

    def _explicit_tag(self, event: ScalarEvent | SequenceStartEvent | MappingStartEvent) -> None:
        """Refuse a tag written in the file unless it names a plain value, a list or a mapping.

        The safe loader would make bytes of ``!!binary``, a set of ``!!set``, a date of
        ``!!timestamp``: values no field of ours expects, some of which pydantic would quietly
        turn into text (``id: !!binary aGk=`` became the id ``hi``). A date written plainly is
        still read as one, so that it can be reported as a date that wants quotes.
        """
        if event.tag not in _CORE_TAGS:
            tag = str(event.tag).replace("tag:yaml.org,2002:", "!!")
            raise self._problem(f"the tag {tag} is not supported: only plain values, lists and mappings are "
                                "(tags !!str, !!int, !!float, !!bool, !!null, !!seq, !!map)", event.start_mark, event)

    def _scalar(self, event: ScalarEvent) -> ScalarNode:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(ScalarNode, event.value, event.implicit)
        else:
            self._explicit_tag(event)
        node = ScalarNode(tag, event.value, event.start_mark, None, style=event.style)
        if event.anchor is not None:
            self._anchor(event.anchor, node)
            self.sizes[id(node)] = 1
        return node

    def _open(self, event: SequenceStartEvent | MappingStartEvent) -> None:
        kind = SequenceNode if type(event) is SequenceStartEvent else MappingNode
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(kind, None, event.implicit)
        else:
            self._explicit_tag(event)
        node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
        self._anchor(event.anchor, node)
        self.stack.append(_Open(node, event.anchor is not None))

    def _close(self) -> tuple[Node, int, int]:
        open_ = self.stack.pop()
        node = open_.node
        if open_.added > MAX_NODES:
            raise self._problem(
                f"aliases add more than {MAX_NODES} values to this value once expanded (an alias bomb?)",
                node.start_mark,
            )
        if open_.anchored:
            self.sizes[id(node)] = open_.size
        return node, open_.size, open_.added


_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_PLAIN_COLLECTIONS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_Pairs = list[tuple[Node, Node]]


class _Builder:
    """Plain Python values from the node tree, with the line and column of each in ``marks``."""

    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.marks: dict[Loc, tuple[int, int]] = {}
        self.pairs: dict[int, tuple[_Pairs, _Pairs]] = {}

    def _problem(self, message: str, mark: yaml.Mark | None, loc: Loc) -> ValidationFailed:
        return _problem(self.file, message, mark, loc)

    def _split_pairs(self, node: MappingNode, loc: Loc) -> tuple[_Pairs, _Pairs]:
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

    def _construct(self, node: Node, loc: Loc) -> Any:
        if node.tag == _STR_TAG and isinstance(node, ScalarNode):
            return node.value  # what SafeConstructor makes of it, without its bookkeeping per value
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

    def build(self, node: Node, loc: Loc, depth: int) -> Any:
        if depth > MAX_DEPTH:  # reached through aliases: the file itself was checked as it was read
            raise self._problem(f"nesting deeper than {MAX_DEPTH} levels", node.start_mark, loc)
        self.marks.setdefault(loc, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, ScalarNode):
            return self._construct(node, loc)
        if node.tag not in _PLAIN_COLLECTIONS:
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            raise self._problem(f"the tag {tag} is not supported: only plain values, lists and mappings are",
                                node.start_mark, loc)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*loc, index), depth + 1) for index, item in enumerate(node.value)]
        return self._mapping(node, loc, depth)

    def _mapping(self, node: MappingNode, loc: Loc, depth: int) -> dict[Any, Any]:
        own, merged = self._split_pairs(node, loc)
        out: dict[Any, Any] = {}
        # own keys first so they override merged ones; of merged ones, the first one listed wins
        for is_own, (key_node, value_node) in [(True, p) for p in own] + [(False, p) for p in reversed(merged)]:
            if not isinstance(key_node, ScalarNode):
                raise self._problem("a mapping key must be a plain value", key_node.start_mark, loc)
            key = self._construct(key_node, loc)
            if isinstance(key, bool) and not key_node.style and key_node.value.lower() not in ("true", "false"):
                key = key_node.value  # YAML 1.1's `on:`, `yes:` keys are words (as in YAML 1.2), not booleans
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise self._problem("a mapping key must be a plain value", key_node.start_mark, loc)
            child = (*loc, key if isinstance(key, str) else str(key))
            if key in out:
                if is_own:
                    raise self._problem(f"duplicate key {key!r}", key_node.start_mark, child)
                continue
            self.marks[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, child, depth + 1)
        return out


class _Unusual(Exception):
    """What the quick reading leaves to the careful one."""


_NO_KEY = object()
_BOOL_TAG = "tag:yaml.org,2002:bool"


class _Quick:
    """The document's values and marks straight from the parser's events, without a node tree:
    most of the time of reading a big file went on making, walking and dropping its nodes.

    It reads what workstreams are made of: plain values, lists, mappings with text keys, and
    anchors and aliases (``yaml.safe_dump`` writes a list used twice as one). Anything else, and
    anything wrong, stops it (``read`` returns None) and the careful reading, which has the
    words and the position of every problem, reads the file again: merge keys, tags written
    out, keys that are not text, duplicate keys, values it cannot construct, a nesting too deep,
    aliases that add too much, syntax errors. What it gives is what the careful reading gives,
    values and marks alike (tests/engine/test_yamlsafe_limits.py compares them). ``parse`` reads
    without marks (``marking=False``: the same checks, no location per value) and ``Located``
    reads the marks the first time a position is asked for.
    """

    def __init__(self, loader: yaml.SafeLoader, *, marking: bool = True) -> None:
        self.loader = loader
        self.marking = marking  # without marks (and the location of each value) it reads twice as fast
        self.pairs: list[tuple[Loc, tuple[int, int]]] = []  # becomes the marks: every place is marked once
        # anchor -> (value, marks inside it relative to it, its own mark, values once expanded, levels below it)
        self.anchors: dict[str, tuple[Any, list[tuple[Loc, tuple[int, int]]], tuple[int, int], int, int]] = {}
        self.named: set[str] = set()
        self.added = 0  # values that aliases add, in the whole document
        resolvers = loader.yaml_implicit_resolvers
        if None in resolvers or loader.yaml_path_resolvers:
            raise _Unusual  # the resolver looks past the first character: let it resolve each value
        self.resolvers = resolvers

    def read(self) -> tuple[Any, dict[Loc, tuple[int, int]]] | None:
        try:
            return self._read()
        except (_Unusual, yaml.YAMLError):
            return None

    def _read(self) -> tuple[Any, dict[Loc, tuple[int, int]]]:
        loader = self.loader
        get_event = loader.get_event
        pairs = self.pairs
        mark = pairs.append
        marking = self.marking
        resolvers = self.resolvers
        get_event()
        if loader.check_event(StreamEndEvent):
            raise _Unusual
        get_event()
        # an open collection: [value, loc, is a mapping, key waiting for its value, anchor,
        # len(pairs) once its own mark is made, its own mark]
        stack: list[list[Any]] = []
        depth = 0
        while True:
            event = get_event()
            kind = type(event)
            if kind is MappingEndEvent or kind is SequenceEndEvent:
                frame = stack.pop()
                depth -= 1
                value = frame[0]
                if frame[4] is not None:
                    self._keep(frame[4], value, frame[1], frame[5], frame[6])
            else:
                if depth > MAX_DEPTH:
                    raise _Unusual
                frame = stack[-1] if stack else None
                if frame is None:
                    loc: Loc = ()
                elif frame[2]:
                    key = frame[3]
                    if key is _NO_KEY:
                        if kind is not ScalarEvent or event.anchor is not None:
                            raise _Unusual
                        key = self._key(event)
                        if key in frame[0]:
                            raise _Unusual
                        frame[3] = key
                        if marking:
                            start = event.start_mark
                            mark(((*frame[1], key), (start.line + 1, start.column + 1)))
                        continue
                    loc = (*frame[1], key) if marking else ()
                else:
                    loc = (*frame[1], len(frame[0])) if marking else ()
                if kind is ScalarEvent:
                    if event.tag is not None:
                        raise _Unusual
                    value = event.value
                    if event.implicit[0]:
                        tag = self._tag(value, resolvers)
                        if tag is not None:
                            value = self._construct(event, tag)
                    if marking and (frame is None or not frame[2]):
                        start = event.start_mark
                        mark((loc, (start.line + 1, start.column + 1)))
                    if event.anchor is not None:
                        self._name(event.anchor)
                        start = event.start_mark
                        self._keep(event.anchor, value, loc, len(pairs), (start.line + 1, start.column + 1))
                elif kind is AliasEvent:
                    value = self._expand(event.anchor, loc, depth, marking and (frame is None or not frame[2]))
                else:
                    if event.tag is not None:
                        raise _Unusual
                    anchor = event.anchor
                    own = None
                    if marking or anchor is not None:
                        start = event.start_mark
                        own = (start.line + 1, start.column + 1)
                        if marking and (frame is None or not frame[2]):
                            mark((loc, own))
                    if anchor is not None:
                        self._name(anchor)
                    is_map = kind is MappingStartEvent
                    stack.append([{} if is_map else [], loc, is_map, _NO_KEY, anchor, len(pairs), own])
                    depth += 1
                    continue
            if not stack:
                break
            parent = stack[-1]
            if parent[2]:
                parent[0][parent[3]] = value
                parent[3] = _NO_KEY
            else:
                parent[0].append(value)
        get_event()
        if not loader.check_event(StreamEndEvent):
            raise _Unusual
        return value, dict(pairs)

    @staticmethod
    def _tag(value: str, resolvers: dict[Any, Any]) -> str | None:
        """The tag of a plain value when it is not text (what the resolver says), else None."""
        candidates = resolvers.get(value[:1])
        if candidates:
            for tag, regexp in candidates:
                if regexp.match(value):
                    return None if tag == _STR_TAG else tag
        return None

    def _key(self, event: ScalarEvent) -> str:
        if event.tag is not None:
            raise _Unusual
        value = event.value
        if event.implicit[0]:
            tag = self._tag(value, self.resolvers)
            # YAML 1.1's `on:`, `yes:` keys are words (as in YAML 1.2), not booleans
            if tag is not None and (tag != _BOOL_TAG or value.lower() in ("true", "false")):
                raise _Unusual
        return value

    def _construct(self, event: ScalarEvent, tag: str) -> Any:
        if tag == _MERGE_TAG:
            raise _Unusual
        node = ScalarNode(tag, event.value, event.start_mark, None, style=event.style)
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
            raise _Unusual from None

    def _name(self, anchor: str) -> None:
        if anchor in self.named:  # a duplicate anchor
            raise _Unusual
        self.named.add(anchor)

    def _keep(self, anchor: str, value: Any, loc: Loc, first: int, own: tuple[int, int]) -> None:
        """Remember an anchored value, once its end is read: the marks made inside it (from
        ``first`` on), its own, its size once expanded and its height."""
        size, height = _measure(value)
        cut = len(loc)
        inside = [(where[cut:], at) for where, at in self.pairs[first:]]
        self.anchors[anchor] = (value, inside, own, size, height)

    def _expand(self, anchor: str, loc: Loc, depth: int, marked: bool) -> Any:
        kept = self.anchors.get(anchor)
        if kept is None:  # undefined, or an alias inside its own anchor's value
            raise _Unusual
        value, inside, own, size, height = kept
        self.added += size
        if self.added > MAX_NODES or depth + height > MAX_DEPTH:
            raise _Unusual
        if marked:
            self.pairs.append((loc, own))
        if self.marking:
            self.pairs.extend(((*loc, *where), at) for where, at in inside)
        return _copy(value)


def _measure(value: Any) -> tuple[int, int]:
    """How many values ``value`` holds, itself and each mapping key included, and how many
    levels deep it goes below itself."""
    if isinstance(value, list):
        size, height = 1, 0
        for item in value:
            s, h = _measure(item)
            size += s
            height = max(height, h + 1)
        return size, height
    if isinstance(value, dict):
        size, height = 1, 0
        for item in value.values():
            s, h = _measure(item)
            size += s + 1
            height = max(height, h + 1)
        return size, height
    return 1, 0


def _copy(value: Any) -> Any:
    """A fresh copy of the containers of ``value`` (an alias gives a value of its own)."""
    if isinstance(value, list):
        return [_copy(item) for item in value]
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    return value
