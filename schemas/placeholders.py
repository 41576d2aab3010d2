"""The placeholders every step has, ``{root}``, ``{run}``, ``{step}`` and ``{attempt}``: the
workstream's schema keeps a matrix key from hiding one, and the prompts and the planner fill
them in. A module without Pydantic, so that what reads prompts (the lessons kept in memory,
``uet memory``) does not build the workstream's models to know four names."""

from __future__ import annotations

BUILT_IN_PLACEHOLDERS = ("root", "run", "step", "attempt")
