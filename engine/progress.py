"""Progress of a run: counts by state, percent, and an ETA.

The ETA is the remaining steps times an EWMA of finished steps' durations, divided by the
parallelism the run can actually use. It is None until a few steps have finished, because an
early guess is worse than none.
"""

from __future__ import annotations

from schemas.records import ProgressSnapshot

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
        return ProgressSnapshot(
            run_id=self.run_id,
            total=self.total,
            succeeded=self.counts["succeeded"],
            failed=self.counts["failed"],
            skipped=self.counts["skipped"],
            canceled=self.counts["canceled"],
            running=self.running,
            percent=100.0 * self.finished / self.total if self.total else 100.0,
            elapsed=max(0.0, now - self.started_at),
            eta_seconds=self.eta(),
        )
