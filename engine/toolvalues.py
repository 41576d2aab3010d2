"""Values a tool reports are untrusted input: they are checked and bounded here, at the one place
every adapter's result passes before the runner records it (``engine.costs.recorded``).

A tool can print ``"input_tokens": 99999999999999999999999`` or ``1e300``, a sim config can
say ``exit_code: 10**23``, a Python callable can return a list where a count belongs. SQLite
stores integers up to 2**63 - 1 and binds only numbers, text and bytes; one such value used to
stop the store's writer and leave the run half recorded. So:

* token counts are integers from 0 to ``MAX_TOKENS``;
* dollars are finite numbers from 0 to ``MAX_USD``;
* exit codes lie in the range a process can have (``EXIT_CODE_MIN`` to ``EXIT_CODE_MAX``);
* a model name is text of at most ``MAX_MODEL_CHARS`` characters;
* an attempt's output is text of at most ``MAX_OUTPUT_CHARS`` characters (cut, said so).

A value outside its bound becomes unknown (None), never zero, since zero would be a claim the
tool did not make, and the attempt gets a warning event naming the field and the value's
beginning. Error text and the output tail are bounded silently: long text is normal.

The check costs a few type and range tests per attempt; the result object is rebuilt only when
something is wrong.
"""

from __future__ import annotations

import math
import reprlib
from typing import Any, NamedTuple

from engine.adapters.base import TAIL_CHARS
from schemas.execution import EXIT_CODE_MAX, EXIT_CODE_MIN, ExecutionResult

#: A quadrillion tokens: far past any real attempt, far inside SQLite's 64-bit integers (and a
#: sum of ten thousand such attempts still fits).
MAX_TOKENS = 10**15
#: A billion dollars for one attempt.
MAX_USD = 1e9
MAX_MODEL_CHARS = 200
MAX_ERROR_CHARS = 2000
#: What an attempt answered (an agent's final message): 256 KiB is kept, the log has it whole.
MAX_OUTPUT_CHARS = 256 * 1024
OUTPUT_CUT = "\n[output cut at 256 KiB; the step's log has all of it]"
#: How much of a bad value the warning quotes.
PREVIEW_CHARS = 40

TOKEN_FIELDS = ("tokens_in", "tokens_out", "tokens_cached")


class Dropped(NamedTuple):
    """A value a tool reported that was not recorded as it was."""

    field: str
    value: str  # the beginning of what the tool reported
    reason: str  # why, and what was recorded instead


def unknown(field: str, value: Any, why: str) -> Dropped:
    return Dropped(field, preview(value), f"{why}; recorded as unknown")


def preview(value: Any) -> str:
    """The beginning of ``value`` as text, without building the whole text of a huge one."""
    if type(value) is int and value.bit_length() > 256:  # str() of a huge int is slow, or refused
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1:,} digits"
    text = value if isinstance(value, str) else reprlib.repr(value)
    return text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS else "")


def token_count(value: Any) -> int | str:
    """A token count from what a tool reported (a number, or its text): the count, or why it is
    not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return f"not a number ({type(value).__name__})"
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 40:
            return "not a number of at most 40 characters"
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                return "not a number"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "not a finite number"
        if value > MAX_TOKENS:
            return f"more than {MAX_TOKENS:,}"
        value = int(value)
    if value < 0:
        return "negative"
    if value > MAX_TOKENS:
        return f"more than {MAX_TOKENS:,}"
    return value


def dollars(value: Any) -> float | str:
    """An amount of dollars from what a tool reported, or why it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return f"not a number ({type(value).__name__})"
    if isinstance(value, str) and len(value) > 40:
        return "not a number of at most 40 characters"
    try:
        amount = float(value)
    except (ValueError, OverflowError):
        return "not a number"
    if not math.isfinite(amount):
        return "not a finite number"
    if amount < 0:
        return "negative"
    if amount > MAX_USD:
        return f"more than {MAX_USD:,.0f} dollars"
    return amount


