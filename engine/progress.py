"""Progress of a run: counts by state, percent, and an ETA.

``Tally`` is the one definition every face shows (the dashboard's bar, counts, DAG footer and
run header, ``uet runs``, ``uet status``, ``uet run``'s live panel): how many steps succeeded,
failed, were skipped or canceled, how many are running, how many remain. Its percent is the
share that succeeded, so a run canceled at 11 of 61 never reads 100 %; the other ends are
shown beside it, never hidden in a "done" count. It is built from a run's stored counts
(``Tally.of_run``, no query), from a count of its steps (``of_states``) or from an engine's
live ``Progress``.

The ETA is the remaining steps times an EWMA of finished steps' durations, divided by the
parallelism the run can actually use. It is None until a few steps have finished, because an
early guess is worse than none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # a read command tallies plain rows and loads no Pydantic
    from schemas.records import ProgressSnapshot, RunRecord
    from store.reads import RunRow

#: The ends a step can reach, in the order the faces show them.
ENDS = ("succeeded", "failed", "skipped", "canceled")


class Tally(NamedTuple):
    total: int
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    canceled: int = 0
    running: int = 0

    @classmethod
    def of_run(cls, run: RunRecord | RunRow) -> Tally:
        """From the run's row: the counts its engine (or the last change made without one) stored."""
        succeeded = run.done_steps - run.failed_steps - run.skipped_steps - run.canceled_steps
        return cls(run.total_steps, max(0, succeeded), run.failed_steps, run.skipped_steps, run.canceled_steps,
                   run.running_steps)

    @classmethod
    def of_states(cls, counts: dict[str, int], total: int | None = None) -> Tally:
        """From a count of steps by state (``queries.step_state_counts``)."""
        return cls(sum(counts.values()) if total is None else total,
                   *(counts.get(state, 0) for state in (*ENDS, "running")))

    @classmethod
    def of_snapshot(cls, snap: ProgressSnapshot) -> Tally:
        return cls(snap.total, snap.succeeded, snap.failed, snap.skipped, snap.canceled, snap.running)

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed + self.skipped + self.canceled

    @property
    def remaining(self) -> int:
        """Steps not finished yet, the running ones included."""
        return max(0, self.total - self.finished)

    @property
    def percent(self) -> float:
        """The share of steps that succeeded: 100 only when every step did."""
        return 100.0 * self.succeeded / self.total if self.total else 100.0

    def ends(self) -> list[tuple[str, int]]:
        """The ends reached, each with its count, succeeded first; ends no step reached are left out."""
        return [(state, n) for state, n in zip(ENDS, (self.succeeded, self.failed, self.skipped, self.canceled),
                                               strict=True) if n]

    def as_dict(self) -> dict[str, int | float]:
        """The JSON every ``--json`` shows."""
        return {"total": self.total, "succeeded": self.succeeded, "failed": self.failed, "skipped": self.skipped,
                "canceled": self.canceled, "running": self.running, "remaining": self.remaining,
                "finished": self.finished, "percent": round(self.percent, 1)}

ALPHA = 0.2
MIN_SAMPLES = 3


class Progress:
    def __init__(self, run_id: str, total: int, max_parallel: int, started_at: float) -> None:
        self.run_id = run_id
        self.total = total
        self.max_parallel = max_parallel
        self.started_at = started_at
        self.counts = {"succeeded": 0, "failed": 0, "skipped": 0, "canceled": 0}
        self.running = 0
        self.ewma: float | None = None
        self.samples = 0

    @property
    def finished(self) -> int:
        return sum(self.counts.values())

    def step_finished(self, state: str, duration: float | None) -> None:
        self.counts[state] = self.counts.get(state, 0) + 1
        if duration is not None and state in ("succeeded", "failed"):
            self.samples += 1
            self.ewma = duration if self.ewma is None else ALPHA * duration + (1 - ALPHA) * self.ewma

    def step_reopened(self, state: str) -> None:
        self.counts[state] = max(0, self.counts.get(state, 0) - 1)

    def eta(self) -> float | None:
        remaining = self.total - self.finished
        if remaining <= 0:
            return 0.0
        if self.ewma is None or self.samples < MIN_SAMPLES:
            return None
        lanes = max(1, min(self.max_parallel, remaining))
        return remaining * self.ewma / lanes

    def snapshot(self, now: float) -> ProgressSnapshot:
        from schemas.records import ProgressSnapshot

        return ProgressSnapshot(
            run_id=self.run_id,
            total=self.total,
            succeeded=self.counts["succeeded"],
            failed=self.counts["failed"],
            skipped=self.counts["skipped"],
            canceled=self.counts["canceled"],
            running=self.running,
            percent=100.0 * self.counts["succeeded"] / self.total if self.total else 100.0,
            elapsed=max(0.0, now - self.started_at),
            eta_seconds=self.eta(),
        )
