"""Recovery: what a previous engine of the run left behind, settled before anything starts.

Its processes are ended first (found by their attempt's marker); attempts in flight become
``crashed`` and their steps run again without spending retries, up to ``MAX_ENGINE_LOSSES`` in
a row; steps that succeeded never run again, except the patch step a reviewer sent back (a revision
round). An operator's resume reopens what failed.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable

from engine.events import Event, Recorder
from engine.pipeline import enforce, log_path, retry_policy
from engine.reaper import end_run
from engine.run.table import StepTable
from schemas.execution import ExecutionResult
from schemas.records import AttemptRecord
from schemas.states import StepState
from schemas.workstream import RetryPolicy
from store import ops, queries

#: Why an attempt whose engine was lost is recorded as crashed (losses are counted by it).
ENGINE_LOST = "the engine running this attempt was lost"
#: How many engine losses in a row a step survives before it fails.
MAX_ENGINE_LOSSES = 3

S = StepState
_REOPENABLE = (S.FAILED, S.SKIPPED, S.CANCELED)


def losses_in_a_row(attempts: list[AttemptRecord]) -> int:
    """How many of a step's finished attempts, newest first, crashed because their engine was
    lost, up to the first that ended another way (a real failure or success resets it)."""
    count = 0
    for attempt in sorted(attempts, key=lambda a: a.number, reverse=True):
        if attempt.state == "running":
            continue
        if attempt.state != "crashed" or attempt.error != ENGINE_LOST:
            break
        count += 1
    return count


class Recovery:
    """Settles the loaded step table with what the store says was left running."""

    def __init__(self, table: StepTable, rec: Recorder, root: str, default_retry: RetryPolicy | None,
                 rng: random.Random) -> None:
        self.table = table
        self.rec = rec
        self.root = root
        self.default_retry = default_retry
        self.rng = rng

    def _event(self, kind: str, step_id: str | None = None, **data: object) -> Event:
        return Event(self.table.clock(), kind, self.table.run_id, step_id, data)

    def recover(self, fresh: bool, previous: str | None, operator_resume: bool, reopen: Iterable[str]) -> None:
        """``fresh``: the run is pending and no engine held it before, so nothing can be left
        running; ``reopen``: steps an operator asked to run again (with what they skipped)."""
        table = self.table
        run_id = table.run_id
        crashed = queries.running_attempts(run_id)
        ended, markers = self._end_orphans(crashed, fresh)
        unrecorded = self._unrecorded(markers)
        lost_now = Counter(a.step_id for a in crashed)
        lost_before = {sid: losses_in_a_row(queries.attempts(run_id, sid))
                       for sid in {*lost_now, *(sid for sid, _n in unrecorded)}}
        for sid, number in unrecorded:
            self._record_unrecorded(sid, number)
            lost_now[sid] += 1
        for attempt in crashed:
            now = table.clock()
            self.rec.write(
                [ops.finish_attempt(run_id, attempt.step_id, attempt.number, "crashed", now, None,
                                    ENGINE_LOST, None, None, None, None)],
                [self._event("attempt.crashed", attempt.step_id, attempt=attempt.number, tool=attempt.tool,
                             worker=attempt.worker_id, reaped_pid=attempt.pid if attempt.pid in ended else None)],
            )
        for sid, state in list(table.state.items()):
            if state in (S.RUNNING, S.RETRYING):
                if sid in lost_now:
                    self._recover_lost(sid, state, lost_now[sid], lost_before[sid])
                    continue
                if state is S.RETRYING:
                    continue
                policy = retry_policy(table.specs[sid], self.default_retry)
                row = table.rows[sid]
                verdict = enforce(ExecutionResult(outcome="crashed", error="the engine was lost"), policy,
                                  row.attempts - row.base, self.rng, False)
                if state is S.RUNNING:
                    if verdict.state == "retrying":
                        table.move(sid, S.RETRYING, (), {"reason": "recovered after a crash"})
                    else:
                        table.finish(sid, S.FAILED, None, verdict.reason, None)
                elif verdict.state != "retrying":
                    table.finish(sid, S.FAILED, None, verdict.reason, None)
            elif operator_resume and state in _REOPENABLE:
                table.reopen(sid)
        stack = [sid for sid in reopen if table.state.get(sid) in _REOPENABLE]
        for sid in stack:
            table.reopen(sid)
        while stack:
            for child in table.children[stack.pop()]:
                if table.state[child] in (S.SKIPPED, S.CANCELED):
                    table.reopen(child)
                    stack.append(child)

    def reopen_for_revision(self, sid: str, patch_id: str) -> None:
        """A reviewer's request for changes runs the step that made the patch again (a revision
        round), whatever it ended as; no other step runs again. Its earlier attempts no longer
        count against its retries."""
        table = self.table
        if table.state[sid] in (S.PENDING, S.WAITING, S.READY, S.RUNNING, S.RETRYING):
            return
        row = table.rows[sid]
        row.base, row.exit_code, row.ended_at, row.reason = row.attempts, None, None, None
        table.move(sid, S.PENDING, (), {"reason": f"reopened for a revision round of patch {patch_id}",
                                        "patch": patch_id})

    def _end_orphans(self, running: list[AttemptRecord], fresh: bool) -> tuple[set[int], set[str]]:
        """End whatever a previous engine of this run left running, before anything starts.

        An attempt's row is written with the step's move to running, in the batch that commits
        within the writer's window (10 ms) of the spawn, so an engine that dies in that gap
        leaves a child the store knows nothing of: not even its pid. Committing the row before
        each spawn would close the gap at the price of a commit of its own per attempt (the
        batch's row images of one step, ready, running and finished, would no longer merge);
        instead every child carries its attempt's marker, and this sweep finds it by marker (and
        by the recorded leaders' groups and sessions) before the run dispatches anything, so
        the resumed run never starts an attempt beside its orphan. A fresh run (pending, and
        no engine held it before) has nothing to sweep; one whose engine died before it
        recorded the run's start has. Returns the pids ended and the attempt markers found on
        them."""
        if fresh:
            return set(), set()
        swept = end_run(self.table.run_id, [(a.pid, a.started_at) for a in running if a.pid])
        if swept.ended:
            self.rec.event(self._event("run.orphans_ended", pids=swept.ended[:50], count=len(swept.ended),
                                       attempts=sorted(swept.markers)[:50]))
        return set(swept.ended), swept.markers

    def _unrecorded(self, markers: set[str]) -> list[tuple[str, int]]:
        """Attempts whose children were found running (by their marker) though the store never
        recorded them: the next attempt of a step that is waiting to run."""
        table = self.table
        found = []
        for marker in sorted(markers):
            _run, sid, number = marker.rsplit(":", 2)
            row = table.rows.get(sid)
            if (row is not None and number.isdigit() and int(number) == row.attempts + 1
                    and table.state[sid] in (S.PENDING, S.READY, S.RETRYING)):
                found.append((sid, int(number)))
        return found

    def _record_unrecorded(self, sid: str, number: int) -> None:
        """Record an attempt the dead engine started but did not get to record, as what it was:
        running, and crashed with its engine. Its loss then counts like any other, so a step
        that kills its engine at once cannot loop forever either."""
        table = self.table
        row = table.rows[sid]
        row.attempts = number
        now = table.clock()
        if row.started_at is None:
            row.started_at = now
        tool = row.tool or "unknown"
        if table.state[sid] is S.PENDING:  # the engine died before it recorded even that the step was ready
            table.move(sid, S.READY)
        table.move(sid, S.RUNNING, (ops.attempt_row(table.run_id, sid, number, tool, "crashed", None, now, now,
                                                    log_path=log_path(self.root, table.run_id, sid, number),
                                                    error=ENGINE_LOST),),
                   {"attempt": number, "tool": tool, "reason": "found running after its engine was lost, unrecorded"})
        self.rec.event(self._event("attempt.crashed", sid, attempt=number, tool=tool, worker=None, reaped_pid=None))

    def _recover_lost(self, sid: str, state: StepState, now: int, before: int) -> None:
        """A step whose attempt crashed because its engine was lost: the crash is not the
        step's failure, so it does not count against ``max_attempts`` (the attempt base moves
        past it, as an operator's retry does) and the step runs again. A step that keeps
        losing its engine (one that kills it, or that starves the machine) must not loop
        forever: after ``MAX_ENGINE_LOSSES`` in a row it fails, saying so."""
        table = self.table
        row = table.rows[sid]
        row.base += now
        losses = before + now
        if losses >= MAX_ENGINE_LOSSES:
            table.finish(sid, S.FAILED, None, f"the engine was lost {losses} times in a row while running this "
                                              f"step (at most {MAX_ENGINE_LOSSES})", None)
        elif state is S.RUNNING:
            table.move(sid, S.RETRYING, (), {"reason": f"the engine was lost ({losses} of {MAX_ENGINE_LOSSES} "
                                                       "times in a row); running the step again, retries untouched"})
