"""What an attempt cost: tokens (in, out, cached), the model, dollars and wall time.

Tools report usage through a parser declared per tool (a JSON line or a regex over the end of
the output); the sim adapter and Python callables report it directly. Dollars come from the
tool's own report or from its price table; when neither gives them, the cost is unknown —
recorded as NULL and counted as unpriced, never as zero.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from schemas.execution import ExecutionResult
from schemas.router import CostParser, Price, ToolSpec

_INT_FIELDS = ("tokens_in", "tokens_out", "tokens_cached")


@dataclass(frozen=True)
class Cost:
    model: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    tokens_cached: int | None = None
    usd: float | None = None

    @property
    def tokens(self) -> int:
        return (self.tokens_in or 0) + (self.tokens_out or 0)


def _dig(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def _coerce(field: str, value: Any) -> Any:
    if value is None:
        return None
    try:
        if field in _INT_FIELDS:
            number = int(float(value))
            return number if number >= 0 else None
        if field == "usd":
            amount = float(value)
            return amount if amount >= 0 else None
    except (TypeError, ValueError):
        return None
    return str(value)[:200]


def parse_output(parser: CostParser, text: str) -> dict[str, Any]:
    """The fields the parser finds in ``text`` (the last report wins); empty when none."""
    found: dict[str, Any] = {}
    if parser.format == "json_line":
        for line in reversed(text.splitlines()):
            line = line.strip()
            if not (line.startswith("{") and line.endswith("}")):
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            values = {field: _coerce(field, _dig(obj, path)) for field, path in parser.fields.items()}
            if any(v is not None for v in values.values()):
                found = {k: v for k, v in values.items() if v is not None}
                break
    else:
        matches = list(re.finditer(parser.pattern or "", text))
        if matches:
            groups = matches[-1].groupdict()
            found = {k: _coerce(k, v) for k, v in groups.items() if _coerce(k, v) is not None}
    return found


def price(prices: dict[str, Price], model: str | None, tokens_in: int | None, tokens_out: int | None,
          tokens_cached: int | None) -> float | None:
    """Dollars for the tokens at the model's price; None when the model has no price or no
    token counts are known. Cached input tokens are part of ``tokens_in`` and billed at the
    cached price instead of the input price."""
    if model is None or model not in prices or (tokens_in is None and tokens_out is None):
        return None
    table = prices[model]
    cached = min(tokens_cached or 0, tokens_in or 0)
    fresh = (tokens_in or 0) - cached
    cached_rate = table.cached_input if table.cached_input is not None else table.input
    return (fresh * table.input + cached * cached_rate + (tokens_out or 0) * table.output) / 1_000_000


def attempt_cost(tool: ToolSpec | None, result: ExecutionResult) -> Cost:
    """Everything known about an attempt's cost, from the result and the tool's declarations."""
    fields: dict[str, Any] = {
        "model": result.model, "tokens_in": result.tokens_in, "tokens_out": result.tokens_out,
        "tokens_cached": result.tokens_cached, "usd": result.usd,
    }
    if tool is not None and tool.cost is not None and result.output_tail:
        for key, value in parse_output(tool.cost, result.output_tail).items():
            if fields.get(key) is None:
                fields[key] = value
    if fields["model"] is None and tool is not None:
        fields["model"] = tool.model
    if fields["usd"] is None and tool is not None and tool.prices:
        fields["usd"] = price(tool.prices, fields["model"], fields["tokens_in"], fields["tokens_out"],
                              fields["tokens_cached"])
    return Cost(**fields)


def with_cost(tool: ToolSpec | None, result: ExecutionResult) -> ExecutionResult:
    """``result`` with its cost fields completed from the tool's declarations; the same object
    when the tool declares nothing (no parser, model or prices), which is most attempts."""
    if tool is None or (tool.cost is None and tool.model is None and not tool.prices):
        return result
    cost = attempt_cost(tool, result)
    return result.replace(model=cost.model, tokens_in=cost.tokens_in, tokens_out=cost.tokens_out,
                          tokens_cached=cost.tokens_cached, usd=cost.usd)
