"""Steering a run from a screen (cancel, pause, resume, retry a step): the dashboard and the
run screen offer the same keys, so both call ``steer_run``."""

from __future__ import annotations

from tui.feed import StoreFeed


def steer_run(app: StoreFeed, kind: str, run_id: str, step_id: str | None, reason: str | None) -> str:
    """Carry out one steering request for a screen; the answer is a sentence for the user. The
    engine's steering (with its session and writer) loads with the first request."""
    from engine import steering
    from engine.errors import UetError

    store = app.open_store()
    user = app.user
    try:
        if kind == "cancel":
            return steering.cancel(store, run_id, user, reason)
        if kind == "pause":
            return steering.pause(store, run_id, user, reason)
        if kind == "resume":
            return steering.resume(store, run_id, user)
        if kind == "retry" and step_id is not None:
            return steering.retry(store, run_id, step_id, user)
    except (UetError, steering.EngineDidNotStart) as exc:
        return f"cannot {kind} run {run_id}: {exc}"
    finally:
        app.poke()
    return f"nothing to {kind}"
