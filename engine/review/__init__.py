"""Review rounds: a reviewer's comments on a patch (``comments``) and the request for changes
that sends the patch's step into a revision round (``rounds``). The dashboard and the CLI call
these; the round itself runs in the engine (``engine.patches.steps.Round``)."""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_MAX_ROUNDS", "rounds_allowed"]

DEFAULT_MAX_ROUNDS = 3


def rounds_allowed(spec: dict[str, Any] | None) -> int:
    """The highest round a patch of the step with this spec may reach (``review.max_rounds``).
    Here, not in ``rounds``, so that listing patches loads nothing of the ledger."""
    review = (spec or {}).get("review") or {}
    return int(review.get("max_rounds", DEFAULT_MAX_ROUNDS))
