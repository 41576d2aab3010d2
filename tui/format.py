"""Words and glyphs for states and events, shared by the CLI and the dashboard.

State is never shown by colour alone: each state has a glyph and a word, and the colour is
an extra that ``NO_COLOR`` and 16-colour terminals can drop.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

GLYPHS = {
    "pending": "·",
    "waiting": "⧖",
    "ready": "○",
    "running": "▶",
    "retrying": "↻",
    "paused": "‖",
    "succeeded": "✔",
    "failed": "✘",
    "skipped": "↷",
    "canceled": "⊘",
    "quarantined": "⚠",
    "timed_out": "⧗",
    "crashed": "☠",
    "closed": "●",
    "open": "○",
    "half_open": "◐",
    "lost": "☠",
}

COLOURS = {
    "pending": "bright_black",
    "waiting": "cyan",
    "ready": "cyan",
    "running": "blue",
    "retrying": "yellow",
    "paused": "yellow",
    "succeeded": "green",
    "failed": "red",
    "skipped": "bright_black",
    "canceled": "magenta",
    "quarantined": "red",
    "timed_out": "red",
    "crashed": "red",
    "closed": "green",
    "open": "red",
    "half_open": "yellow",
    "lost": "red",
}


def glyph(state: str) -> str:
    return GLYPHS.get(state, "?")


def label(state: str) -> str:
    return f"{glyph(state)} {state}"


def styled(state: str) -> str:
    """Rich markup: glyph and word, coloured."""
    return f"[{COLOURS.get(state, 'default')}]{label(state)}[/]"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    if days < 10:
        return f"{days}d{hours:02d}h"
    return f"{days}d"  # a run lost half a year ago reads 188d, not 4525h: short enough for an age cell


def clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def age(ts: float | None, now: float | None = None) -> str:
    if ts is None:
        return "-"
    return duration(max(0.0, (now or time.time()) - ts)) + " ago"


#: What a run's ``waiting_on`` starts with when a step's due time holds it, not a breaker
#: (a tool's name never holds a colon).
DUE_PREFIX = "step:"


def when(ts: float, now: float) -> str:
    """A time to come, for a person: the clock time (with the date when not within a day) and
    how long until then: ``14:02:10 (in 9m00s)``; ``(due)`` once it passed."""
    at = clock(ts) if abs(ts - now) < 86400 else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
    return f"{at} (in {duration(ts - now)})" if ts > now else f"{at} (due)"


def short(seconds: float | None) -> str:
    """A duration in five cells at most: ``0.4s``, ``42s``, ``9m05s``, ``42m``, ``5h07m``, ``12h``, ``3d``."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 36_000:
        return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
    if seconds < 86_400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86_400)}d"


def due_short(ts: float, now: float) -> str:
    """When a waiting step may start, in eight cells at most (a table's state cell, beside the
    waiting glyph): ``in 3h22m``, ``in 42s``; ``due`` once it passed. `when` says it whole."""
    return f"in {short(ts - now)}" if ts > now else "due"


class Waiting(NamedTuple):
    """What holds a run that executes nothing, as every face says it (see ``waiting``)."""

    state: str
    """``open`` for a breaker, ``waiting`` for a step's due time: the glyph's and colour's key."""
    words: str

    @property
    def line(self) -> str:
        """The words behind their glyph: ``○ waiting on breaker sim (probe in 12s)``."""
        return f"{glyph(self.state)} {self.words}"


def waiting(waiting_on: str, until: float | None, now: float) -> Waiting:
    """A run's ``waiting_on`` and ``waiting_until`` in words: held by an open breaker, ``waiting
    on breaker sim (probe in 12s)``; its only work left waiting for a step's due time (``step:``
    before the step's id), ``waiting until 02:00:00 (in 4h12m) for step nightly``."""
    if waiting_on.startswith(DUE_PREFIX):
        at = when(until, now) if until is not None else "?"
        return Waiting("waiting", f"waiting until {at} for step {waiting_on[len(DUE_PREFIX):]}")
    if until is None:
        return Waiting("open", f"waiting on breaker {waiting_on}")
    left = until - now
    return Waiting("open", f"waiting on breaker {waiting_on} ("
                   + (f"probe in {duration(left)})" if left > 0 else "probe due)"))


