"""The verdict on an attempt's end, alone: a kept recorder, a step table whose moves are noted,
and a ``later`` that notes the timers asked for instead of waiting for them."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from engine.adapters.base import CancelToken
from engine.patches.steps import PatchInfo, PatchSteps
from engine.pipeline import perceive
from engine.run.attempts import Attempts
from engine.run.budget import Spend
from engine.run.dispatch import Dispatcher
from engine.run.table import Running, Stops
from engine.stats import StatsBook
from schemas.execution import ExecutionResult
from schemas.states import StepState
from tests.engine.run.parts import RUN, KeptRecorder, Table, python_router

S = StepState
RETRY = {"max_attempts": 2, "backoff": 5.0, "jitter": "none"}
FIX = {"max_rounds": 2}


class Rig:
    def __init__(self, root: Path, spec: dict[str, Any], *, stop_on_failure: bool = False) -> None:
        self.router = python_router({"a": None})
        self.spec = {"kind": "task", "tool": "a", **spec}
        self.t = Table({"s": (S.RUNNING, [], self.spec), "child": (S.PENDING, ["s"], {"kind": "task", "tool": "a"})},
                       self.router)
        self.table = self.t.table
        self.rec = KeptRecorder()
        self.timers: list[tuple[float, Any]] = []
        self.kicks = 0
        self.dispatcher = Dispatcher(self.table, self.router, self.rec, 4, lambda delay: None)  # type: ignore[arg-type]
        self.stops = Stops()
        self.spend = Spend(None, 0, 0.0, 0.0, self.t.clock)
        self.attempts = Attempts(
            self.table, self.dispatcher, self.spend, self.stops, store=None, rec=self.rec,  # type: ignore[arg-type]
            stats=StatsBook(), root=str(root), run_spec={}, default_timeout=None, default_retry=None,
            rng=random.Random(1), stop_on_failure=stop_on_failure,
            later=lambda delay, callback: self.timers.append((delay, callback)), kick=self._kick,
            ended=lambda handle, outcome: None)
        self.attempts.patch_steps = PatchSteps(self.rec, root, RUN, None, {}, None)  # type: ignore[arg-type]
        self.root = root

    def _kick(self) -> None:
        self.kicks += 1

    def end(self, outcome: Any) -> None:
        """The running attempt of step ``s`` ends with ``outcome``."""
        number = self.table.rows["s"].attempts
        route, _change = self.router.route("tool:a", self.spec, self.t.clock.now)
        request = perceive(run_id=RUN, step_id="s", number=number, spec=self.spec, route=route,  # type: ignore[arg-type]
                           root=str(self.root), default_timeout=None)
        handle = Running("s", number, route, request, CancelToken(), None, 0.0, self.t.clock.now)  # type: ignore[arg-type]
        self.dispatcher.running["s"] = handle
        self.router.started("a")
        assert self.table.progress is not None
        self.table.progress.running += 1
        self.attempts.complete(handle, outcome)

    def again(self) -> None:
        """The step starts its next attempt (what a dispatch would do)."""
        self.dispatcher.queues.clear()
        self.table.rows["s"].attempts += 1
        self.table.move("s", S.RUNNING)


FAILED = ExecutionResult(outcome="failed", exit_code=1, error="boom")


def test_a_failure_with_retries_left_waits_its_backoff_then_queues_again(tmp_path: Path) -> None:
    rig = Rig(tmp_path, {"retry": RETRY})

    rig.end(FAILED)

    assert rig.table.state["s"] is S.RETRYING
    assert "s" in rig.dispatcher.delayed and not rig.dispatcher.queues
    [(delay, due)] = rig.timers
    assert delay == 5.0
    due()
    assert list(rig.dispatcher.queues["tool:a"]) == ["s"] and not rig.dispatcher.delayed
    assert rig.kicks == 1
    assert not rig.dispatcher.running and rig.router.running["a"] == 0


def test_a_failure_with_no_retry_left_fails_the_step_and_skips_what_needs_it(tmp_path: Path) -> None:
    rig = Rig(tmp_path, {"retry": RETRY}, stop_on_failure=True)
    rig.end(FAILED)
    rig.timers[0][1]()
    rig.again()

    rig.end(FAILED)

    assert rig.table.state["s"] is S.FAILED
    assert rig.t.reasons("s")[-1] == ("failed", "boom (2 of 2 attempts used)")
    assert rig.table.state["child"] is S.SKIPPED
    assert rig.stops.halted == "step s failed and on_failure is stop"
    assert len(rig.timers) == 1


def test_a_success_makes_the_steps_that_need_it_ready(tmp_path: Path) -> None:
    rig = Rig(tmp_path, {})

    rig.end(ExecutionResult(outcome="succeeded", exit_code=0, tokens_in=10, tokens_out=5))

    assert rig.table.state["s"] is S.SUCCEEDED
    assert rig.table.state["child"] is S.READY
    assert list(rig.dispatcher.queues["tool:a"]) == ["child"]
    assert rig.spend.tokens_used == 15


@pytest.mark.parametrize("rounds_done", [0, 1, 2], ids=["first-round", "last-round", "rounds-spent"])
def test_a_failed_gate_starts_a_fix_round_at_once_until_the_rounds_are_spent(tmp_path: Path,
                                                                           rounds_done: int) -> None:
    rig = Rig(tmp_path, {"retry": RETRY, "fix_loop": FIX})
    patch = PatchInfo("p1", "diff", "tests", False, "3 failed\nmore")
    for _ in range(rounds_done):
        rig.attempts.patches().next_round("s", patch)

    rig.end((ExecutionResult(outcome="succeeded", exit_code=0), patch))

    assert rig.table.state["s"] is S.RETRYING
    if rounds_done < FIX["max_rounds"]:
        assert rig.t.reasons("s")[-1] == ("retrying", f"gate tests failed; fix round {rounds_done + 1} of 2")
        assert rig.table.rows["s"].base == 1  # a fix round does not use up a retry
        assert list(rig.dispatcher.queues["tool:a"]) == ["s"] and not rig.timers  # no backoff
    else:
        # The gate's failure is the attempt's: with a retry left, the step waits for it.
        assert rig.t.reasons("s")[-1] == ("retrying", "gate tests failed for patch p1: 3 failed")
        assert rig.table.rows["s"].base == 0 and len(rig.timers) == 1
