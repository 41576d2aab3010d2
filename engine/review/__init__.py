"""Review rounds: a reviewer's comments on a patch (``comments``) and the request for changes
that sends the patch's step into a revision round (``rounds``). The dashboard and the CLI call
these; the round itself runs in the engine (``engine.patches.steps.Round``)."""

from __future__ import annotations

__all__: list[str] = []
