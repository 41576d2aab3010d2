"""A keyed table drawn line by line, for lists that grow to tens of thousands of rows.

Textual's DataTable builds every row up front (about a second for 10,000 rows), so the runs,
steps and breakers lists use this instead: rows are plain tuples kept in order, only the lines
on screen are rendered (each cached until its row changes), and changing one row repaints one
line. The cursor is drawn in reverse video, so it shows without colour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = str | Text
NULL_STYLE = Style()

MIN_TEXT_WIDTH = 4
"""The fewest cells a text column is cut to at the table's edge (three characters and "…")."""


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: int
    right: bool = False
    grow: bool = False
    #: When the columns do not fit, the ones with the highest ``drop`` are left out first (at
    #: equal ``drop``, from the right): a table can keep a column on its right edge at 80
    #: columns and give up one in the middle.
    drop: int = 0


class LineTable(ScrollView, can_focus=True):
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "jump(0)", "First", show=False),
        Binding("end,G", "jump(-1)", "Last", show=False),
        Binding("enter", "select", "Open", show=False),
    ]

    DEFAULT_CSS = """
    LineTable { height: 1fr; scrollbar-size-vertical: 1; }
    LineTable > .line-table--header { text-style: bold; }
    """

    COMPONENT_CLASSES = {"line-table--header"}

    class RowHighlighted(Message):
        """The cursor moved to the row ``key``."""

        def __init__(self, table: LineTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> LineTable:
            return self.table

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LineTable.RowHighlighted) and message.table is self.table

    class RowSelected(Message):
        """Enter (or a click) on the row ``key``."""

        def __init__(self, table: LineTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> LineTable:
            return self.table

    def __init__(self, columns: Sequence[Column], *, cells: Callable[[Any], tuple[Cell, ...]] | None = None,
                 empty: str = "nothing here yet", name: str | None = None, id: str | None = None,
                 classes: str | None = None, note_overflow: bool = False) -> None:
        """``cells`` turns a row's item into its cells when the row is drawn; without it the
        items are the cells. Formatting only what is on screen keeps a 10,000-row fill cheap.
        ``note_overflow`` writes the rows out of sight in the bottom border (``… 5 more``), for a
        pane too short for its rows."""
        super().__init__(name=name, id=id, classes=classes)
        self.note_overflow = note_overflow
        self.columns = list(columns)
        self.cells = cells
        self.empty = empty
        self.keys: list[str] = []
        self.rows: dict[str, Any] = {}
        self.index: dict[str, int] = {}
        self.cursor = 0
        self._cache: dict[tuple[str, int, bool], tuple[Any, Strip]] = {}

    # -- data ---------------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[tuple[str, Any]], keep_cursor: bool = True) -> None:
        """Replace every row (ordered); the cursor stays on the same key when it still exists."""
        current = self.cursor_key if keep_cursor else None
        self.keys = [key for key, _ in rows]
        self.rows = dict(rows)
        self.index = {key: i for i, key in enumerate(self.keys)}
        self._cache.clear()
        self.cursor = self.index.get(current, 0) if current is not None else 0
        self.cursor = min(self.cursor, max(0, len(self.keys) - 1))
        self._resize()
        self.refresh()
        self.call_after_refresh(self._reveal)
        self.post_message(self.RowHighlighted(self, self.cursor_key))

    def update_rows(self, rows: Sequence[tuple[str, Any]]) -> list[str]:
        """Change rows in place; return the keys that are not in the table (the caller decides
        where new rows go). Only the changed lines are repainted."""
        missing = []
        top = self.scroll_offset.y
        for key, cells in rows:
            at = self.index.get(key)
            if at is None:
                missing.append(key)
                continue
            if self.rows.get(key) == cells:
                continue
            self.rows[key] = cells
            if top <= at < top + self.size.height:
                self.refresh_line(at + 1)  # virtual line: the header takes the first
        return missing

    def row(self, key: str) -> tuple[Cell, ...] | None:
        """The cells of row ``key`` as drawn."""
        item = self.rows.get(key)
        if item is None:
            return None
        return self.cells(item) if self.cells is not None else item

    def redraw(self, keys: Iterable[str]) -> None:
        """Draw these rows again (their cells depend on something besides the item, e.g. the clock)."""
        top = self.scroll_offset.y
        for key in keys:
            at = self.index.get(key)
            if at is not None and top <= at < top + self.size.height:
                for selected in (False, True):
                    self._cache.pop((key, self.scrollable_content_region.width, selected), None)
                self.refresh_line(at + 1)

    @property
    def cursor_key(self) -> str | None:
        return self.keys[self.cursor] if self.keys else None

    def move_to(self, key: str) -> None:
        if key in self.index:
            self._set_cursor(self.index[key])

    # -- drawing ------------------------------------------------------------------------------

    def _widths(self, width: int) -> list[int]:
        """Each column's width; 0 for a column left out. When the columns do not fit, they are
        left out by ``Column.drop``, then from the right (the first always stays), never cut at
        the edge: a cut right-aligned ``48.0s`` would read as a lone ``4``. Only a column of text
        (left-aligned) may take the room that is left, at least MIN_TEXT_WIDTH cells, its cells
        ending in an ellipsis when cut."""
        count = len(self.columns)
        widths = [c.width for c in self.columns]
        leaving = sorted(range(1, count), key=lambda i: (-self.columns[i].drop, -i))
        last_out = None
        while leaving and sum(widths) + sum(1 for w in widths if w) - 1 > width:
            last_out = leaving.pop(0)
            widths[last_out] = 0
        shown = sum(1 for w in widths if w)
        spare = max(0, width - sum(widths) - (shown - 1))
        if last_out is not None and not self.columns[last_out].right and spare - 1 >= MIN_TEXT_WIDTH:
            widths[last_out] = spare - 1
            return widths
        growers = [i for i, c in enumerate(self.columns) if c.grow and widths[i]]
        for n, i in enumerate(growers):
            widths[i] += spare // len(growers) + (1 if n < spare % len(growers) else 0)
        return widths

    def _resize(self) -> None:
        self.virtual_size = Size(0, len(self.keys) + 1)  # as wide as it is: no sideways scrolling
        self._note_hidden()

    def on_resize(self, _event: events.Resize) -> None:
        self._cache.clear()
        self._resize()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._note_hidden()

    def hidden(self) -> tuple[int, int]:
        """How many rows are out of sight above and below the lines shown."""
        shown = max(0, self.scrollable_content_region.height - 1)
        top = min(self.scroll_offset.y, len(self.keys))
        return top, max(0, len(self.keys) - top - shown)

    def _note_hidden(self) -> None:
        if not self.note_overflow:
            return
        above, below = self.hidden()
        notes = ([f"↑ {above} above"] if above else []) + ([f"… {below} more"] if below else [])
        if str(self.border_subtitle) != " · ".join(notes):  # setting it repaints the border line
            self.border_subtitle = " · ".join(notes)

    def _line(self, cells: Sequence[Cell], widths: list[int], style: Style) -> list[Segment]:
        text = Text(no_wrap=True, end="")
        last = max((i for i, width in enumerate(widths) if width), default=-1)
        for i, (cell, width) in enumerate(zip(cells, widths, strict=False)):
            if not width:
                continue
            piece = cell.copy() if isinstance(cell, Text) else Text(str(cell))
            if piece.cell_len > width:
                piece.truncate(width, overflow="ellipsis")
            pad = width - piece.cell_len
            if self.columns[i].right:
                text.append(" " * pad)
                text.append_text(piece)
            else:
                text.append_text(piece)
                text.append(" " * pad)
            if i < last:
                text.append(" ")
        text.stylize(style)
        # A segment without a style breaks Textual's NO_COLOR filter: give each one (null draws alike).
        return [segment if segment.style is not None else Segment(segment.text, NULL_STYLE, segment.control)
                for segment in text.render(self.app.console)]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        widths = self._widths(width)
        base = self.rich_style
        if y == 0:
            header = self.get_component_rich_style("line-table--header")
            segments = self._line([c.title for c in self.columns], widths, header)
            return Strip(segments).adjust_cell_length(width, base).apply_style(base)
        at = self.scroll_offset.y + y - 1
        if not self.keys:
            if y == 1:
                return Strip([Segment(self.empty, Style(dim=True))]).adjust_cell_length(width, base)
            return Strip.blank(width, base)
        if at >= len(self.keys):
            return Strip.blank(width, base)
        key = self.keys[at]
        selected = at == self.cursor
        cached = self._cache.get((key, width, selected))
        item = self.rows[key]
        if cached is not None and cached[0] is item:
            return cached[1]
        cells = self.cells(item) if self.cells is not None else item
        style = Style(reverse=True) if selected and self.has_focus else (Style(bold=True, underline=True)
                                                                         if selected else Style())
        strip = Strip(self._line(cells, widths, style)).adjust_cell_length(width, base)
        self._cache[(key, width, selected)] = (item, strip)
        return strip

    def watch_has_focus(self, _focus: bool) -> None:
        self._cache = {k: v for k, v in self._cache.items() if not k[2]}
        self.refresh()

    def _reveal(self) -> None:
        """Scroll so the cursor shows, once the table knows its final height."""
        top = self.scroll_offset.y
        visible = max(1, self.scrollable_content_region.height - 1)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    # -- cursor -------------------------------------------------------------------------------

    def _set_cursor(self, at: int) -> None:
        if not self.keys:
            return
        at = max(0, min(at, len(self.keys) - 1))
        if at == self.cursor:
            return
        old, self.cursor = self.cursor, at
        top = self.scroll_offset.y
        visible = max(1, self.scrollable_content_region.height - 1)
        if at < top:
            self.scroll_to(y=at, animate=False, immediate=True)
            self.refresh()
        elif at >= top + visible:
            self.scroll_to(y=at - visible + 1, animate=False, immediate=True)
            self.refresh()
        else:
            self.refresh_line(old + 1)
            self.refresh_line(at + 1)
        self.post_message(self.RowHighlighted(self, self.cursor_key))

    def action_cursor(self, step: int) -> None:
        self._set_cursor(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._set_cursor(self.cursor + direction * max(1, self.size.height - 2))

    def action_jump(self, at: int) -> None:
        self._set_cursor(at if at >= 0 else len(self.keys) - 1)

    def action_select(self) -> None:
        if self.keys:
            self.post_message(self.RowSelected(self, self.keys[self.cursor]))

    def on_click(self, event: events.Click) -> None:
        at = self.scroll_offset.y + event.y - 1
        if event.y >= 1 and 0 <= at < len(self.keys):
            self._set_cursor(at)
            if event.chain >= 2:
                self.action_select()
