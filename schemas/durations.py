"""Durations as people write them: ``500ms``, ``2s``, ``10m``, ``1h`` (or a bare number of seconds).

Parsed once at the edge into float seconds so the engine never sees strings.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
MAX_SECONDS = 7 * 86400.0
DURATION_REGEX = r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$"


def parse_duration(value: object) -> float:
    """Return seconds for a duration string or number; raise ValueError with a helpful text."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 500ms, 2s, 10m or 1h is needed, not a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration: write e.g. 500ms, 2s, 10m or 1h")
        number, unit = match.group(1), match.group(2) or "s"
        # Divide for milliseconds: 9 * 0.001 is 0.009000000000000001, 9 / 1000 is 0.009.
        seconds = float(number) / 1000 if unit == "ms" else float(number) * _UNITS[unit]
    else:
        raise ValueError("a duration such as 500ms, 2s, 10m or 1h is needed")
    if seconds != seconds:  # NaN compares false with every bound below
        raise ValueError("a duration such as 500ms, 2s, 10m or 1h is needed, not NaN")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > MAX_SECONDS:
        raise ValueError(f"{value!r} is longer than the 7-day limit")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of ``seconds`` that ``parse_duration`` reads back."""
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    exact = Decimal(repr(float(seconds)))
    if 0 < seconds < 1 and (exact * 1000) == (exact * 1000).to_integral_value():
        return f"{int(exact * 1000)}ms"
    return f"{exact.normalize():f}s"


def _positive(seconds: float | None) -> float | None:
    if seconds is not None and seconds <= 0:
        raise ValueError("a timeout must be longer than 0s; leave it out for none")
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION_REGEX},
                {"type": "number", "minimum": 0, "maximum": MAX_SECONDS},
            ],
            "description": "A duration: 500ms, 2s, 10m, 1h, 1d, or a number of seconds.",
        }
    ),
]

#: A timeout: a duration longer than zero (zero would end every attempt at once).
Timeout = Annotated[Duration, AfterValidator(_positive)]
