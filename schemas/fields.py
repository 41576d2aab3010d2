"""The patterns and field types the workstream, the router configuration and the profiles
share. They are kept apart from ``schemas.workstream`` so that reading a router configuration
(``uet tools``) does not build the workstream's models."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, StrictInt

from schemas.execution import EXIT_CODE_MAX, EXIT_CODE_MIN

STEP_ID = r"^[A-Za-z0-9_][A-Za-z0-9_.{}-]*$"
NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: A matrix value goes into the step ids it expands to, so it may hold only what an id may.
MATRIX_VALUE = r"^[A-Za-z0-9_.-]+$"


def _shown(value: int) -> str:
    """An integer for a message: a YAML integer may have thousands of digits."""
    return str(value) if value.bit_length() < 128 else f"an integer of about {len(str(abs(value)))} digits"


def _exit_status(value: int) -> int:
    if not 0 <= value <= EXIT_CODE_MAX:
        raise ValueError(f"an exit code is 0 to 255, found {_shown(value)}")
    return value


def _exit_code(value: int) -> int:
    if not EXIT_CODE_MIN <= value <= EXIT_CODE_MAX:
        raise ValueError(f"{_shown(value)} is no exit code a process can have: they lie between {EXIT_CODE_MIN} "
                         f"(killed by signal {-EXIT_CODE_MIN}) and {EXIT_CODE_MAX}")
    return value


#: What a process can pass to exit(); a signal's death is no exit code.
ExitStatus = Annotated[StrictInt, AfterValidator(_exit_status),
                       Field(json_schema_extra={"minimum": 0, "maximum": EXIT_CODE_MAX})]
#: An exit code an attempt can end with, as the adapters report it (negative: killed by that signal).
ExitCode = Annotated[StrictInt, AfterValidator(_exit_code),
                     Field(json_schema_extra={"minimum": EXIT_CODE_MIN, "maximum": EXIT_CODE_MAX})]

Argv = Annotated[list[Annotated[str, Field(max_length=10_000)]], Field(min_length=1, max_length=1000)]
