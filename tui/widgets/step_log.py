"""StepLog: a step's log read like a log viewer (Textualize/toolong is the model).

It holds the last ``max_lines`` lines of what was written to it (the run screen reads a bounded
tail of the file, so a 50 MB log costs what its last 256 KiB cost) and draws only the rows on
screen. On top of a plain log it offers:

- search (``/``): every match highlighted in reverse video, the current one also bold and
  underlined, ``n``/``N`` to the next or previous (wrapping), "match 3 of 17" in the border;
- wrap (``w``): long lines folded to the pane, or cut and scrolled sideways;
- top and end (``g``/Home, ``G``/End); moving up holds a followed log where it is, the end
  follows it again (``Moved``);
- the engine's own lines (``uet: …``, why a tool could not start) marked with a ``!`` prefix,
  and the lines the tool wrote to stderr with a ``▌`` prefix in bold (the log's index says
  which: ``engine.logindex``), so both read apart from the tool's output without colour;
- search over the whole file (``/`` then Enter, when the owner set ``source``): a worker reads
  the file in chunks ("searching… 40%"), keeps the offsets of at most 10,000 matches, and ``n``
  to a match outside the lines held asks for the window around it (``read_around``);
- stderr only (``E``): the lines held that came from stderr, the others hidden until ``E``
  again (a search then looks only at those shown);
- save (``S``): the owner asks where and copies the whole log file (see ``SaveAsked``).

A step that has not written anything yet (or has no attempt) shows a dim placeholder instead
of an empty pane, which would read as "still loading" or "broken".
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.log_window import Window, read_around, scan

NO_OUTPUT = "no output yet"
#: The prefix of a line the engine wrote into a log itself (``engine/adapters/subprocess.py``).
NOTE_PREFIX = "uet: "
#: What such a line is drawn with in front: a mark that shows without colour.
NOTE_MARK = "! "
#: What a line the tool wrote to stderr is drawn with in front.
ERR_MARK = "▌ "
#: What the other lines are drawn with in front once some line held came from stderr, so that
#: the text of every line starts in the same column.
GUTTER = "  "
#: How much of the file is held around a match that ``n`` went to outside the lines held.
WINDOW_BYTES = 256 * 1024
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = {c: "\ufffd" for c in [*range(0, 9), *range(11, 32), 127]}
_MATCH = Style(reverse=True)
_CURRENT = Style(reverse=True, bold=True, underline=True)
_ERR = Style(italic=True)


def clean(line: str) -> str:
    """A raw log line as a terminal would leave it: colour escapes dropped, a carriage return's
    overwrite kept (the text after the last one), tabs expanded, other control characters shown
    as a mark, never obeyed."""
    line = _ESCAPES.sub("", line.rstrip("\r"))
    if "\r" in line:
        line = line.rsplit("\r", 1)[1]
    return line.expandtabs(4).translate(_CONTROL)


@dataclass(frozen=True, slots=True)
class Match:
    line: int
    start: int
    end: int


class StepLog(ScrollView, can_focus=True):
    """A bounded, searchable, wrappable log with a placeholder while it holds no lines."""

    BINDINGS = [
        Binding("slash", "find", "Search", id="log.search", tooltip="Search the log; n/N go to the next/previous match"),
        Binding("n", "next_match(1)", "Next match", id="log.next", show=False, tooltip="The next match of the search, wrapping"),
        Binding("N", "next_match(-1)", "Previous match", id="log.previous", show=False,
                tooltip="The previous match of the search, wrapping"),
        Binding("w", "toggle_wrap", "Wrap", id="log.wrap", show=False, tooltip="Fold long lines to the pane, or cut them"),
        Binding("g,home", "top", "Top", id="log.top", show=False, tooltip="The first line held"),
        Binding("G,end", "end", "End", id="log.end", show=False, tooltip="The last line"),
        Binding("S", "save", "Save log", id="log.save", show=False, tooltip="Write the whole log to a file"),
        Binding("E", "toggle_stderr", "Stderr only", id="log.stderr", show=False,
                tooltip="Show only the lines the tool wrote to stderr, or every line again"),
        Binding("up,k", "back(-1)", "Up", show=False),
        Binding("down,j", "scroll_down", "Down", show=False),
        Binding("pageup", "back(-2)", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("left", "scroll_left", "Left", show=False),
        Binding("right", "scroll_right", "Right", show=False),
    ]

    DEFAULT_CSS = """
    StepLog { background: $surface; color: $text; overflow: auto auto; scrollbar-size-vertical: 1;
              scrollbar-size-horizontal: 0; }
    """

    class SearchAsked(Message):
        """``/`` in the log: its owner opens the search line."""

        def __init__(self, log: StepLog) -> None:
            super().__init__()
            self.log = log

        @property
        def control(self) -> StepLog:
            return self.log

    class Moved(Message):
        """The reader moved up the log (``to_end`` False) or to its end (True): its owner holds
        or follows it, as a terminal's scrollback does."""

        def __init__(self, log: StepLog, to_end: bool) -> None:
            super().__init__()
            self.log = log
            self.to_end = to_end

        @property
        def control(self) -> StepLog:
            return self.log

    class SaveAsked(Message):
        """``S`` in the log: its owner asks where and writes the whole log there."""

        def __init__(self, log: StepLog) -> None:
            super().__init__()
            self.log = log

        @property
        def control(self) -> StepLog:
            return self.log

    class FileSearched(Message):
        """The whole-file search made progress (``done`` False, ``percent`` read) or ended."""

        def __init__(self, log: StepLog, generation: int, percent: int, hits: list[int] | None = None,
                     capped: bool = False) -> None:
            super().__init__()
            self.log = log
            self.generation = generation
            self.percent = percent
            self.hits = hits
            self.capped = capped

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, StepLog.FileSearched) and message.hits is None and self.hits is None

        @property
        def control(self) -> StepLog:
            return self.log

    class WindowRead(Message):
        """The lines around a match outside those held were read."""

        def __init__(self, log: StepLog, generation: int, window: Window | None, hit: int) -> None:
            super().__init__()
            self.log = log
            self.generation = generation
            self.window = window
            self.hit = hit

        @property
        def control(self) -> StepLog:
            return self.log

    def __init__(self, *, placeholder: str = NO_OUTPUT, max_lines: int | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._placeholder = placeholder
        self.max_lines = max_lines
        self.lines: list[str] = []
        self.streams: list[str] = []  # each line's stream: o, e, or - (not known, or the engine's)
        self.offsets: list[int] = []  # where each line begins in the file (-1: not from the file)
        self._end = -1  # where the text held ends in the file
        self._partial = False  # the last line has no end yet: the next write continues it
        self._width = 0
        self.wrap = False
        self._rows: list[tuple[int, int]] = []  # wrapped: (line, first character) of each row
        self._rows_width = 0
        self.query = ""
        self.matches: list[Match] = []
        self._on_line: dict[int, list[int]] = {}  # line: the numbers of its matches, for drawing
        self.current: int | None = None
        #: What the owner says in the border (following, o: output); the log adds its own.
        self._hint = ""
        #: The file the lines come from, searched whole on Enter (None: only the lines held).
        self.source: str | None = None
        self.hits: list[int] | None = None  # the whole-file search's match offsets, once done
        self.hits_capped = False
        self.hit: int | None = None  # the whole-file match we are at
        self._scan_percent: int | None = None  # reading the file to search it
        self._generation = 0  # bumped by each new search: late answers of an older one are dropped
        #: The lines held are a window around a match, not the file's end.
        self.moved_window = False
        self._has_err = False  # some line held came from stderr: the border says what ▌ is
        #: E: only the stderr lines are shown; ``_shown`` holds their numbers (None: every line).
        self._shown: list[int] | None = None

    # -- content ----------------------------------------------------------------------------------

    @property
    def placeholder(self) -> str:
        return self._placeholder

    @placeholder.setter
    def placeholder(self, text: str) -> None:
        self._placeholder = text
        self.refresh()

    @property
    def hint(self) -> str:
        return self._hint

    @hint.setter
    def hint(self, text: str) -> None:
        self._hint = text
        self._subtitle()

    @property
    def line_count(self) -> int:
        return len(self.lines)

    def clear(self) -> None:
        self.lines.clear()
        self.streams.clear()
        self.offsets.clear()
        self._end = -1
        self.moved_window = False
        self._has_err = False
        if self._shown is not None:
            self._shown = []
        self._partial = False
        self._width = 0
        self._rows.clear()
        self._rows_width = 0
        self.matches, self.current, self._on_line = [], None, {}
        self.hit = None  # the whole-file matches are kept, but none is where the reader is
        self.scroll_to(0, 0, animate=False, immediate=True)
        self._resize()
        self._subtitle()
        self.refresh()

    def write(self, text: str, scroll_end: bool = True, *, start: int | None = None,
              streams: list[str] | None = None) -> None:
        """Append ``text`` (any number of lines, the last one maybe unfinished). ``start``: where
        it begins in ``source`` (None: it is not from the file, as a note of the owner's);
        ``streams``: the stream of each line that begins in it."""
        if not text:
            return
        pieces = text.split("\n")
        ended = pieces[-1] == ""
        if ended:
            pieces.pop()
        first = 0
        if self._partial and self.lines and pieces:
            self.lines[-1] = clean(self.lines[-1] + pieces[0])
            first = 1
        at = start if start is not None else -1
        for n, piece in enumerate(pieces):
            if n >= first:
                self.offsets.append(at)
                self.streams.append(streams[n] if streams is not None and n < len(streams) else "-")
            if at >= 0:
                at += len(piece.encode("utf-8", errors="replace")) + 1
        if start is not None:
            self._end = start + len(text.encode("utf-8", errors="replace"))
        if not self._has_err and streams is not None and "e" in streams:
            self._has_err = True
            self._subtitle()
        self.lines.extend(clean(piece) for piece in pieces[first:])
        self._partial = not ended
        dropped = 0
        if self.max_lines is not None and len(self.lines) > self.max_lines:
            dropped = len(self.lines) - self.max_lines
            del self.lines[:dropped]
            del self.streams[:dropped]
            del self.offsets[:dropped]
        self._width = max(self._width, max((len(line) for line in self.lines[-len(pieces):]), default=0) + 2)
        self._rows_width = 0  # re-fold on the next draw
        if self._shown is not None:
            self._reshow()
        if self.query:
            self._find(keep=dropped)
        self._resize()
        self.refresh()
        if scroll_end:
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)

    # -- layout -----------------------------------------------------------------------------------

    def _reshow(self) -> None:
        self._shown = [i for i, stream in enumerate(self.streams) if stream == "e"]

    def _line_numbers(self) -> range | list[int]:
        return range(len(self.lines)) if self._shown is None else self._shown

    def _mark(self, index: int) -> str:
        """What line ``index`` is drawn with in front: the engine's own, stderr, or nothing."""
        if self.lines[index].startswith(NOTE_PREFIX):
            return NOTE_MARK
        if self.streams[index] == "e":
            return ERR_MARK
        return GUTTER if self._has_err else ""

    def _text_width(self) -> int:
        return max(1, self.scrollable_content_region.width)

    def _fold(self) -> None:
        """The rows of wrapped lines at the pane's width (once per change of lines or width)."""
        width = self._text_width()
        if self._rows_width == width:
            return
        rows: list[tuple[int, int]] = []
        for i in self._line_numbers():
            line = self.lines[i]
            room = width - len(self._mark(i))
            rows.extend((i, start) for start in range(0, max(1, len(line)), max(1, room)))
        self._rows, self._rows_width = rows, width

    def _resize(self) -> None:
        if self.wrap:
            self._rows_width = 0
            self._fold()
            self.virtual_size = Size(0, len(self._rows))
        else:
            self.virtual_size = Size(self._width, len(self._line_numbers()))
        self._subtitle()

    def on_resize(self) -> None:
        self._resize()

    def _row_of(self, line: int) -> int:
        """The first row line ``line`` is drawn on."""
        if not self.wrap:
            return line if self._shown is None else bisect.bisect_left(self._shown, line)
        self._fold()
        low, high = 0, len(self._rows)
        while low < high:
            mid = (low + high) // 2
            if self._rows[mid][0] < line:
                low = mid + 1
            else:
                high = mid
        return low

    # -- drawing ----------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if not self.lines or self._shown == []:
            if y:
                return Strip.blank(width, base)
            style = base + Style(dim=True, italic=True)
            said = self._placeholder if not self.lines else "no line from stderr among those held (E: every line)"
            return Strip([Segment(said, style)]).adjust_cell_length(width, base)
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        if self.wrap:
            self._fold()
            if row >= len(self._rows):
                return Strip.blank(width, base)
            index, start = self._rows[row]
            line = self.lines[index]
            room = self._text_width() - len(self._mark(index))
            end, scroll_x = start + max(1, room), 0
        else:
            shown = self._line_numbers()
            if row >= len(shown):
                return Strip.blank(width, base)
            index, start = shown[row], 0
            line = self.lines[index]
            end = len(line)
        text = Text(no_wrap=True, end="")
        mark = self._mark(index) if start == 0 else ""
        if mark:
            text.append(mark, style=Style(bold=True))
        offset = text.cell_len - start
        text.append(line[start:end], style=_ERR if mark == ERR_MARK else None)
        for number in self._on_line.get(index, ()):
            match = self.matches[number]
            if match.end > start and match.start < end:
                style = _CURRENT if number == self.current else _MATCH
                text.stylize(style, max(match.start, start) + offset, min(match.end, end) + offset)
        strip = Strip(list(text.render(self.app.console)))
        return strip.crop_extend(scroll_x, scroll_x + width, base).apply_style(base)

    # -- search -----------------------------------------------------------------------------------

    def search(self, query: str) -> int:
        """Highlight every match of ``query`` (case-insensitive unless it has a capital) and go
        to the first at or after the top of the pane; returns how many there are."""
        if query != self.query:
            self._generation += 1
            self.hits, self.hits_capped, self.hit, self._scan_percent = None, False, None, None
        self.query = query
        self.current = None
        self._find()
        if self.matches:
            top = self.scroll_offset.y
            first = next((n for n, m in enumerate(self.matches) if self._row_of(m.line) >= top), 0)
            self._go(first)
        self._subtitle()
        self.refresh()
        return len(self.matches)

    def _find(self, keep: int = 0) -> None:
        """Find every match again (the lines changed); the current match stays on its line when
        it is still held (``keep``: how many lines were dropped from the top meanwhile)."""
        was = self.matches[self.current] if self.current is not None and self.current < len(self.matches) else None
        query = self.query
        folded = query == query.lower()
        found: list[Match] = []
        if query:
            size = len(query)
            for i in self._line_numbers():
                line = self.lines[i]
                haystack = line.lower() if folded else line
                at = haystack.find(query)
                while at >= 0:
                    found.append(Match(i, at, at + size))
                    at = haystack.find(query, at + size)
        self.matches = found
        self._on_line = {}
        for number, match in enumerate(found):
            self._on_line.setdefault(match.line, []).append(number)
        if was is not None:
            moved = Match(was.line - keep, was.start, was.end)
            self.current = next((n for n, m in enumerate(found) if m == moved), None)
        self._subtitle()

    def _go(self, number: int) -> None:
        self.current = number
        match = self.matches[number]
        row = self._row_of(match.line)
        if self.wrap:
            row += match.start // max(1, self._rows_width - len(self._mark(match.line)))
        height = max(1, self.scrollable_content_region.height)
        top = self.scroll_offset.y
        if not top <= row < top + height:
            self.scroll_to(y=max(0, row - height // 2), animate=False, immediate=True)
        if not self.wrap:
            left, width = self.scroll_offset.x, self._text_width()
            if not (left <= match.start and match.end <= left + width):
                self.scroll_to(x=max(0, match.start - width // 3), animate=False, immediate=True)
        self._subtitle()
        self.refresh()

    def search_file(self) -> None:
        """Search the whole of ``source`` for the query, in a worker (the lines held are searched
        already): the count and ``n``/``N`` then cover the whole file."""
        if not self.query or self.source is None:
            return
        self._generation += 1
        self.hits, self.hit, self._scan_percent = None, None, 0
        self._subtitle()
        self._scan(self.source, self.query, self._generation)

    @work(thread=True, exclusive=True, group="log-search", exit_on_error=False)
    def _scan(self, path: str, query: str, generation: int) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        hits, capped = scan(path, query, lambda percent: self.post_message(self.FileSearched(self, generation, percent)),
                            lambda: worker.is_cancelled or generation != self._generation)
        if not worker.is_cancelled:
            self.post_message(self.FileSearched(self, generation, 100, hits, capped))

    @on(FileSearched)
    def _searched(self, message: FileSearched) -> None:
        message.stop()
        if message.generation != self._generation:
            return
        if message.hits is None:
            self._scan_percent = message.percent
            self._subtitle()
            return
        self._scan_percent = None
        self.hits, self.hits_capped = message.hits, message.capped
        if self.hits and self._shown is None:
            # The file's match nearest where the reader is: the current match of the lines held,
            # else the top of the pane.
            line = self.matches[self.current].line if self.current is not None else \
                self._line_at_row(self.scroll_offset.y)
            at = next((o for o in self.offsets[line:] if o >= 0), -1) if self.offsets else -1
            number = bisect.bisect_left(self.hits, at) if at >= 0 else 0
            self._go_hit(min(number, len(self.hits) - 1))
        self._subtitle()
        self.refresh()

    def _line_at_row(self, row: int) -> int:
        if not self.lines:
            return 0
        if self.wrap:
            self._fold()
            return self._rows[min(row, len(self._rows) - 1)][0] if self._rows else 0
        shown = self._line_numbers()
        return shown[min(row, len(shown) - 1)] if shown else 0

    def _held(self, offset: int) -> int | None:
        """The line held that the file's byte ``offset`` falls in, if it is held."""
        if self._end < 0 or offset >= self._end:
            return None
        line = bisect.bisect_right(self.offsets, offset) - 1
        if line < 0 or self.offsets[line] < 0:
            return None
        return line

    def _go_hit(self, number: int) -> None:
        """To the whole-file match ``number``: among the lines held, or (outside them) once the
        window around it is read."""
        self.hit = number
        offset = self.hits[number] if self.hits else 0
        line = self._held(offset)
        if line is None:
            if self.source is not None:
                self._subtitle()
                self._read_window(self.source, offset, self._generation, number)
            return
        before = bisect.bisect_left(self.hits or [], self.offsets[line])
        on_line = self._on_line.get(line, [])
        if on_line:
            self._go(on_line[min(number - before, len(on_line) - 1)])
        else:
            self.current = None
            self.scroll_to(y=max(0, self._row_of(line) - self.scrollable_content_region.height // 2),
                           animate=False, immediate=True)
            self._subtitle()
            self.refresh()

    @work(thread=True, exclusive=True, group="log-window", exit_on_error=False)
    def _read_window(self, path: str, offset: int, generation: int, number: int) -> None:
        self.post_message(self.WindowRead(self, generation, read_around(path, offset, WINDOW_BYTES), number))

    @on(WindowRead)
    def _window_read(self, message: WindowRead) -> None:
        message.stop()
        if message.generation != self._generation or message.window is None:
            return
        window = message.window
        query, hits, capped = self.query, self.hits, self.hits_capped
        self.clear()
        if window.skipped:
            self.write(f"{NOTE_PREFIX}… {window.skipped:,} bytes before not shown (G: the end)\n", False)
        self.write(window.text, False, start=window.start, streams=window.streams)
        self.moved_window = True
        self.query, self.hits, self.hits_capped = query, hits, capped
        self._find()
        self.post_message(self.Moved(self, to_end=False))
        self._go_hit(message.hit)

    @property
    def find_status(self) -> str:
        """``match 3 of 17``, ``no match for "x"``, ``searching… 40%`` or "" when nothing is
        searched; after a whole-file search, over the whole file (``match 3 of 10,000+``)."""
        if not self.query:
            return ""
        if self._scan_percent is not None:
            return f"searching… {self._scan_percent}%"
        if self.hits is not None and self._shown is None:
            if not self.hits:
                return f'no match for "{self.query}"'
            total = f"{len(self.hits):,}" + ("+" if self.hits_capped else "")
            if self.hit is None:
                return f"{total} matches"
            return f"match {self.hit + 1:,} of {total}"
        if not self.matches:
            return f'no match for "{self.query}"'
        if self.current is None:
            return f"{len(self.matches):,} matches"
        return f"match {self.current + 1:,} of {len(self.matches):,}"

    def _subtitle(self) -> None:
        parts = [self.find_status, "wrap" if self.wrap else "",
                 "stderr only" if self._shown is not None else f"{ERR_MARK.strip()} stderr" if self._has_err else "",
                 self._hint, self._cut_note()]
        self.border_subtitle = " · ".join(part for part in parts if part)

    def _cut_note(self) -> str:
        """Where the reader is across lines wider than the pane (there is no horizontal
        scrollbar: under NO_COLOR its thumb read as a stray glyph in the last row)."""
        widest = self._width - (0 if self._has_err else len(GUTTER))  # _width leaves room for a mark
        if self.wrap or widest <= self._text_width():
            return ""
        col = round(self.scroll_x)
        return f"← from col {col + 1}" if col else "lines cut: → or w"

    def watch_scroll_x(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_x(old_value, new_value)
        if round(old_value) != round(new_value):
            self._subtitle()

    # -- actions ----------------------------------------------------------------------------------

    def action_find(self) -> None:
        self.post_message(self.SearchAsked(self))

    def action_next_match(self, step: int) -> None:
        if not self.query:
            self.notify("nothing searched yet: / searches the log", severity="warning")
            return
        if self.hits and self._shown is None:
            self._go_hit(0 if self.hit is None and step > 0 else
                         len(self.hits) - 1 if self.hit is None else (self.hit + step) % len(self.hits))
            return
        if not self.matches:
            self.notify(f'no match for "{self.query}"', severity="warning")
            return
        if self.current is None:
            self._go(0 if step > 0 else len(self.matches) - 1)
        else:
            self._go((self.current + step) % len(self.matches))

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self.scroll_to(x=0, animate=False, immediate=True)
        self._resize()
        if self.current is not None:
            self._go(self.current)
        self._subtitle()
        self.refresh()

    def action_toggle_stderr(self) -> None:
        if self._shown is None:
            self._reshow()
        else:
            self._shown = None
        self._rows_width = 0
        self._resize()
        if self.query:
            self._find()
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self._subtitle()
        self.refresh()

    def action_back(self, rows: int) -> None:
        """Up a line (-1) or a page (-2)."""
        if rows == -2:
            self.scroll_page_up(animate=False)
        else:
            self.scroll_up(animate=False)
        self.post_message(self.Moved(self, to_end=False))

    def action_top(self) -> None:
        self.scroll_home(animate=False, immediate=True)
        self.post_message(self.Moved(self, to_end=False))

    def action_end(self) -> None:
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.post_message(self.Moved(self, to_end=True))

    def action_save(self) -> None:
        self.post_message(self.SaveAsked(self))
