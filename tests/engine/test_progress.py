"""Run progress: counts, percent, the ETA and the snapshot."""

from __future__ import annotations

import pytest

from engine.progress import Progress
from schemas.records import ProgressSnapshot


def test_a_fresh_run() -> None:
    p = Progress("r1", total=10, max_parallel=4, started_at=100.0)
    assert p.finished == 0
    assert p.eta() is None
    snap = p.snapshot(103.5)
    assert snap == ProgressSnapshot(
        run_id="r1",
        total=10,
        succeeded=0,
        failed=0,
        skipped=0,
        canceled=0,
        running=0,
        percent=0.0,
        elapsed=3.5,
        eta_seconds=None,
    )


def test_counts_and_percent() -> None:
    p = Progress("r", total=8, max_parallel=2, started_at=0.0)
    p.step_finished("succeeded", 1.0)
    p.step_finished("succeeded", 1.0)
    p.step_finished("failed", 2.0)
    p.step_finished("skipped", None)
    p.step_finished("canceled", None)
    p.running = 2
    assert p.finished == 5
    snap = p.snapshot(10.0)
    assert (snap.succeeded, snap.failed, snap.skipped, snap.canceled, snap.running) == (
        2,
        1,
        1,
        1,
        2,
    )
    assert snap.percent == pytest.approx(25.0)  # the share that succeeded: 2 of 8
    assert snap.elapsed == 10.0


def test_eta_is_none_before_three_samples() -> None:
    p = Progress("r", total=10, max_parallel=4, started_at=0.0)
    p.step_finished("succeeded", 10.0)
    p.step_finished("failed", 20.0)
    assert p.eta() is None
    # skipped / canceled steps and unknown durations are not samples
    p.step_finished("skipped", 5.0)
    p.step_finished("canceled", 5.0)
    p.step_finished("succeeded", None)
    assert p.samples == 2
    assert p.eta() is None
    assert p.snapshot(1.0).eta_seconds is None


def test_eta_is_remaining_times_ewma_over_lanes() -> None:
    p = Progress("r", total=10, max_parallel=4, started_at=0.0)
    for duration in (10.0, 20.0, 30.0):
        p.step_finished("succeeded", duration)
    ewma = 0.2 * 30.0 + 0.8 * (0.2 * 20.0 + 0.8 * 10.0)
    assert p.ewma == pytest.approx(ewma)
    assert p.eta() == pytest.approx(7 * ewma / 4)
    assert p.snapshot(0.0).eta_seconds == pytest.approx(7 * ewma / 4)


def test_eta_uses_no_more_lanes_than_steps_remain() -> None:
    p = Progress("r", total=5, max_parallel=8, started_at=0.0)
    for _ in range(3):
        p.step_finished("succeeded", 6.0)
    assert p.eta() == pytest.approx(2 * 6.0 / 2)  # 2 remaining, 2 lanes used


def test_eta_with_a_single_lane() -> None:
    p = Progress("r", total=6, max_parallel=1, started_at=0.0)
    for _ in range(3):
        p.step_finished("failed", 4.0)
    assert p.eta() == pytest.approx(3 * 4.0)


def test_done_run() -> None:
    p = Progress("r", total=2, max_parallel=2, started_at=0.0)
    p.step_finished("succeeded", 1.0)
    p.step_finished("skipped", None)
    assert p.eta() == 0.0
    assert p.snapshot(5.0).percent == 50.0  # finished, but one of the two was skipped


def test_empty_run_is_complete() -> None:
    p = Progress("r", total=0, max_parallel=2, started_at=0.0)
    snap = p.snapshot(1.0)
    assert (snap.percent, snap.eta_seconds) == (100.0, 0.0)


def test_step_reopened_takes_the_step_back_out_of_its_count() -> None:
    p = Progress("r", total=4, max_parallel=2, started_at=0.0)
    p.step_finished("failed", 1.0)
    p.step_finished("canceled", None)
    p.step_reopened("failed")
    assert p.counts["failed"] == 0 and p.finished == 1
    assert p.snapshot(0.0).percent == 0.0
    p.step_reopened("failed")  # never below zero
    assert p.counts["failed"] == 0
    p.step_reopened("canceled")
    assert p.finished == 0


def test_elapsed_is_never_negative() -> None:
    p = Progress("r", total=1, max_parallel=1, started_at=50.0)
    assert p.snapshot(40.0).elapsed == 0.0


def test_one_tally_from_the_row_the_step_counts_and_the_engine() -> None:
    """The three sources of a run's progress agree, and 100 % means every step succeeded."""
    from engine.progress import Tally
    from schemas.records import RunRecord
    from schemas.states import RunState

    run = RunRecord(id="r", workstream="w", root="/", state=RunState.CANCELED, created_at=0.0, total_steps=61,
                    done_steps=61, failed_steps=2, skipped_steps=3, canceled_steps=45)
    tally = Tally.of_run(run)
    assert (tally.succeeded, tally.failed, tally.skipped, tally.canceled, tally.remaining) == (11, 2, 3, 45, 0)
    assert tally.percent == pytest.approx(100 * 11 / 61)
    assert Tally.of_states({"succeeded": 11, "failed": 2, "skipped": 3, "canceled": 45}) == tally
    p = Progress("r", total=61, max_parallel=2, started_at=0.0)
    for state, n in tally.ends():
        for _ in range(n):
            p.step_finished(state, None)
    assert Tally.of_snapshot(p.snapshot(1.0)) == tally
    assert tally.ends() == [("succeeded", 11), ("failed", 2), ("skipped", 3), ("canceled", 45)]
    assert Tally.of_states({"succeeded": 3}).percent == 100.0
