"""Which runs the dashboard's runs table shows: a state filter (``s`` cycles it), a typed filter
(``/``: words, ``state:``, ``ws:``, ``since:``) and the age rule that hides finished runs older
than a week until ``a`` shows them. Pure functions over ``Run``: no Textual, no store.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from engine.states import RUN_TERMINAL

if TYPE_CHECKING:
    from engine.liveness import Run

#: Finished runs older than this are hidden until ``a`` shows every run.
OLD_DAYS = 7
OLD_SECONDS = OLD_DAYS * 86_400

#: What ``s`` cycles through; None shows every state. "active" is every run not finished.
STATES: tuple[str | None, ...] = (None, "active", "running", "failed", "succeeded", "paused", "canceled")

_AGO = re.compile(r"^(\d{1,5})([mhdw])$")
_UNIT = {"m": 60, "h": 3_600, "d": 86_400, "w": 7 * 86_400}


def started_cell(ts: float, now: float) -> str:
    """``14:02`` for a run started today (local time), ``Dec 01`` for an older one."""
    when, today = time.localtime(ts), time.localtime(now)
    if (when.tm_year, when.tm_yday) == (today.tm_year, today.tm_yday):
        return time.strftime("%H:%M", when)
    return time.strftime("%b %d", when)


def started_at(run: Run) -> float:
    return run.started_at or run.created_at


def finished_at(run: Run) -> float | None:
    """When a run ended; None while it may still move (a paused run is not finished)."""
    if run.state not in RUN_TERMINAL:
        return None
    return run.ended_at or run.started_at or run.created_at


@dataclass(frozen=True, slots=True)
class RunFilter:
    state: str | None = None
    words: tuple[str, ...] = ()
    workstream: str | None = None
    since: float | None = None
    text: str = ""
    show_old: bool = False

    @classmethod
    def parse(cls, text: str, now: float, base: RunFilter | None = None) -> RunFilter:
        """``text`` as typed after ``/``; raises ValueError naming the word it cannot read.
        ``state:`` and ``ws:`` match the start of the value; ``since:`` takes an age (``2h``,
        ``3d``, ``1w``) or a date (``2026-12-01``)."""
        base = base or cls()
        state, workstream, since, words = base.state, None, None, []
        for word in text.split():
            key, sep, value = word.partition(":")
            key = key.lower()
            if not sep or key not in ("state", "ws", "since"):
                words.append(word.lower())
            elif not value:
                raise ValueError(f"{word}: give a value after '{key}:'")
            elif key == "state":
                state = _state(value)
            elif key == "ws":
                workstream = value.lower()
            else:
                since = _since(value, now)
        return replace(base, state=state, words=tuple(words), workstream=workstream, since=since,
                       text=text.strip())

    def cycled(self) -> RunFilter:
        """The next state filter of ``STATES``."""
        at = STATES.index(self.state) if self.state in STATES else 0
        return replace(self, state=STATES[(at + 1) % len(STATES)])

    def keeps(self, run: Run, now: float, lost: bool = False) -> bool:
        """Whether the filters (not the age rule) keep ``run``."""
        state = run.state.value
        if self.state == "active" and run.state in RUN_TERMINAL:
            return False
        if self.state not in (None, "active") and state != self.state:
            return False
        if self.workstream is not None and not run.workstream.lower().startswith(self.workstream):
            return False
        if self.since is not None and started_at(run) < self.since:
            return False
        texts = (run.id, run.workstream.lower(), state, "engine lost" if lost else "")
        return all(any(word in text for text in texts) for word in self.words)

    def too_old(self, run: Run, now: float) -> bool:
        """Hidden by the age rule: finished more than OLD_DAYS ago, and ``a`` not pressed."""
        ended = finished_at(run)
        return not self.show_old and ended is not None and now - ended > OLD_SECONDS

    @property
    def active(self) -> bool:
        return self.state is not None or bool(self.text)

    def words_shown(self) -> str:
        """The filters in force, for the pane title: ``state: failed · /ws:nightly``."""
        parts = []
        if self.state is not None:
            parts.append(f"state: {self.state}")
        if self.text:
            parts.append(f"/{self.text}")
        return " · ".join(parts)


def _state(value: str) -> str:
    value = value.lower()
    names = [name for name in STATES[1:] if name is not None and name.startswith(value)]
    names += [name for name in ("pending", "quarantined") if name.startswith(value)]
    if not names:
        raise ValueError(f"state:{value}: not a run state (one of {', '.join(s for s in STATES[1:] if s)})")
    return names[0]


def _since(value: str, now: float) -> float:
    found = _AGO.match(value.lower())
    if found:
        return now - int(found.group(1)) * _UNIT[found.group(2)]
    try:
        day = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise ValueError(f"since:{value}: give an age (30m, 2h, 3d, 1w) or a date (2026-12-01)") from None
    return time.mktime(day.timetuple())