def engine_lost(seconds: float) -> str:
    """How a run whose engine died reads everywhere: ``engine lost 42s ago``."""
    return "engine lost " + (f"{int(seconds)}s" if seconds < 60 else duration(seconds)) + " ago"


def describe_trigger(kind: str, data: dict[str, Any]) -> str:
    """A trigger's event in words (``uet serve``, ``uet logs``, the dashboard)."""
    name = f"trigger {data.get('trigger')}" + (f" of {data['workstream']}" if data.get("workstream") else "")
    fire = f"fire {data['fire']}" if data.get("fire") is not None else "a fire"
    if kind == "trigger.fired":
        return f"{name}: {fire} ({data.get('reason')})"
    if kind == "trigger.started":
        return f"{name}: {fire} started its run"
    if kind == "trigger.queued":
        return f"{name}: {fire} waits for run {data.get('behind')} to end"
    if kind == "trigger.done":
        return f"{name}: {fire} {data.get('outcome')}" + (f" ({data['why']})" if data.get("why") else "")
    if kind == "trigger.missed":
        what = "caught up once" if data.get("caught_up") else "skipped"
        return f"{name}: {data.get('count')} fire(s) missed while no server ran, {what}"
    if kind in ("trigger.paused", "trigger.resumed"):
        return f"{name} {kind.split('.')[1]} by {data.get('by')}"
    if kind == "trigger.invalid":
        return (f"{data.get('workstream')} is not valid, its last valid triggers ({data.get('kept')}) go on: "
                f"{data.get('problem')}")
    if kind == "trigger.reloaded":
        return f"triggers reloaded: {data.get('triggers')} trigger(s), {data.get('invalid')} invalid file(s)"
    return f"{name}: {kind.split('.', 1)[1]}"


def step_state_words(data: dict[str, Any]) -> str:
    """What a ``step.state`` event says after the step's name, which is all it says that depends
    on the step: ``uet logs`` words each distinct event body once for a run of any size."""
    get = data.get
    to = get("to", "?")
    text = f" {get('from', '?')} → {to}"
    if to == "running":
        text += f" (attempt {get('attempt')}, tool {get('tool')}"
        if get("probe"):
            text += ", half-open probe"
        text += ")"
        skipped = get("skipped")
        if skipped:
            text += " routed around " + ", ".join(f"{t} ({why})" for t, why in skipped.items())
        if get("route"):  # why `auto` chose the tool
            text += f"; {data['route']}"
    elif to in ("succeeded", "failed", "retrying", "canceled") and "attempt" in data:
        text += f" after attempt {data['attempt']}"
        if get("duration") is not None:
            text += f" in {duration(data['duration'])}"
        if get("exit_code") not in (None, 0):
            text += f", exit {data['exit_code']}"
        if to == "retrying" and get("delay") is not None:
            text += f"; next try in {duration(data['delay'])}"
            if get("held_by"):
                text += (f", when breaker {data['held_by']} lets a probe through "
                         f"(backoff {duration(get('backoff'))})")
    if get("reason") and to not in ("ready",):
        text += f": {data['reason']}"
    return text


