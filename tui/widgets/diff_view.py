"""A diff drawn line by line: only the lines on screen are rendered (each cached), so a
20,000-line patch opens as fast as a small one.

Every changed line carries a ``+`` or ``-`` in its gutter, so the diff reads without colour;
colour and syntax highlighting (by file type, one lexer per file) are extras. Unified by
default; side by side when the widget is at least ``SPLIT_WIDTH`` columns wide, or when
toggled. A cursor moves over hunks (``n``/``p``) and files (``]``/``[``); space selects the
current hunk (``[x]``), ``v`` marks its file viewed. A file without hunks (binary, a rename,
a mode change) is one unit of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest

from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.patches.diffs import FileDiff, parse

SPLIT_WIDTH = 160
NUMBER = 5
CONTROL = {c: "\ufffd" for c in [*range(0, 9), *range(10, 32), 127]}
ADDED = Style(bgcolor="#12361d")
REMOVED = Style(bgcolor="#3d1417")
GUTTER = Style(dim=True)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the view. ``kind``: file, hunk, ctx, add, del, meta; in the split layout a
    ``pair`` row holds both sides in ``left``/``right`` (kind, number, text)."""

    kind: str
    file: int
    unit: str
    old: int | None = None
    new: int | None = None
    text: str = ""
    left: tuple[str, int | None, str] | None = None
    right: tuple[str, int | None, str] | None = None


def _clean(text: str) -> str:
    """Untrusted text: tabs expanded, control characters shown as U+FFFD, never sent to the terminal."""
    return text.expandtabs(4).translate(CONTROL)


def _status(f: FileDiff) -> str:
    for line in f.header:
        if line.startswith("new file mode"):
            return "added"
        if line.startswith("deleted file mode"):
            return "deleted"
        if line.startswith("rename from"):
            return "renamed"
        if line.startswith("Binary files") or line.startswith("GIT binary patch"):
            return "binary"
    return "modified"


def _pair(rows: list[Row], file: int, unit: str, dels: list[tuple[int, str]], adds: list[tuple[int, str]]) -> None:
    """Removed lines beside the added lines that replace them, in order."""
    for d, a in zip_longest(dels, adds):
        rows.append(Row("pair", file, unit, left=("del", d[0], d[1]) if d else None,
                        right=("add", a[0], a[1]) if a else None))
    dels.clear()
    adds.clear()


def build(files: list[FileDiff], split: bool) -> list[Row]:
    rows: list[Row] = []
    for f in files:
        rows.append(Row("file", f.index, f"{f.index}.0", text=f.path))
        if not f.hunks:
            rows.append(Row("hunk", f.index, f"{f.index}.0", text=f"whole file ({_status(f)}, no hunks)"))
            continue
        for h in f.hunks:
            rows.append(Row("hunk", f.index, h.id, text=h.header))
            old, new = h.old_start, h.new_start
            dels: list[tuple[int, str]] = []
            adds: list[tuple[int, str]] = []

            for line in h.lines:
                mark, body = line[:1], line[1:]
                if mark == "\\":
                    if split:
                        _pair(rows, f.index, h.id, dels, adds)
                    rows.append(Row("meta", f.index, h.id, text=line))
                elif mark == "-":
                    if split:
                        dels.append((old, body))
                    else:
                        rows.append(Row("del", f.index, h.id, old=old, text=body))
                    old += 1
                elif mark == "+":
                    if split:
                        adds.append((new, body))
                    else:
                        rows.append(Row("add", f.index, h.id, new=new, text=body))
                    new += 1
                else:
                    if split:
                        _pair(rows, f.index, h.id, dels, adds)
                        rows.append(Row("pair", f.index, h.id, left=("ctx", old, body), right=("ctx", new, body)))
                    else:
                        rows.append(Row("ctx", f.index, h.id, old=old, new=new, text=body))
                    old += 1
                    new += 1
            if split:
                _pair(rows, f.index, h.id, dels, adds)
    return rows


