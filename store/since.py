"""A moment given on the command line (``--since`` of ``uet export`` and ``uet costs``): a date,
a date and time, or an age. Nothing heavy is imported: a read command pays for this alone."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d|w)\s*$")
_UNIT_SECONDS = {"m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_since(text: str, now: float | None = None) -> float:
    """``2026-11-30``, ``2026-11-30T08:00`` (UTC unless it names an offset) or an age such as
    ``36h``, ``7d``, ``2w``; epoch seconds. Raises ValueError saying what is accepted."""
    match = _RELATIVE.match(text)
    if match:
        return (time.time() if now is None else now) - float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date: write e.g. 2026-11-30, 2026-11-30T08:00 or 7d") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
