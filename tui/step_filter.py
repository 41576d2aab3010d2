"""The run screen's view of its steps: which ones show (a filter typed after ``/``), in what
order (``s``), and how long each spent running versus waiting to run.

A filter is words, every one of which a step must match: a state name (``failed``) or
``state:failed`` keeps the steps in that state, ``id:lint*`` the steps whose id matches the
pattern (``*`` and ``?`` as in a shell), any other word the steps whose id contains it. It works
on the rows in memory: 10,000 steps filter and sort in milliseconds, and the table draws only
the lines on screen.

Times come from a step's attempts (``spans``: each attempt's start and end):

- RAN: the time spent in attempts, all of them added up (a retried step ran more than once);
- QUEUED: the time it was ready but not running: from ready (its last need ended, or the run
  started) to its first attempt, plus the waits between attempts (retry backoff, a breaker).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from schemas.states import StepState

if TYPE_CHECKING:
    from schemas.records import StepRow

Span = tuple[float, float | None]

STATES = frozenset(state.value for state in StepState)
#: ``s`` cycles through these; the words the table's title says.
SORTS = ("plan order", "longest first", "state")
#: The ``state`` order: what needs a look first.
STATE_RANK = {state: rank for rank, state in enumerate(
    ("failed", "retrying", "running", "waiting", "ready", "pending", "canceled", "skipped", "succeeded"))}


#: Steps whose QUEUED time grows with the clock (they are ready, or wait for their next attempt).
WAITING = frozenset({"ready", "waiting", "retrying"})


class FilterError(ValueError):
    """A filter word that cannot match anything (an unknown state)."""


@dataclass(frozen=True, slots=True)
class StepFilter:
    text: str
    states: frozenset[str] = frozenset()
    patterns: tuple[str, ...] = ()
    words: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.states or self.patterns or self.words)

    def keeps(self, row: StepRow) -> bool:
        if self.states and row.state not in self.states:
            return False
        step_id = row.id.lower()
        return all(fnmatch.fnmatchcase(step_id, p) for p in self.patterns) and all(w in step_id for w in self.words)


def parse(text: str) -> StepFilter:
    """``failed``, ``state:failed,retrying``, ``id:lint*``, ``test``, or several of them."""
    states: set[str] = set()
    patterns: list[str] = []
    words: list[str] = []
    for word in text.lower().split():
        if word.startswith("state:"):
            named = {s for s in word[len("state:"):].split(",") if s}
            unknown = sorted(named - STATES)
            if unknown:
                raise FilterError(f"no step state {unknown[0]!r}: one of {', '.join(sorted(STATES))}")
            states |= named
        elif word.startswith("id:"):
            pattern = word[len("id:"):]
            if pattern:
                patterns.append(pattern if any(c in pattern for c in "*?[") else f"*{pattern}*")
        elif word in STATES:
            states.add(word)
        else:
            words.append(word)
    return StepFilter(text.strip(), frozenset(states), tuple(patterns), tuple(words))


def ran(spans: Sequence[Span] | None, now: float) -> float | None:
    """Seconds spent in attempts (a running one counts up to ``now``); None before the first."""
    if not spans:
        return None
    return sum(max(0.0, (end if end is not None else now) - start) for start, end in spans)


def queued(ready: float | None, spans: Sequence[Span] | None, now: float, waiting: bool = False) -> float | None:
    """Seconds between ready and running: ready to the first attempt (``now`` if none yet), and
    each gap between one attempt's end and the next one's start (a retry's wait; with
    ``waiting``, the step waits for its next attempt now). None when the step was never ready."""
    if ready is None:
        return None
    if not spans:
        return max(0.0, now - ready)
    total = max(0.0, spans[0][0] - ready)
    for (_start, end), (after, _) in zip(spans, spans[1:], strict=False):
        if end is not None:
            total += max(0.0, after - end)
    last_end = spans[-1][1]
    if waiting and last_end is not None:
        total += max(0.0, now - last_end)
    return total


def ready_at(row: StepRow, steps: Mapping[str, StepRow], started: float | None) -> float | None:
    """When ``row`` could start: the end of its last need, or the run's start when it needs
    nothing; None while a need has not ended."""
    if not row.needs:
        return started
    ends = [steps[need].ended_at if need in steps else None for need in row.needs]
    if any(end is None for end in ends):
        return None
    return max(end for end in ends if end is not None)


def ready_for(row: StepRow, steps: Mapping[str, StepRow], started: float | None,
              spans: Sequence[Span] | None) -> float | None:
    """``ready_at`` where QUEUED needs it: for a step that ran, or one that waits to run now."""
    return ready_at(row, steps, started) if spans or row.state in WAITING else None


def by_step(attempts: Iterable[tuple[str, float, float | None]]) -> dict[str, list[Span]]:
    """``(step_id, started_at, ended_at)`` of attempts, in the order they started, grouped into
    each step's spans."""
    spans: dict[str, list[Span]] = {}
    for step_id, started, ended in attempts:
        spans.setdefault(step_id, []).append((started, ended))
    return spans


def shown(rows: Iterable[StepRow], keep: StepFilter, sort: str, spans: Mapping[str, Sequence[Span]],
          now: float) -> list[StepRow]:
    """The rows the table shows, in the order it shows them (plan order when ``sort`` says so)."""
    kept = [row for row in rows if keep.keeps(row)] if keep else list(rows)
    if sort == "longest first":
        kept.sort(key=lambda row: -(ran(spans.get(row.id), now) or -1.0))
    elif sort == "state":
        kept.sort(key=lambda row: STATE_RANK.get(row.state, len(STATE_RANK)))
    return kept
