"""Wall-clock times a step waits for (``not_before``), as people write them.

Three spellings, parsed once at the edge:

- ``"02:00"`` or ``"02:00:30"``: a time of day in the local time of the machine the engine runs
  on; the step waits for its next occurrence, at or after the moment its needs were met.
- ``"02:00 Europe/Paris"`` (or ``"02:00 UTC"``): the same in a named IANA time zone.
- ``"2026-12-24T18:00"`` (a space also separates date and time; ``+01:00`` or ``Z`` gives an
  offset, a trailing zone name a zone): one instant; a step that becomes ready later starts at once.

A time of day that a daylight-saving change skips (02:30 on the spring day in Paris) is taken
with the offset before the change, so it falls an hour later on the clock (03:30); one that
occurs twice (the autumn day) is its first occurrence. ``next_occurrence`` turns a parsed time
into the epoch seconds the engine stores as the step's due time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The longest ``not_before`` text read (a date, a time, an offset and a zone name fit in 60).
MAX_CHARS = 100
_TIME_OF_DAY = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+/-]{0,63}$")
EXAMPLES = '"02:00", "02:00 Europe/Paris" or "2026-12-24T18:00"'


@dataclass(frozen=True, slots=True)
class TimeGate:
    """A parsed ``not_before``: a time of day (``at_time``) or one instant (``at``, possibly
    naive: local time), and the zone it is read in (None: the machine's local time)."""

    at_time: time | None
    at: datetime | None
    zone: str | None


def _zone(name: str) -> ZoneInfo:
    if not _ZONE_NAME.match(name) or ".." in name:
        raise ValueError(f"{name!r} is not a time zone name such as Europe/Paris or UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}: give an IANA name such as Europe/Paris or UTC") from exc


def parse_not_before(value: object) -> TimeGate:
    """Read a ``not_before`` value; raise ValueError saying what is accepted."""
    if not isinstance(value, str):
        raise ValueError(f"not_before is a time written as text, such as {EXAMPLES}")
    text = value.strip()
    if not text or len(text) > MAX_CHARS:
        raise ValueError(f"not_before is a time such as {EXAMPLES}" + (" (at most 100 characters)" if text else ""))
    head, _space, rest = text.rpartition(" ")
    zone: str | None = None
    if head and not rest[:1].isdigit():
        # A last word that is not a clock time is a zone name: "02:00 Europe/Paris".
        zone, text = rest, head.strip()
        _zone(zone)
    match = _TIME_OF_DAY.match(text)
    if match:
        hour, minute, second = (int(part) if part else 0 for part in match.groups())
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(f"{value!r} is no time of day: hours run 00-23, minutes and seconds 00-59")
        return TimeGate(time(hour, minute, second), None, zone)
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a time: write e.g. {EXAMPLES}") from exc
    if at.tzinfo is not None and zone is not None:
        raise ValueError(f"{value!r} gives both an offset and a time zone: keep one")
    if "T" not in text and " " not in text:
        raise ValueError(f"{value!r} is a date without a time: write e.g. {text}T00:00")
    return TimeGate(None, at, zone)


def _timestamp(moment: datetime, zone: tzinfo | None) -> float:
    """Epoch seconds of a wall-clock ``moment`` read in ``zone`` (None: the machine's local
    time, through the C library, which knows its daylight-saving rules)."""
    if moment.tzinfo is not None:
        return moment.timestamp()
    return moment.replace(tzinfo=zone).timestamp() if zone is not None else moment.timestamp()


def next_occurrence(gate: TimeGate, now: float, local: tzinfo | None = None) -> float:
    """When a step gated by ``gate`` may start, for a step whose needs were met at ``now``:
    the first occurrence of the time of day at or after ``now``, or the instant itself (which
    may be in the past: then the step need not wait). ``local`` stands for the machine's local
    time zone (tests pass one; None asks the C library)."""
    zone = ZoneInfo(gate.zone) if gate.zone is not None else local
    if gate.at is not None:
        return _timestamp(gate.at, zone)
    assert gate.at_time is not None
    today = datetime.fromtimestamp(now, zone).date()
    for days in range(3):  # a daylight-saving day is 23 or 25 hours long; the third day is always later
        due = _timestamp(datetime.combine(today + timedelta(days=days), gate.at_time), zone)
        if due >= now:
            return due
    raise AssertionError("unreachable: a time of day recurs within two days")
