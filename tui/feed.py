"""What the app gives its screens about the store, in a module both import: the ``StoreChanged``
message the app fans out, ``StoreFeed``, the part of the app a screen may call, and
``LiveCosts``, what the attempts at work have used so far, read from the events the feed carries.

The app imports its screens (to push them) and the screens need these names, so they cannot
live in ``tui.app`` without an import circle.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from textual.message import Message

from engine.monitor import RunCost
from engine.states import RUN_TERMINAL

if TYPE_CHECKING:
    from engine.monitor import Delta
    from schemas.records import EventRecord
    from schemas.rows import EventRow
    from store import Store


class StoreChanged(Message):
    """New data from the store; ``delta`` holds only what changed."""

    def __init__(self, delta: Delta) -> None:
        super().__init__()
        self.delta = delta


class StoreFeed(Protocol):
    """The app as its screens see it: the store it reads in one place, who is at the keyboard,
    the clock (frozen in tests), and the two ways to ask for fresh data."""

    store: Store | None
    user: str
    clock: Callable[[], float]

    def open_store(self) -> Store:
        """The store, opened on first use (the runs are listed before it is)."""

    def watch_run(self, run_id: str | None) -> None:
        """Follow this run's steps; the next ``StoreChanged`` carries all of them."""

    def poke(self) -> None:
        """Read the store now rather than at the next change the feed sees."""


#: Live figures kept at most (a bound, not a limit anyone reaches: one per attempt at work).
MAX_LIVE = 10_000


def _count(value: object) -> int | None:
    return value if type(value) is int and value >= 0 else None


def _dollars(value: object) -> float | None:
    if type(value) not in (int, float) or not math.isfinite(value) or value < 0:  # type: ignore[arg-type]
        return None
    return float(value)  # type: ignore[arg-type]


def plus(recorded: RunCost | None, live: RunCost | None) -> RunCost | None:
    """A recorded cost with the live usage of attempts still at work added (either may be None)."""
    if live is None:
        return recorded
    if recorded is None:
        return live
    return RunCost(recorded.usd + live.usd, recorded.unpriced + live.unpriced, recorded.tokens + live.tokens)


class LiveCosts:
    """What the attempts at work have used so far, from the ``step.output`` events of the feed.

    While an agent works, each ``step.output`` event carries its usage so far (``tokens_in``,
    ``tokens_out``, ``usd``: totals for the attempt, not increments), so a running attempt's
    figure is the latest event's. The store records an attempt's cost only when it ends (the
    ``costs`` view lists finished attempts), in the same commit as the ``step.state`` event that
    moves its step out of ``running``; so a face shows recorded + live, and an attempt's live
    figure leaves when that event arrives. It is not dropped at once: it is kept as *ending*
    until the face has read the recorded costs again (``settle``), so the figure neither counts
    the attempt twice nor dips while that read is under way. A face whose costs come in the
    same delta as the events settles at once.
    """

    def __init__(self) -> None:
        #: (run, step) -> (attempt, usage so far)
        self.running: dict[tuple[str, str], tuple[int, RunCost]] = {}
        #: (run, step) -> (usage at its end, the generation that saw the end)
        self.ending: dict[tuple[str, str], tuple[RunCost, int]] = {}
        #: How many batches of events were noted: a read of the costs started after batch N
        #: includes every attempt whose end batch N or before carried.
        self.generation = 0

    def note(self, events: Iterable[EventRecord | EventRow]) -> set[tuple[str, str]]:
        """Take a batch of events; return the (run, step) pairs whose live figure moved."""
        self.generation += 1
        moved: set[tuple[str, str]] = set()
        for event in events:
            run_id, step_id, data = event.run_id, event.step_id, event.data
            if run_id is None or not isinstance(data, dict):
                continue
            if event.kind == "step.output" and step_id is not None:
                usage = self._usage(data)
                number = _count(data.get("attempt"))
                if usage is not None and number is not None:
                    self._set((run_id, step_id), number, usage)
                    moved.add((run_id, step_id))
            elif event.kind in ("step.state", "attempt.crashed") and step_id is not None:
                key = (run_id, step_id)
                found = self.running.get(key)
                if found is not None and not (data.get("to") == "running" and data.get("attempt") == found[0]):
                    self._end(key)
                    moved.add(key)
            elif event.kind == "run.state" and isinstance(to := data.get("to"), str) and to in RUN_TERMINAL:
                for key in [key for key in self.running if key[0] == run_id]:
                    self._end(key)
                    moved.add(key)
        return moved

    def settle(self, upto: int | None = None) -> set[tuple[str, str]]:
        """The recorded costs were read after batch ``upto`` (default: the latest): the attempts
        that had ended by then are in them, and their live figures go."""
        upto = self.generation if upto is None else upto
        gone = {key for key, (_usage, at) in self.ending.items() if at <= upto}
        for key in gone:
            del self.ending[key]
        return gone

    def of_step(self, run_id: str, step_id: str, running: bool = True) -> RunCost | None:
        """The step's live figure; ``running=False`` leaves out an attempt still at work (its
        run has ended: what is left is the word of an attempt whose end was never heard of)."""
        key = (run_id, step_id)
        at_work = self.running.get(key) if running else None
        ending = self.ending.get(key)
        return plus(at_work[1] if at_work else None, ending[0] if ending else None)

    def of_run(self, run_id: str, running: bool = True) -> RunCost | None:
        """The run's live figure (``running`` as for ``of_step``)."""
        total: RunCost | None = None
        for (run, _step), (_number, usage) in self.running.items():
            if run == run_id and running:
                total = plus(total, usage)
        for (run, _step), (usage, _at) in self.ending.items():
            if run == run_id:
                total = plus(total, usage)
        return total

    def of_one_run(self, run_id: str) -> LiveCosts:
        """A copy holding only this run's figures (for a screen that follows one run)."""
        copy = LiveCosts()
        copy.running = {key: value for key, value in self.running.items() if key[0] == run_id}
        copy.ending = {key: (usage, 0) for key, (usage, _at) in self.ending.items() if key[0] == run_id}
        return copy

    @staticmethod
    def _usage(data: dict[str, Any]) -> RunCost | None:
        tokens_in, tokens_out, usd = _count(data.get("tokens_in")), _count(data.get("tokens_out")), \
            _dollars(data.get("usd"))
        if tokens_in is None and tokens_out is None and usd is None:
            return None
        return RunCost(usd or 0.0, 1 if usd is None else 0, (tokens_in or 0) + (tokens_out or 0))

    def _set(self, key: tuple[str, str], number: int, usage: RunCost) -> None:
        found = self.running.get(key)
        if found is not None and found[0] > number:
            return  # a late word from an attempt a newer one replaced
        if found is None and len(self.running) >= MAX_LIVE:
            del self.running[next(iter(self.running))]
        self.running[key] = (number, usage)

    def _end(self, key: tuple[str, str]) -> None:
        _number, usage = self.running.pop(key)
        ending = self.ending.get(key)
        self.ending[key] = (plus(ending[0] if ending else None, usage) or usage, self.generation)
        if len(self.ending) > MAX_LIVE:
            del self.ending[next(iter(self.ending))]
