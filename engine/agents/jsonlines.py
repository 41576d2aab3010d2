"""Reading an agent's JSON-lines stream without trusting it: the part Claude Code's and Codex's
parsers share.

``LineReader.read`` turns one line into a JSON object, or into the readable lines to show
instead: text that does not start like JSON is the CLI's stderr (merged into the stream) and
is shown as it is, a few last ones kept for an error message; a line that starts like JSON and
does not parse, is no object or is too long to read, is counted in ``malformed``. Token counts
are added as found: a count that is not a number is passed on for the engine to report
(``engine.toolvalues``), never turned into zero here.
"""

from __future__ import annotations

import abc
import json
from typing import Any

from engine.agents.base import Usage, clip

#: A line longer than this is not parsed (the raw stream beside the log keeps it).
MAX_JSON_LINE = 16 * 1024 * 1024
#: How many of the last non-JSON lines are kept for an error message.
MAX_TAIL = 5


def number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def as_found(value: Any) -> Any:
    """A reported count kept for the engine to judge: a number or None as it is, text cut to 100
    characters, anything else as the name of its type (a parser keeps no large value)."""
    if value is None or number(value):
        return value
    return value[:100] if isinstance(value, str) else f"<{type(value).__name__}>"


def add(*values: Any) -> Any:
    """The sum of the counts that are there (None when none is); a count that is not a number
    is returned as found."""
    present = [as_found(v) for v in values if v is not None]
    odd = [v for v in present if not number(v)]
    if odd:
        return odd[0]
    return sum(present) if present else None


def tokens_text(value: Any) -> str:
    """``3600`` -> ``3.6k``; anything that is no sensible count -> ``?``."""
    if not number(value) or not 0 <= value < 10**15:
        return "?"
    if value < 1000:
        return str(int(value))
    return f"{value / 1000:.1f}k" if value < 10**6 else f"{value / 10**6:.1f}M"


def usage_line(usage: Usage) -> str:
    """``tokens: 3.6k in, 240 out (900 cached), $0.0158`` for the log."""
    text = f"tokens: {tokens_text(usage.tokens_in)} in, {tokens_text(usage.tokens_out)} out"
    if number(usage.tokens_cached) and 0 < usage.tokens_cached < 10**15:
        text += f" ({tokens_text(usage.tokens_cached)} cached)"
    if number(usage.usd) and 0 <= usage.usd < 1e9:
        text += f", ${usage.usd:.4f}"
    return text


class LineReader(abc.ABC):
    """The base of the JSON-lines parsers: ``feed`` reads each line into an object (or the
    readable lines to show instead) and hands objects to ``on_event``; a shape ``on_event`` did
    not foresee is shown, never raised."""

    def __init__(self) -> None:
        self.malformed = 0
        self.tail: list[str] = []  # the last lines that were not JSON, clipped

    def feed(self, line: str) -> list[str]:
        if not isinstance(line, str):
            return []
        try:
            event = self.read(line)
            return event if isinstance(event, list) else self.on_event(event)
        except Exception as exc:  # noqa: BLE001 - a shape not foreseen: shown, never raised
            return [clip(f"unreadable line ({type(exc).__name__}): {line[:200]}")]

    @abc.abstractmethod
    def on_event(self, event: dict[str, Any]) -> list[str]:
        """The readable lines one JSON object of the stream makes (each family's parser)."""

    def read(self, line: str) -> dict[str, Any] | list[str]:
        """The line's JSON object, or the readable lines to show instead of one."""
        text = line.strip()
        if not text:
            return []
        if not text.startswith("{"):
            self.tail = [*self.tail[-(MAX_TAIL - 1):], clip(text)]
            return [clip(text)]
        if len(text) > MAX_JSON_LINE:
            self.malformed += 1
            return [f"(a line of {len(text):,} characters not read)"]
        try:
            event = json.loads(text)
        except (ValueError, RecursionError):  # bad JSON, or an integer of more than 4300 digits
            self.malformed += 1
            return [clip(f"not JSON: {text}")]
        if not isinstance(event, dict):
            self.malformed += 1
            return [clip(f"not a JSON object: {text}")]
        return event

    def said(self) -> str:
        """The last non-JSON lines, for an error message."""
        return "; ".join(self.tail) or "nothing"