def describe(kind: str, step_id: str | None, data: dict[str, Any]) -> str:
    """One line, in words, for an event."""
    if kind == "step.state":
        return (f"step {step_id}" if step_id else "") + step_state_words(data)
    step = f"step {step_id}" if step_id else ""
    if kind == "step.waiting":
        why = [f"delay {data['delay']}"] if data.get("delay") else []
        why += [f"not before {data['not_before']}"] if data.get("not_before") else []
        return f"{step} waits until {clock(data.get('due_at') or 0)}" + (f" ({', '.join(why)})" if why else "")
    if kind == "run.state":
        text = f"run {data.get('from', '?')} → {data.get('to', '?')}"
        return text + (f": {data['reason']}" if data.get("reason") else "")
    if kind == "breaker.state":
        text = f"breaker {data.get('tool')} {data.get('from')} → {data.get('to')}: {data.get('reason', '')}"
        if data.get("to") == "open" and data.get("next_probe_at"):
            text += f" (probe at {clock(data['next_probe_at'])})"
        return text
    if kind == "step.output":
        return f"{step} output: {data.get('line', '')}"
    if kind == "memory.harvested":
        return f"{data.get('lessons')} lesson(s) kept for later runs (uet memory list)"
    if kind == "memory.forgotten":
        return f"{step + ': ' if step else ''}lesson {data.get('lesson')} forgotten by {data.get('by')}"
    if kind == "memory.failed":
        return f"the run's lessons were not kept: {data.get('error')}"
    if kind == "attempt.warning":
        return f"{step} attempt {data.get('attempt')} warning: {data.get('reason')}"
    if kind == "store.values_dropped":
        values = ", ".join(f"{v.get('table')}.{v.get('column')} {v.get('value')!r}" for v in data.get("values") or [])
        return f"{step} recorded with NULL for what the database cannot hold: {values}".lstrip()
    if kind == "store.unit_dropped":
        return f"{step} a change could not be recorded ({data.get('error')}); the rest goes on".lstrip()
    if kind == "attempt.crashed":
        return f"{step} attempt {data.get('attempt')} crashed: its engine was lost"
    if kind == "run.orphans_ended":
        attempts = ", ".join(data.get("attempts") or [])
        return (f"ended {data.get('count')} process(es) a lost engine left running"
                + (f" (attempts {attempts})" if attempts else ""))
    if kind == "run.recovered":
        return "run recovered by a new engine" + (f" (previous worker {str(data['previous_worker'])[:8]} lost)" if data.get("previous_worker") else "")
    if kind == "run.activity":
        if data.get("pausing"):
            return f"run pausing ({data['pausing']}): {data.get('running', 0)} running step(s) finish first"
        if str(data.get("waiting_on", "")).startswith(DUE_PREFIX):
            return (f"run waiting for step {data['waiting_on'][len(DUE_PREFIX):]}, nothing executing "
                    f"(due at {clock(data['waiting_until'])})")
        if data.get("waiting_on"):
            return (f"run waiting on breaker {data['waiting_on']}, nothing executing "
                    f"(probe at {clock(data['waiting_until'])})")
        return "run executing again"
    if kind == "run.created":
        return f"run created: {data.get('workstream')} with {data.get('steps')} steps"
    if kind == "command.created":
        return f"command {data.get('command')} from {data.get('by')}" + (f" for step {data['step']}" if data.get("step") else "")
    if kind == "review.round":
        again = " again (its engine was lost)" if data.get("again") else ""
        return (f"{step} revision round {data.get('round')} of patch {data.get('patch')}{again}: "
                f"{data.get('comments')} review comment(s) from {data.get('by')}")
    if kind == "patch.state":
        text = f"{step} patch {data.get('patch')} {data.get('from') or 'new'} → {data.get('to')} by {data.get('by')}"
        if data.get("files") is not None:
            text += f" ({data['files']} file(s), +{data.get('added', 0)}/-{data.get('removed', 0)})"
        return text + (f": {data['why']}" if data.get("why") else "")
    if kind in ("sandbox.off", "sandbox.refused", "repository.changed"):
        where = f"attempt {data['attempt']}" if data.get("attempt") is not None else f"gate {data.get('gate')}"
        what = {"sandbox.off": "without the sandbox", "sandbox.refused": "refused",
                "repository.changed": "REPOSITORY CHANGED"}[kind]
        return f"{step} {where} {what}: {data.get('reason')}"
    if kind == "gate.result":
        command = " ".join(data.get("command") or [])
        code = f", exit {data['exit_code']}" if data.get("exit_code") not in (None, 0) else ""
        took = f" in {duration(data['duration'])}" if data.get("duration") is not None else ""
        return (f"{step} gate {data.get('gate')} round {data.get('round')}: `{command}` "
                f"{data.get('outcome')}{code}{took}")
    if kind == "budget.raised":
        return "budget raised to " + ", ".join(f"{k}={v}" for k, v in (data.get("budget") or {}).items()) + \
            (f" by {data['by']}" if data.get("by") else "")
    if kind == "mcp.call":
        text = f"{data.get('who')} called {data.get('tool')}"
        if data.get("outcome") in ("refused", "failed"):
            text += f": {data['outcome']}" + (f" ({data['error']})" if data.get("error") else "")
        return text
    if kind == "budget.reached":
        return f"budget reached: {data.get('reason')}"
    if kind.startswith("trigger."):
        return describe_trigger(kind, data)
    if kind.startswith("worker."):
        return f"worker {str(data.get('worker', ''))[:8]} {data.get('from', '')} → {data.get('to', kind.split('.')[1])}"
    return f"{kind} {step} {data}"
