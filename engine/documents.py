"""A YAML document checked against a Pydantic model, each problem located: the file, line and
column of the value, the field's dotted path, and a 'did you mean' for a mistyped key.

Workstreams, router configs, profiles and project manifests all go through
``validate_document``; it lives apart from the planner so that what the planner itself loads
(the router config, ``engine.toolconfig``) can use it without importing the planner back.
"""

from __future__ import annotations

import datetime
import difflib
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from engine.errors import Problem, ValidationFailed
from engine.yamlsafe import Loc, Located
from schemas.fields import MATRIX_VALUE, NAME, STEP_ID


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that owns the last key of ``loc`` (for 'did you mean' hints)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return None
            current = info.annotation
        while get_origin(current) is not None or get_args(current):
            args = [a for a in get_args(current) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            inner = [a for a in args if get_origin(a) in (list, dict) or get_args(a)]
            if models:
                current = models[0]
                break
            if inner:
                current = inner[-1]
                continue
            if args:
                current = args[-1]
            break
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _data_loc(data: Any, loc: tuple, *, absent_key: bool = False) -> Loc:
    """Drop the parts of a pydantic loc (union tags, validator names) that are not keys of the
    document. With ``absent_key`` the last part names a key the document lacks or should not have
    (a missing or an unknown key), and is kept so the message names it."""
    out: list[str | int] = []
    node = data
    for position, part in enumerate(loc):
        if isinstance(node, dict) and part not in node and isinstance(part, str):
            # pydantic spells a key that is not a string (null, 1) as text: find the real one
            part = next((key for key in node if not isinstance(key, str) and str(key) == part), part)
        if isinstance(node, dict) and part in node:
            out.append(part if isinstance(part, str) else str(part))  # as the location map spells keys
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, int) and 0 <= part < len(node):
            # a mapping a model reads as a list of its entries (`on:` of name → trigger): its n-th key
            key = list(node)[part]
            out.append(key if isinstance(key, str) else str(key))
            node = node[key]
        elif absent_key and position == len(loc) - 1 and isinstance(node, dict):
            out.append(str(part))
        elif not isinstance(node, dict | list):
            break
    return tuple(out)


# what a pydantic type error expected, in the words of the file format
_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


# what a pattern allows, in words
_PATTERNS = {
    STEP_ID: "an id may hold only letters, digits, '_', '.', '-' and {placeholders}, "
             "and starts with a letter, digit or '_'",
    NAME: "a name may hold only letters, digits, '_', '.' and '-', and starts with a letter, digit or '_'",
    MATRIX_VALUE: "a matrix value goes into step ids, so it may hold only letters, digits, '_', '.' and '-'",
}


def describe(value: Any) -> str:
    """A value as the person wrote it in YAML, for 'found …' in messages."""
    if value is None:
        return "null (an empty value)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return f"the string {text!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime.date):
        return f"the date {value.isoformat()}"
    return f"a {type(value).__name__}"


def _type_message(expected: list[str], value: Any) -> str:
    message = f"{' or '.join(dict.fromkeys(expected))} is expected, found {describe(value)}"
    if "a string" in expected and isinstance(value, bool | int | float | datetime.date):
        message += "; put it in quotes to mean the text"
    return message


def problems_from(exc: ValidationError, located: Located, model: type[BaseModel]) -> list[Problem]:
    entries: list[tuple[Loc, str | None]] = []
    types: dict[Loc, tuple[list[str], Any]] = {}  # a union reports one type error per member: say them as one
    for error in exc.errors(include_url=False):
        kind = error["type"]
        loc = _data_loc(located.data, tuple(error["loc"]), absent_key=kind in ("extra_forbidden", "missing"))
        if kind == "invalid_key" or error["loc"][-1:] == ("[key]",):
            entries.append((loc, f"a key must be a string, found {describe(error['input'])}; put it in quotes"))
            continue
        if kind in _EXPECTED:
            if loc not in types:
                types[loc] = ([], error["input"])
                entries.append((loc, None))
            types[loc][0].append(_EXPECTED[kind])
            continue
        if kind == "extra_forbidden":
            owner = _model_at(model, loc)
            known = sorted(owner.model_fields) if owner else []
            hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
            message = f"unknown key {loc[-1]!r}"
            message += f"; did you mean {hint[0]!r}?" if hint else (f"; allowed: {', '.join(known)}" if known else "")
        elif kind == "missing":
            message = "required field is missing"
        elif kind == "finite_number":
            message = f"a finite number is expected, found {describe(error['input'])}"
        elif kind == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") in _PATTERNS:
            message = f"{_PATTERNS[error['ctx']['pattern']]}; found {describe(error['input'])}"
        else:
            message = error["msg"].removeprefix("Value error, ")
        entries.append((loc, message))
    # A value that failed a check of its own (a pattern, a bound) was of the right type for one
    # member of a union: the other members' type errors would only contradict that message.
    checked = {loc for loc, message in entries if message is not None}
    return [located.problem(message if message is not None else _type_message(*types[loc]), loc)
            for loc, message in entries if message is not None or loc not in checked]


def validate_document(located: Located, model: type[BaseModel]) -> Any:
    if not isinstance(located.data, dict):
        raise ValidationFailed([located.problem(f"a mapping of keys is expected, found {describe(located.data)}")])
    try:
        return model.model_validate(located.data)
    except ValidationError as exc:
        raise ValidationFailed(problems_from(exc, located, model)) from None
