"""Compact JSON for stored columns (event data, specs, needs, arguments).

The encoder is the C one the ``json`` module uses, built once: ``json.JSONEncoder.encode``
builds it again on every call, which at three events per step was a measurable part of the
engine's time. Values it cannot encode are written as their ``str``, as before; nothing the
engine stores is circular, so the circular-reference check is off.
"""

from __future__ import annotations

import json
from typing import Any

try:
    from json.encoder import c_make_encoder as _make  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - every CPython has the C accelerator
    _make = None

if _make is not None:
    _encode = _make(None, str, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True)

    def dumps(value: Any) -> str:
        return "".join(_encode(value, 0))

else:  # pragma: no cover
    dumps = json.JSONEncoder(separators=(",", ":"), default=str).encode
