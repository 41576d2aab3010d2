"""Errors and warnings of the bootstrap stages, as the report carries them."""

from __future__ import annotations

import os
from typing import Literal

from engine.errors import Problem
from schemas.bootstrap import Issue

Severity = Literal["error", "warning"]


def from_problem(problem: Problem, severity: Severity, stage: str, root: str | None = None) -> Issue:
    """An engine ``Problem`` as a report ``Issue``; a file below ``root`` is shown relative to it."""
    file = problem.file
    if file and root and os.path.isabs(file):
        relative = os.path.relpath(file, root)
        file = file if relative.startswith("..") else relative
    return Issue(severity=severity, stage=stage, message=problem.message, file=file, line=problem.line,
                 column=problem.column, field=problem.field or None)
