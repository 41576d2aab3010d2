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

from dataclasses import dataclass, field


class UetError(Exception):
    exit_code = 3


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as the input allows."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None

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


@dataclass
class ValidationFailed(InputError):
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return "\n".join(p.render() for p in self.problems)


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
