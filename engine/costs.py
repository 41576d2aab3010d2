"""What an attempt cost: tokens (in, out, cached), the model, dollars and wall time.

Tools report usage through a parser declared per tool (a JSON line or a regex over the end of
the output); the sim adapter and Python callables report it directly. Dollars come from the
tool's own report or from its price table; when neither gives them, the cost is unknown —
recorded as NULL and counted as unpriced, never as zero.

Everything here reads untrusted text: only the last ``PARSE_CHARS`` characters of the output
are parsed, regexes run on RE2 (linear time, see ``schemas.router.cost_regex``), and every
value goes through ``engine.toolvalues`` before it is recorded.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from engine.adapters.base import TAIL_CHARS
from engine.toolvalues import (
    MAX_USD,
    TOKEN_FIELDS,
    Dropped,
    checked,
    dollars,
    model_name,
    token_count,
    unknown,
)
from schemas.execution import ExecutionResult
from schemas.router import CostParser, Price, ToolSpec, cost_regex

#: How much of the end of the output a parser reads: a usage report is the tool's last words.
PARSE_CHARS = TAIL_CHARS


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


def _coerce(field: str, value: Any, dropped: list[Dropped] | None = None) -> Any:
    """The value of a cost field from parsed text or JSON; None (with a note in ``dropped``)
    when it is not a value the field can hold."""
    if value is None:
        return None
    if field in TOKEN_FIELDS:
        found: Any = token_count(value)
    elif field == "usd":
        found = dollars(value)
    elif isinstance(value, str):
        return model_name(value)
    else:
        found = f"not text ({type(value).__name__})"
    if isinstance(found, str):
        if dropped is not None:
            dropped.append(unknown(field, value, found))
        return None
    return found


def parse_output(parser: CostParser, text: str, dropped: list[Dropped] | None = None) -> dict[str, Any]:
    """The fields the parser finds in the end of ``text`` (the last report wins); empty when
    none. Values out of range are left out and noted in ``dropped``."""
    text = text[-PARSE_CHARS:]
    found: dict[str, Any] = {}
    if parser.format == "json_line":
        for line in reversed(text.splitlines()):
            line = line.strip()
            if not (line.startswith("{") and line.endswith("}")):
                continue
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):  # RecursionError: [[[[… nested past the parser's depth
                continue
            raw = {field: _dig(obj, path) for field, path in parser.fields.items()}
            if any(v is not None for v in raw.values()):
                values = {field: _coerce(field, value, dropped) for field, value in raw.items()}
                found = {k: v for k, v in values.items() if v is not None}
                break
    else:
        last = None
        for last in cost_regex(parser.pattern or "").finditer(text):  # noqa: B007 - the last match wins
            pass
        if last is not None:
            for key, value in last.groupdict().items():
                coerced = _coerce(key, value, dropped)
                if coerced is not None:
                    found[key] = coerced
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


def attempt_cost(tool: ToolSpec | None, result: ExecutionResult, dropped: list[Dropped] | None = None) -> Cost:
    """Everything known about an attempt's cost, from the result (its values already checked,
    see ``recorded``) and the tool's declarations."""
    fields: dict[str, Any] = {
        "model": result.model, "tokens_in": result.tokens_in, "tokens_out": result.tokens_out,
        "tokens_cached": result.tokens_cached, "usd": result.usd,
    }
    if tool is not None and tool.cost is not None and result.output_tail:
        for key, value in parse_output(tool.cost, result.output_tail, dropped).items():
            if fields.get(key) is None:
                fields[key] = value
    if fields["model"] is None and tool is not None:
        fields["model"] = tool.model
    if fields["usd"] is None and tool is not None and tool.prices:
        amount = price(tool.prices, fields["model"], fields["tokens_in"], fields["tokens_out"], fields["tokens_cached"])
        if amount is not None and not (math.isfinite(amount) and amount <= MAX_USD):
            if dropped is not None:
                dropped.append(unknown("usd", amount, f"the price table gives more than {MAX_USD:,.0f} dollars"))
            amount = None
        fields["usd"] = amount
    return Cost(**fields)


def with_cost(tool: ToolSpec | None, result: ExecutionResult, dropped: list[Dropped] | None = None) -> ExecutionResult:
    """``result`` with its cost fields completed from the tool's declarations; the same object
    when the tool declares nothing (no parser, model or prices), which is most attempts."""
    if tool is None or (tool.cost is None and tool.model is None and not tool.prices):
        return result
    cost = attempt_cost(tool, result, dropped)
    return result.replace(model=cost.model, tokens_in=cost.tokens_in, tokens_out=cost.tokens_out,
                          tokens_cached=cost.tokens_cached, usd=cost.usd)


def recorded(tool: ToolSpec | None, result: ExecutionResult) -> tuple[ExecutionResult, tuple[Dropped, ...]]:
    """The adapter boundary: ``result`` as the runner records it, with every value the tool
    reported checked and bounded (``engine.toolvalues``) and its cost completed from the tool's
    declarations, plus what was dropped on the way (each one becomes a warning event)."""
    result, dropped = checked(result)
    if tool is None or (tool.cost is None and tool.model is None and not tool.prices):
        return result, dropped
    found = list(dropped)
    result = with_cost(tool, result, found)
    return result, tuple(found)
