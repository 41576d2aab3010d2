"""Reading a step log the way the log viewer needs it, never whole: its tail, the window around a
byte offset, a search over the whole file in bounded chunks, and the whole run's lines merged by
time. Each line comes with the stream it came from, as the log's index says
(``engine.logindex``; a log without one reads unmarked). Plain functions over files, called from
the viewer's worker threads."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from engine.logindex import UNMARKED, LogIndex, read_index

#: Bytes read at a time when searching a whole file.
SCAN_CHUNK = 1 << 20
#: How many matches a whole-file search keeps (their offsets): past it, "10,000+ matches".
MAX_HITS = 10_000


@dataclass(frozen=True, slots=True)
class Window:
    """Whole lines of a log read from byte ``start`` to ``end``, with each line's stream."""

    start: int
    end: int
    text: str
    streams: list[str]
    #: Bytes before ``start`` that were left out (0: the window starts where it was asked to).
    skipped: int = 0
    #: The log's stream index as read for these lines (None: the log has none).
    index: LogIndex | None = None


def _streams(index: LogIndex | None, start: int, data: bytes) -> list[str]:
    if index is None:
        return [UNMARKED] * (data.count(b"\n") + (0 if data.endswith(b"\n") else 1))
    return index.line_streams(start, data)


def read_tail(path: str, offset: int, max_bytes: int) -> Window | None:
    """What the log holds past ``offset``, at most its last ``max_bytes`` (from a line's start);
    None when there is nothing new or the file cannot be read."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return None
    if size <= offset:
        return None
    start = max(offset, size - max_bytes)
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            data = handle.read(size - start)
    except OSError:
        return None
    if start > offset:
        newline = data.find(b"\n")
        if 0 <= newline < len(data) - 1:
            data, start = data[newline + 1:], start + newline + 1
    end = start + len(data)
    # Read after the log: the index records what was written before, so the lines read are in it.
    index = read_index(path)
    return Window(start, end, data.decode("utf-8", errors="replace"), _streams(index, start, data), start - offset,
                  index)


def read_around(path: str, offset: int, max_bytes: int) -> Window | None:
    """About ``max_bytes`` of whole lines with ``offset`` in their middle."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = max(0, min(offset - max_bytes // 2, size - max_bytes))
            handle.seek(start)
            data = handle.read(max_bytes)
    except OSError:
        return None
    if start > 0:
        newline = data.find(b"\n")
        if 0 <= newline < len(data) - 1 and start + newline < offset:
            data, start = data[newline + 1:], start + newline + 1
    end = start + len(data)
    if end < size:
        newline = data.rfind(b"\n")
        if newline >= 0 and start + newline >= offset:
            data = data[: newline + 1]
            end = start + len(data)
    return Window(start, end, data.decode("utf-8", errors="replace"), _streams(read_index(path), start, data), start)


def scan(path: str, query: str, progress: Callable[[int], None] | None = None,
         cancelled: Callable[[], bool] | None = None) -> tuple[list[int], bool]:
    """The byte offsets of the matches of ``query`` in the whole file (case-insensitive unless it
    has a capital, as the viewer's search), reading ``SCAN_CHUNK`` bytes at a time; at most
    ``MAX_HITS`` (then True: there are more). ``progress`` hears the percent read."""
    needle = query.encode()
    folded = query == query.lower()
    if folded:
        needle = needle.lower()
    hits: list[int] = []
    if not needle:
        return hits, False
    keep = len(needle) - 1
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return hits, False
    with handle:
        size = max(1, os.fstat(handle.fileno()).st_size)
        carry, read = b"", 0
        while data := handle.read(SCAN_CHUNK):
            if cancelled is not None and cancelled():
                return hits, False
            buffer = carry + data
            base = read - len(carry)
            haystack = buffer.lower() if folded else buffer
            at = haystack.find(needle)
            while at >= 0:
                hits.append(base + at)
                if len(hits) >= MAX_HITS:
                    return hits, True
                at = haystack.find(needle, at + len(needle))
            carry = buffer[-keep:] if keep else b""
            read += len(data)
            if progress is not None:
                progress(min(100, read * 100 // size))
    return hits, False


@dataclass(frozen=True, slots=True)
class StepTail:
    """One step's part of the whole-run view: its latest log and when its attempt started."""

    step_id: str
    path: str | None
    started_at: float | None


@dataclass(frozen=True, slots=True)
class Tail:
    """The last whole lines of a log, each with its stream and the byte it starts at."""

    lines: list[str]
    streams: list[str]
    offsets: list[int]
    cut: bool  # lines before these were left out
    index: LogIndex | None  # the log's stream index, as read with the lines


def last_lines(path: str, max_bytes: int, max_lines: int) -> Tail | None:
    """The last ``max_lines`` lines of the last ``max_bytes`` of a log; None when it is empty or
    cannot be read."""
    window = read_tail(path, 0, max_bytes)
    if window is None:
        return None
    lines = window.text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    offsets: list[int] = []
    at = window.start
    for line in lines:
        offsets.append(at)
        at += len(line.encode("utf-8", errors="replace")) + 1
    first = max(0, len(lines) - max_lines)
    streams = [window.streams[n] if n < len(window.streams) else UNMARKED for n in range(first, len(lines))]
    return Tail(lines[first:], streams, offsets[first:], bool(window.skipped or first), window.index)


def merged_by_time(steps: list[StepTail], max_bytes: int, max_lines: int) -> tuple[list[str], list[str], int]:
    """The last ``max_lines`` lines (of the last ``max_bytes``) of each step's log, merged by the
    time each was written (from the index; a step without one counts from its start), each
    line headed by its step id as ``docker compose logs`` does. Returns the lines, their
    streams, and how many steps had lines cut off at the top."""
    rows: list[tuple[float, int, int, str, str, str]] = []
    cut = 0
    width = max((len(s.step_id) for s in steps), default=0)
    for order, step in enumerate(steps):
        tail = last_lines(step.path, max_bytes, max_lines) if step.path else None
        if tail is None:
            continue
        cut += tail.cut
        index = tail.index
        for n, (line, stream, offset) in enumerate(zip(tail.lines, tail.streams, tail.offsets, strict=True)):
            when = index.time_at(offset) if index is not None else None
            if when is None:
                when = step.started_at or 0.0
            rows.append((when, order, n, step.step_id, stream, line))
    rows.sort(key=lambda row: (row[0], row[1], row[2]))
    return ([f"{step_id:<{width}} │ {text}" for _when, _order, _n, step_id, _stream, text in rows],
            [stream for _when, _order, _n, _step, stream, _text in rows], cut)
