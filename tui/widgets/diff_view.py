"""A diff drawn line by line: only the lines on screen are rendered (each cached), so a
20,000-line patch opens as fast as a small one.

Every changed line carries a ``+`` or ``-`` in its gutter, so the diff reads without colour;
colour and syntax highlighting (by file type, one lexer per file) are extras. Unified by
default; side by side when the widget is at least ``SPLIT_WIDTH`` columns wide, or when
toggled. A cursor moves over hunks (``n``/``p``) and files (``]``/``[``); space selects the
current hunk (``[x]``), ``v`` marks its file viewed. A file without hunks (binary, a rename,
a mode change) is one unit of its own. ``J``/``K`` move a line cursor over the lines the patch
leaves (their new-side numbers), the line a review comment points at. Notes (a reviewer's
comments) are drawn under the line, hunk or file they are about, whole-patch ones on top.
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
NOTE = Style(bold=True, italic=True)


@dataclass(frozen=True, slots=True)
class Note:
    """A comment to draw in the diff: on the whole patch (no path), a file, a hunk of it (its
    0-based index in the file) or a line (new-side number)."""

    text: str
    path: str | None = None
    line: int | None = None
    hunk: int | None = None
    draft: bool = True


NOTE_LINES = 3


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the view. ``kind``: file, hunk, ctx, add, del, meta, note; in the split
    layout a ``pair`` row holds both sides in ``left``/``right`` (kind, number, text)."""

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


def new_number(row: Row) -> int | None:
    """The new-side line number a row shows, if any (a removed line has none)."""
    if row.kind == "pair":
        return row.right[1] if row.right is not None and row.right[0] != "del" else None
    return row.new if row.kind in ("ctx", "add") else None


def _note_rows(file: int, unit: str, notes: list[Note]) -> list[Row]:
    rows = []
    for note in notes:
        where = (f"line {note.line}: " if note.line is not None else f"hunk {note.hunk + 1}: " if note.hunk is not None
                 else "file: " if note.path is not None else "patch: ")
        lines = note.text.strip().splitlines() or [""]
        shown = lines[:NOTE_LINES] + (["…"] if len(lines) > NOTE_LINES else [])
        for n, line in enumerate(shown):
            head = (("✎ draft " if note.draft else "✉ sent ") + where) if n == 0 else "  "
            rows.append(Row("note", file, unit, text=head + line))
    return rows


def _place(notes: list[Note], files: list[FileDiff]) -> dict[tuple, list[Note]]:
    """Where each note goes: ("top",), ("file", f), ("hunk", f, h) or ("line", f, n); a note
    whose file or line the diff does not show goes to its file's header, or on top."""
    index = {f.path: f for f in files}
    placed: dict[tuple, list[Note]] = {}
    for note in notes:
        f = index.get(note.path) if note.path is not None else None
        if f is None:
            key: tuple = ("top",)
        elif note.line is not None and any(h.new_start <= note.line < h.new_start + max(h.new_count, 1)
                                           for h in f.hunks):
            key = ("line", f.index, note.line)
        elif note.hunk is not None and note.line is None and 0 <= note.hunk < len(f.hunks):
            key = ("hunk", f.index, note.hunk)
        else:
            key = ("file", f.index)
        placed.setdefault(key, []).append(note)
    return placed


def build(files: list[FileDiff], split: bool, notes: list[Note] | None = None) -> list[Row]:
    plain = _plain(files, split)
    if not notes:
        return plain
    placed = _place(notes, files)
    rows: list[Row] = []
    if ("top",) in placed:
        first = files[0].index if files else 0
        rows += _note_rows(first, f"{first}.0", placed[("top",)])
    hunk_of: dict[str, int] = {h.id: h.index for f in files for h in f.hunks}
    for row in plain:
        rows.append(row)
        after: list[Note] = []
        if row.kind == "file":
            after = placed.get(("file", row.file), [])
        elif row.kind == "hunk" and row.unit in hunk_of:
            after = placed.get(("hunk", row.file, hunk_of[row.unit]), [])
        else:
            number = new_number(row)
            if number is not None:
                after = placed.get(("line", row.file, number), [])
        rows += _note_rows(row.file, row.unit, after)
    return rows