class DiffView(ScrollView, can_focus=True):
    BINDINGS = [
        Binding("up,k", "scroll_up", "Up", show=False),
        Binding("down,j", "scroll_down", "Down", show=False),
        Binding("n", "hunk(1)", "Next hunk", id="diff.next_hunk", tooltip="Move to the next hunk", show=False),
        Binding("p", "hunk(-1)", "Prev hunk", id="diff.prev_hunk", tooltip="Move to the previous hunk", show=False),
        Binding("right_square_bracket", "file(1)", "Next file", id="diff.next_file", tooltip="Move to the next file", show=False),
        Binding("left_square_bracket", "file(-1)", "Prev file", id="diff.prev_file",
                tooltip="Move to the previous file", show=False),
        Binding("space", "toggle_hunk", "Select hunk", id="diff.select",
                tooltip="Select or unselect the current hunk for approving a subset"),
        Binding("v", "toggle_viewed", "Viewed", id="diff.viewed", tooltip="Mark the current file viewed"),
        Binding("t", "toggle_layout", "Split/unified", id="diff.layout",
                tooltip="Side by side or unified (side by side is automatic from 160 columns)", show=False),
    ]

    DEFAULT_CSS = """
    DiffView { height: 1fr; scrollbar-size-vertical: 1; }
    """

    class Changed(Message):
        """The current hunk, the selection or the viewed files changed."""

        def __init__(self, view: DiffView) -> None:
            super().__init__()
            self.view = view

        @property
        def control(self) -> DiffView:
            return self.view

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, DiffView.Changed) and message.view is self.view

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.files: list[FileDiff] = []
        self.units: list[str] = []
        self.selected: set[str] = set()
        self.viewed: set[int] = set()
        self.current = 0
        self.forced: bool | None = None
        self._rows: dict[bool, list[Row]] = {}
        self._starts: dict[bool, dict[str, int]] = {}
        self._file_starts: dict[bool, list[int]] = {}
        self._syntax: dict[int, Syntax | None] = {}
        self._cache: dict[tuple[bool, int, int], Strip] = {}

    # -- data ---------------------------------------------------------------------------------

    def set_diff(self, diff: str) -> None:
        self.files = parse(diff)
        self.units = [u for f in self.files for u in f.unit_ids]
        self.selected = set()
        self.viewed = set()
        self.current = 0
        self._rows.clear()
        self._starts.clear()
        self._file_starts.clear()
        self._syntax.clear()
        self._cache.clear()
        self._resize()
        self.scroll_to(y=0, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.Changed(self))

    @property
    def split(self) -> bool:
        if self.forced is not None:
            return self.forced
        return self.scrollable_content_region.width >= SPLIT_WIDTH

    @property
    def rows(self) -> list[Row]:
        split = self.split
        if split not in self._rows:
            rows = build(self.files, split)
            self._rows[split] = rows
            starts: dict[str, int] = {}
            file_starts: list[int] = []
            for i, row in enumerate(rows):
                if row.kind == "hunk":
                    starts.setdefault(row.unit, i)
                elif row.kind == "file":
                    file_starts.append(i)
            self._starts[split] = starts
            self._file_starts[split] = file_starts
        return self._rows[split]

    @property
    def current_unit(self) -> str | None:
        return self.units[self.current] if self.units else None

    @property
    def current_file(self) -> int | None:
        unit = self.current_unit
        return int(unit.split(".")[0]) if unit else None

    def row_of(self, unit: str) -> int:
        self.rows  # noqa: B018 - builds the row index for this layout
        return self._starts[self.split][unit]

    # -- drawing ------------------------------------------------------------------------------

    def _resize(self) -> None:
        self.virtual_size = Size(0, len(self.rows))

    def on_resize(self, _event: events.Resize) -> None:
        self._cache.clear()
        self._resize()
        if self.units:
            self.call_after_refresh(self._reveal)

    def _highlight(self, file: int, code: str) -> Text:
        if file not in self._syntax:
            path = self.files[file].path
            lexer = Syntax.guess_lexer(path)
            self._syntax[file] = (None if lexer in ("default", "text") else
                                  Syntax("", lexer, theme="ansi_dark", background_color="default"))
        syntax = self._syntax[file]
        clean = _clean(code)
        if syntax is None:
            return Text(clean)
        text = syntax.highlight(clean)
        text.rstrip()
        return text

    def _side(self, file: int, side: tuple[str, int | None, str] | None, width: int) -> Text:
        text = Text(no_wrap=True, end="")
        if side is None:
            text.append(" " * width)
            return text
        kind, number, body = side
        mark = {"add": "+", "del": "-"}.get(kind, " ")
        text.append(f"{number:>{NUMBER}} " if number is not None else " " * (NUMBER + 1), GUTTER)
        text.append(f"{mark} ", Style(bold=True) if mark != " " else GUTTER)
        code = self._highlight(file, body)
        code.truncate(max(0, width - NUMBER - 3))
        text.append_text(code)
        text.pad_right(width - text.cell_len)
        if kind in ("add", "del"):
            text.stylize(ADDED if kind == "add" else REMOVED)
        return text

    def _content(self, row: Row, width: int) -> Text:
        if row.kind == "pair":
            half = (width - 1) // 2
            text = self._side(row.file, row.left, half)
            text.append("│", GUTTER)
            text.append_text(self._side(row.file, row.right, width - half - 1))
            return text
        if row.kind == "meta":
            return Text(" " * (2 * NUMBER + 2) + _clean(row.text), style=GUTTER, no_wrap=True, end="")
        text = Text(no_wrap=True, end="")
        old = f"{row.old:>{NUMBER}}" if row.old is not None else " " * NUMBER
        new = f"{row.new:>{NUMBER}}" if row.new is not None else " " * NUMBER
        mark = {"add": "+", "del": "-"}.get(row.kind, " ")
        text.append(f"{old} {new} ", GUTTER)
        text.append(f"{mark} ", Style(bold=True) if mark != " " else GUTTER)
        text.append_text(self._highlight(row.file, row.text))
        if row.kind in ("add", "del"):
            text.pad_right(max(0, width - text.cell_len))
            text.stylize(ADDED if row.kind == "add" else REMOVED)
        return text

    def _header(self, row: Row) -> Text:
        f = self.files[row.file]
        if row.kind == "file":
            added = sum(h.added for h in f.hunks)
            removed = sum(h.removed for h in f.hunks)
            text = Text(no_wrap=True, end="")
            text.append(f"━━ {_clean(f.path)} ", Style(bold=True))
            text.append(f"({_status(f)}) +{added} -{removed}")
            text.append("  ✓ viewed" if row.file in self.viewed else "", Style(bold=True))
            text.stylize(Style(underline=True))
            return text
        mark = "[x]" if row.unit in self.selected else "[ ]"
        here = row.unit == self.current_unit
        text = Text(no_wrap=True, end="")
        text.append("▶ " if here else "  ", Style(bold=True))
        text.append(f"{mark} ", Style(bold=True))
        text.append(_clean(row.text), Style(color="cyan"))
        if here:
            text.stylize(Style(reverse=True) if self.has_focus else Style(bold=True, underline=True))
        return text

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        rows = self.rows
        at = self.scroll_offset.y + y
        if not rows:
            if y == 0:
                return Strip([Segment("no changes", Style(dim=True))]).adjust_cell_length(width, base)
            return Strip.blank(width, base)
        if at >= len(rows):
            return Strip.blank(width, base)
        row = rows[at]
        if row.kind in ("file", "hunk"):
            text = self._header(row)
            text.truncate(width)
            return Strip(list(text.render(self.app.console))).adjust_cell_length(width, base).apply_style(base)
        key = (self.split, at, width)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        text = self._content(row, width)
        text.truncate(width)
        strip = Strip(list(text.render(self.app.console))).adjust_cell_length(width, base).apply_style(base)
        if len(self._cache) > 4_000:
            self._cache.clear()
        self._cache[key] = strip
        return strip

    def watch_has_focus(self, _focus: bool) -> None:
        self.refresh()

    # -- moving ------------------------------------------------------------------------------

    def _reveal(self) -> None:
        unit = self.current_unit
        if unit is None:
            return
        at = self.row_of(unit)
        top, height = self.scroll_offset.y, max(1, self.scrollable_content_region.height)
        if not top <= at < top + height - 1:
            self.scroll_to(y=max(0, at - 1), animate=False, immediate=True)

    def go(self, index: int) -> None:
        if not self.units:
            return
        self.current = max(0, min(index, len(self.units) - 1))
        self._reveal()
        self.refresh()
        self.post_message(self.Changed(self))

    def action_hunk(self, step: int) -> None:
        self.go(self.current + step)

    def action_file(self, step: int) -> None:
        if not self.units:
            return
        file = (self.current_file or 0) + step
        file = max(0, min(file, len(self.files) - 1))
        first = self.files[file].unit_ids[0]
        self.go(self.units.index(first))

    def action_toggle_hunk(self) -> None:
        unit = self.current_unit
        if unit is None:
            return
        self.selected.symmetric_difference_update({unit})
        self.refresh()
        self.post_message(self.Changed(self))

    def action_toggle_viewed(self) -> None:
        file = self.current_file
        if file is None:
            return
        self.viewed.symmetric_difference_update({file})
        self.refresh()
        self.post_message(self.Changed(self))

    def action_toggle_layout(self) -> None:
        self.forced = not self.split
        self._cache.clear()
        self._resize()
        self._reveal()
        self.refresh()
