"""A step log's stream index: which bytes of the log came from stderr, and when they came.

The log itself stays the plain merged text in arrival order (``cat``, ``grep``, ``uet logs``, the
gates' failure output and every other reader see what they always saw). Beside it,
``<log>.idx`` says where each run of one stream begins::

    uet-log-index 1
    0 o 1796256000.125
    812 e 1796256000.130
    1040 o 1796256001.002
    2210 - 1796256003.500
    capped 2210

Each record is ``<byte offset> <stream> <wall time>``: ``o`` stdout, ``e`` stderr, ``-`` neither
(the engine's own lines, and whatever is appended after the child's output ended). A record is
written when the stream changes, and for the same stream once ``TICK`` seconds have passed, so
lines can be placed in time (to the tick) without one record per line; times never go back
within a file. At most ``MAX_RECORDS`` records are written (about 1.5 MB), then a last
``capped <offset>`` line: the rest of the log reads unmarked. A log with no index (older logs,
steps that wrote nothing) reads as before: every line unmarked.

Standard library only: ``uet logs`` reads it, and read commands load nothing heavy.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import time
from dataclasses import dataclass

SUFFIX = ".idx"
HEADER = "uet-log-index 1\n"
STDOUT, STDERR, UNMARKED = "o", "e", "-"
#: A new record for the same stream once this many seconds have passed since the last one.
TICK = 0.25
MAX_RECORDS = 60_000
#: How much of an index file a reader looks at (a cap on a file someone else may have written).
MAX_INDEX_BYTES = 4 * 1024 * 1024


def index_path(log_path: str) -> str:
    return log_path + SUFFIX


class IndexWriter:
    """Appends records to ``<log>.idx`` as the log is written. ``mark`` is called after each
    successful write to the log with where the bytes began; it costs a comparison unless the
    stream changed or a tick passed. A failing index (a full disk) is removed, so the log reads
    unmarked rather than marked wrong."""

    def __init__(self, log_path: str) -> None:
        self.path = index_path(log_path)
        self._fd: int | None = None
        self._stream = ""
        self._time = 0.0
        self.records = 0
        self.capped = False
        self.failed = False

    def mark(self, offset: int, stream: str, now: float | None = None) -> None:
        if self.capped or self.failed or (self._fd is None and stream == UNMARKED):
            return  # nothing marked yet: an unmarked run needs no record
        now = time.time() if now is None else now
        if stream == self._stream and now - self._time < TICK:
            return
        now = max(now, self._time)
        self._stream, self._time = stream, now
        if self.records >= MAX_RECORDS:
            self.capped = True
            self._append(f"capped {offset}\n")
            return
        self.records += 1
        self._append(f"{offset} {stream} {now:.3f}\n")

    def close(self, end: int) -> None:
        """The child's output ended at ``end``: whatever is appended later is unmarked."""
        if self._fd is None:
            return
        if self._stream != UNMARKED:
            self.mark(end, UNMARKED)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _append(self, text: str) -> None:
        try:
            if self._fd is None:
                # Appended to, not truncated: a log appended to again keeps its older records.
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
                if os.fstat(self._fd).st_size == 0:
                    text = HEADER + text
            os.write(self._fd, text.encode())
        except OSError:
            self.failed = True
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            with contextlib.suppress(OSError):
                os.unlink(self.path)


@dataclass(frozen=True, slots=True)
class LogIndex:
    """The records of one index: parallel lists, offsets ascending."""

    offsets: list[int]
    streams: str
    times: list[float]
    #: Past this offset nothing is marked (the writer stopped at its cap).
    capped: int | None = None

    def _at(self, offset: int) -> int:
        return bisect.bisect_right(self.offsets, offset) - 1

    def stream_at(self, offset: int) -> str:
        """The stream the byte at ``offset`` came from (``-`` when not known)."""
        if self.capped is not None and offset >= self.capped:
            return UNMARKED
        at = self._at(offset)
        return self.streams[at] if at >= 0 else UNMARKED

    def time_at(self, offset: int) -> float | None:
        """When the byte at ``offset`` was written, to the tick (None before the first record)."""
        at = self._at(offset)
        return self.times[at] if at >= 0 else None

    def line_streams(self, start: int, data: bytes) -> list[str]:
        """The stream of each line of ``data`` (read from the log at ``start``): the stream of its
        first byte. A line split across two runs is marked by where it begins."""
        marks: list[str] = []
        at = 0
        size = len(data)
        while at < size or not marks:
            marks.append(self.stream_at(start + at))
            end = data.find(b"\n", at)
            if end < 0 or end + 1 >= size:
                break
            at = end + 1
        return marks


def read_index(log_path: str) -> LogIndex | None:
    """The index beside ``log_path``; None when there is none or it is not one (then every line
    reads unmarked). Records out of order or malformed end the reading there."""
    try:
        with open(index_path(log_path), "rb") as handle:
            raw = handle.read(MAX_INDEX_BYTES)
    except OSError:
        return None
    text = raw[: raw.rfind(b"\n") + 1].decode("ascii", errors="replace")  # whole records only
    if not text.startswith(HEADER):
        return None
    offsets: list[int] = []
    streams: list[str] = []
    times: list[float] = []
    capped: int | None = None
    for line in text[len(HEADER):].split("\n")[:-1]:
        fields = line.split(" ")
        try:
            if len(fields) == 2 and fields[0] == "capped":
                capped = int(fields[1])
                break
            if len(fields) != 3 or fields[1] not in (STDOUT, STDERR, UNMARKED):
                break
            offset, stamp = int(fields[0]), float(fields[2])
        except ValueError:
            break
        if offset < 0 or (offsets and offset < offsets[-1]):
            break
        offsets.append(offset)
        streams.append(fields[1])
        times.append(stamp)
    return LogIndex(offsets, "".join(streams), times, capped)