def exit_code(value: Any) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"not an integer ({type(value).__name__})"
    if not EXIT_CODE_MIN <= value <= EXIT_CODE_MAX:
        return f"outside {EXIT_CODE_MIN}..{EXIT_CODE_MAX}, the codes a process can have"
    return value


def _storable(text: str) -> bool:
    """Whether SQLite can store ``text``: a lone surrogate (from undecodable bytes) has no UTF-8."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(text: str, limit: int) -> str:
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return text if _storable(text) else text.encode("utf-8", "replace").decode("utf-8")


def model_name(value: Any) -> str | None:
    """A model name: text, bounded; None when the value is not text."""
    if not isinstance(value, str):
        return None
    return _text(value, MAX_MODEL_CHARS)


def _fine(result: ExecutionResult) -> bool:
    """Every value in range: the common case, answered with a few comparisons."""
    code = result.exit_code
    if code is not None and (type(code) is not int or not EXIT_CODE_MIN <= code <= EXIT_CODE_MAX):
        return False
    for count in (result.tokens_in, result.tokens_out, result.tokens_cached):
        if count is not None and (type(count) is not int or not 0 <= count <= MAX_TOKENS):
            return False
    usd = result.usd
    if usd is not None and (type(usd) is not float or not 0.0 <= usd <= MAX_USD):  # NaN fails too
        return False
    model = result.model
    if model is not None and (type(model) is not str or len(model) > MAX_MODEL_CHARS or not _storable(model)):
        return False
    error = result.error
    if error is not None and (type(error) is not str or len(error) > MAX_ERROR_CHARS or not _storable(error)):
        return False
    output = result.output
    if output is not None and (type(output) is not str or len(output) > MAX_OUTPUT_CHARS or not _storable(output)):
        return False
    tail = result.output_tail
    return type(tail) is str and len(tail) <= TAIL_CHARS and _storable(tail)


def checked(result: ExecutionResult) -> tuple[ExecutionResult, tuple[Dropped, ...]]:
    """``result`` with every value a tool reported within its bound, and what was dropped.

    The same object comes back when everything is in range."""
    if _fine(result):
        return result, ()
    dropped: list[Dropped] = []
    changes: dict[str, Any] = {}

    def drop(field: str, value: Any, why: str) -> None:
        dropped.append(unknown(field, value, why))
        changes[field] = None

    if result.exit_code is not None:
        code = exit_code(result.exit_code)
        if isinstance(code, str):
            drop("exit_code", result.exit_code, code)
    for field in TOKEN_FIELDS:
        value = getattr(result, field)
        if value is not None:
            count = token_count(value)
            if isinstance(count, str):
                drop(field, value, count)
            elif count is not value:
                changes[field] = count
    if result.usd is not None:
        amount = dollars(result.usd)
        if isinstance(amount, str):
            drop("usd", result.usd, amount)
        else:
            changes["usd"] = amount
    if result.model is not None:
        name = model_name(result.model)
        if name is None:
            drop("model", result.model, f"not text ({type(result.model).__name__})")
        elif name != result.model:
            if len(result.model) > MAX_MODEL_CHARS:
                dropped.append(Dropped("model", preview(result.model),
                                       f"longer than {MAX_MODEL_CHARS} characters; recorded cut short"))
            changes["model"] = name
    if result.error is not None:
        changes["error"] = _text(result.error if isinstance(result.error, str) else repr(result.error),
                                 MAX_ERROR_CHARS)
    tail = result.output_tail if isinstance(result.output_tail, str) else ""
    changes["output_tail"] = _text(tail[-TAIL_CHARS:], TAIL_CHARS)
    if result.output is not None:
        output = result.output if isinstance(result.output, str) else repr(result.output)
        changes["output"] = (_text(output[: MAX_OUTPUT_CHARS - len(OUTPUT_CUT)], MAX_OUTPUT_CHARS) + OUTPUT_CUT
                             if len(output) > MAX_OUTPUT_CHARS else _text(output, MAX_OUTPUT_CHARS))
    return result.replace(**changes), tuple(dropped)