def _plain(files: list[FileDiff], split: bool) -> list[Row]:
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
                tooltip="Select or unselect the current hunk for approving a subset", show=False),
        Binding("J", "line(1)", "Next line", id="diff.next_line",
                tooltip="Move the line cursor to the next line the patch leaves (for a line comment)", show=False),
        Binding("K", "line(-1)", "Prev line", id="diff.prev_line",
                tooltip="Move the line cursor to the previous line the patch leaves", show=False),
        Binding("v", "toggle_viewed", "Viewed", id="diff.viewed", tooltip="Mark the current file viewed", show=False),
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
        self.line: tuple[int, int] | None = None
        """The line cursor: (file index, new-side line number), or None while it is on the hunk."""
        self.notes: list[Note] = []
        self.forced: bool | None = None
        self._rows: dict[bool, list[Row]] = {}
        self._starts: dict[bool, dict[str, int]] = {}
        self._file_starts: dict[bool, list[int]] = {}
        self._syntax: dict[int, Syntax | None] = {}
        self._cache: dict[tuple[bool, int, int], Strip] = {}

    # -- data ---------------------------------------------------------------------------------

    def set_diff(self, diff: str, notes: list[Note] | None = None) -> None:
        self.files = parse(diff)
        self.units = [u for f in self.files for u in f.unit_ids]
        self.selected = set()
        self.viewed = set()
        self.current = 0
        self.line = None
        self.notes = list(notes or [])
        self._rebuild()
        self.scroll_to(y=0, animate=False, immediate=True)
        self.post_message(self.Changed(self))

    def set_notes(self, notes: list[Note]) -> None:
        """Draw these comments in the diff, keeping the cursor and the selection."""
        self.notes = list(notes)
        self._rebuild()
        self._reveal()

    def _rebuild(self) -> None:
        self._rows.clear()
        self._starts.clear()
        self._file_starts.clear()
        self._syntax.clear()
        self._cache.clear()
        self._resize()
        self.refresh()

    @property
    def split(self) -> bool:
        if self.forced is not None:
            return self.forced
        return self.scrollable_content_region.width >= SPLIT_WIDTH

    @property
    def rows(self) -> list[Row]:
        split = self.split
        if split not in self._rows:
            rows = build(self.files, split, self.notes)
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

    @property
    def current_hunk(self) -> tuple[str, int] | None:
        """The current hunk as (path, 0-based index in its file); None on a file without hunks."""
        unit = self.current_unit
        if unit is None:
            return None
        file, hunk = (int(n) for n in unit.split("."))
        return (self.files[file].path, hunk) if self.files[file].hunks else None

    @property
    def current_line(self) -> tuple[str, int] | None:
        """Where the line cursor is, as (path, new-side line number)."""
        return (self.files[self.line[0]].path, self.line[1]) if self.line is not None else None

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
        if row.kind == "note":
            return Text(" " * (2 * NUMBER + 2) + _clean(row.text), style=NOTE, no_wrap=True, end="")
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
        if self.line is not None and row.file == self.line[0] and new_number(row) == self.line[1]:
            text = self._content(row, width)
            text.truncate(width)
            here = Text("▶", Style(bold=True, reverse=self.has_focus), end="")
            return Strip(list((here + text[1:]).render(self.app.console))).adjust_cell_length(width, base) \
                .apply_style(base)
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
        if self.line is not None:
            at = next((i for i, row in enumerate(self.rows) if row.file == self.line[0]
                       and new_number(row) == self.line[1]), at)
        top, height = self.scroll_offset.y, max(1, self.scrollable_content_region.height)
        if not top <= at < top + height - 1:
            self.scroll_to(y=max(0, at - 1), animate=False, immediate=True)

    def go(self, index: int) -> None:
        if not self.units:
            return
        self.line = None
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

    def action_line(self, step: int) -> None:
        """Move the line cursor to the next (or previous) line with a new-side number; from the
        hunk, either key goes to the hunk's first such line."""
        rows = self.rows
        lines = [i for i, row in enumerate(rows) if new_number(row) is not None]
        if not lines:
            return
        if self.line is None:
            start = self.row_of(self.current_unit) if self.current_unit else 0
            at = next((i for i in lines if i > start), lines[-1])
        else:
            now = next((n for n, i in enumerate(lines) if rows[i].file == self.line[0]
                        and new_number(rows[i]) == self.line[1]), 0)
            at = lines[max(0, min(now + step, len(lines) - 1))]
        row = rows[at]
        number = new_number(row)
        assert number is not None
        self.line = (row.file, number)
        self.current = self.units.index(row.unit) if row.unit in self.units else self.current
        self._reveal()
        self.refresh()
        self.post_message(self.Changed(self))

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
