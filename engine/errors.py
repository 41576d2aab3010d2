"""Errors the engine raises, with messages written for the person at the terminal.

    UetError                      root; exit code 3 unless a subclass says otherwise
    ├── InputError                bad input (exit 2): names file, line, column and field
    │   ├── ValidationFailed      a file that does not match its schema or DAG rules (many issues)
    │   ├── NotFound              a run, step or file that does not exist
    │   └── UsageError            command-line options that do not fit together
    ├── InvalidTransition         a state machine was asked for a move it does not allow
    ├── OwnershipError            another live engine owns the run
    └── StoreBusy                 the database stayed locked past the busy timeout
"""

from __future__ import annotations

from typing import Any

# No dataclasses here: every command imports this module, and ``dataclasses`` brings ``inspect``
# (with ``ast``, ``dis`` and ``tokenize``), which a read command would load for nothing else.


class UetError(Exception):
    exit_code = 3


class Problem:
    """One thing wrong with an input, located as precisely as the input allows. Frozen; its
    ``__dict__`` is its fields in order (``--json`` prints it)."""

    __match_args__ = ("message", "file", "line", "column", "field")

    message: str
    file: str | None
    line: int | None
    column: int | None
    field: str | None

    def __init__(self, message: str, file: str | None = None, line: int | None = None, column: int | None = None,
                 field: str | None = None) -> None:
        self.__dict__.update(message=message, file=file, line=line, column=column, field=field)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: a Problem is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: a Problem is frozen")

    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__ and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(tuple(self.__dict__.values()))

    def __repr__(self) -> str:
        return f"Problem({', '.join(f'{name}={value!r}' for name, value in self.__dict__.items())})"

    def render(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        subject = f" {self.field}:" if self.field else ""
        return f"{where}:{subject} {self.message}"


class InputError(UetError):
    exit_code = 2


class ValidationFailed(InputError):
    def __init__(self, problems: list[Problem] | None = None) -> None:
        self.problems = [] if problems is None else problems
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return "\n".join(p.render() for p in self.problems)

    def __repr__(self) -> str:
        return f"ValidationFailed(problems={self.problems!r})"

    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__ and self.problems == other.problems  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # equal by its problems, which change


class NotFound(InputError):
    pass


class UsageError(InputError):
    """A command line that does not say something uet can do."""


class InvalidTransition(UetError):
    def __init__(self, machine: str, source: str, target: str, subject: str = "") -> None:
        self.machine, self.source, self.target = machine, source, target
        what = f" {subject}" if subject else ""
        super().__init__(f"{machine}{what} cannot go from {source} to {target}")


class OwnershipError(UetError):
    exit_code = 1


class StoreBusy(UetError):
    pass
