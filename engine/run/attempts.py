"""An attempt's life: its start (perceive, output sinks, the adapter or the patch step's copy),
and the verdict on its end (breaker and stats, costs, fix round, retry, success or failure).

What comes after a step's attempt (a fix round, the step's output) is decided in ``complete``,
apart from how attempts are queued and how the run is held; a revision round (a reviewer's
request for changes) is set up by ``revise`` when an engine reopens an ended run for it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.adapters.base import CancelToken
from engine.agents.task import cleanup, conclude, last_block, live_usage, prepare, wants_task
from engine.costs import recorded
from engine.events import Event, Recorder
from engine.pipeline import enforce, operate, perceive, refuse, retry_policy, train
from engine.router import Route
from engine.run.budget import Spend
from engine.run.dispatch import Dispatcher
from engine.run.table import Running, StepTable, Stops
from engine.sections import Where, providers
from engine.stats import StatsBook
from engine.workdir import cwd_outside
from schemas.execution import ExecutionResult
from schemas.states import StepState
from schemas.workstream import RetryPolicy
from store import Store, ops

if TYPE_CHECKING:
    from engine.patches.steps import PatchInfo, PatchSteps

OUTPUT_EVENT_SECONDS = 1.0
S = StepState


class Attempts:
    """Starts attempts for the dispatcher and judges them when they end.

    ``later(delay, callback)`` schedules a callback on the loop (a retry's backoff); ``ended``
    is called with each attempt's handle and outcome in the attempt's own task, and is expected
    to call ``complete`` and then let the run move on."""

    def __init__(self, table: StepTable, dispatcher: Dispatcher, spend: Spend, stops: Stops, *,
                 store: Store, rec: Recorder, stats: StatsBook, root: str, run_spec: dict[str, Any],
                 default_timeout: float | None, default_retry: RetryPolicy | None, rng: random.Random,
                 stop_on_failure: bool, later: Callable[[float, Callable[[], None]], None],
                 kick: Callable[[], None], ended: Callable[[Running, Any], None]) -> None:
        self.table = table
        self.dispatcher = dispatcher
        self.router = dispatcher.router
        self.spend = spend
        self.stops = stops
        self.store = store
        self.rec = rec
        self.stats = stats
        self.root = Path(root)
        self._root_text = root  # perceive formats it into two paths per attempt
        self.run_spec = run_spec
        self.default_timeout = default_timeout
        self.default_retry = default_retry
        self.rng = rng
        self.stop_on_failure = stop_on_failure
        self.later = later
        self.kick = kick
        self.ended = ended
        self.loop: asyncio.AbstractEventLoop | None = None
        self.patch_steps: PatchSteps | None = None
        #: Outputs of the steps some prompt names (engine.prompts), by step id; which steps those
        #: are is known once the table is loaded (``used``).
        self._used: set[str] | None = None
        self._used_patch: set[str] = set()
        self.outputs: dict[str, str | None] = {}
        #: The diffs of the patches some prompt shows ({steps.ID.patch}), by step id.
        self.diffs: dict[str, str | None] = {}
        #: The stream parsers of agents at work, for their usage so far.
        self.live: dict[str, Any] = {}

    # -- start ------------------------------------------------------------------------------

    def start(self, sid: str, route: Route) -> None:
        table = self.table
        row = table.rows[sid]
        row.attempts += 1
        number = row.attempts
        tool = row.tool = route.tool
        now = table.clock()
        if row.started_at is None:
            row.started_at = now
        spec = table.specs[sid]
        tool_spec = route.spec
        agent = tool_spec is not None and tool_spec.agent is not None and "run" not in spec and "call" not in spec
        # An agent edits whatever it is given: it always works in a contained scratch copy, and
        # only a `produces: patch` step proposes what it changed.
        patch = spec.get("produces") == "patch"
        contained = patch or agent
        run_id = table.run_id
        # A patch step works in its scratch copy: that is its {root}, never the user's tree.
        request = perceive(run_id=run_id, step_id=sid, number=number, spec=spec, route=route,
                           root=self._root_text, default_timeout=self.default_timeout,
                           workdir=self.patches().workdir(sid, number) if contained else None)
        data: dict[str, Any] = {"attempt": number, "tool": tool}
        if route.probe:
            data["probe"] = True
        if route.skipped:
            data["skipped"] = route.skipped
        if route.reason:
            data["route"] = route.reason
        table.move(sid, S.RUNNING, (ops.attempt_row(run_id, sid, number, tool, "running", table.worker_id, now,
                                                    log_path=request.log_path),), data)
        self.router.started(tool)
        assert table.progress is not None
        table.progress.running += 1
        cancel = CancelToken()
        if request.adapter == "python":
            on_output = on_spawn = None
        else:
            on_output = self._output_sink(sid, number)
            on_spawn = self._spawn_sink(sid, number, tool, now, request.log_path)
        task = None
        if request.adapter == "subprocess" and wants_task(spec, tool_spec):
            outputs = self._outputs(spec.get("uses", ()))
            diffs = self._diffs(spec.get("uses_patch", ()))
            root_text = self._root_text

            def task(req: Any, workdir: str, feedback: str, round_texts: dict[str, str] | None = None,
                     append: tuple[str, ...] = ()) -> Any:
                where = Where(root_text, workdir, req.run_id, sid, spec, round_texts or {})
                req, prepared = prepare(req, spec, tool_spec, root=root_text, workdir=workdir, outputs=outputs,
                                        feedback=feedback, edits=patch, patches=diffs, sections=providers(where),
                                        append=append)
                if prepared.stream is not None and prepared.stream.parser is not None:
                    self.live[sid] = prepared.stream.parser  # its usage so far goes with step.output events
                return req, prepared

        if "cwd" in spec and (outside := cwd_outside(self._root_text, spec["cwd"])) is not None:
            work = refuse(outside)  # a link made after validation leads out of the project
        elif contained:
            network = spec.get("network")
            if network is None:
                network = bool(route.spec and route.spec.network)
            work = self.patches().attempt(
                sid, number, spec, request,
                lambda req: operate(req, route, cancel, on_output, on_spawn), cancel,
                bool(route.spec and route.spec.diff_output), network, task, propose=patch)
        elif task is not None:
            work = self._tasked(sid, number, request, task, route, cancel, on_output, on_spawn)
        else:
            work = operate(request, route, cancel, on_output, on_spawn)
        assert self.loop is not None
        handle = Running(sid, number, route, request, cancel, None, time.monotonic(), now)
        handle.task = self.loop.create_task(self._attempt(handle, work))
        self.dispatcher.running[sid] = handle

    async def _tasked(self, sid: str, number: int, request: Any, task: Any, route: Route, cancel: CancelToken,
                      on_output: Any, on_spawn: Any) -> ExecutionResult:
        """An attempt with a prompt that runs in the project itself (a tool given a task, not an
        agent and not a patch step): prepared, run, its answer read, its home removed."""
        request, prepared = await asyncio.to_thread(task, request, self._root_text, "")
        try:
            result = await operate(request, route, cancel, on_output, on_spawn)
            result = conclude(result, prepared, request.cwd)
        finally:
            await asyncio.to_thread(cleanup, prepared)
        for field, message in prepared.warnings:
            self.rec.event(Event(self.table.clock(), "attempt.warning", self.table.run_id, sid,
                                 {"attempt": number, "tool": route.tool, "field": field, "reason": message}))
        return result

    @property
    def used(self) -> set[str]:
        if self._used is None:
            self._used = {used for spec in self.table.specs.values() for used in spec.get("uses", ())}
            self._used_patch = {used for spec in self.table.specs.values() for used in spec.get("uses_patch", ())}
        return self._used

    def _diffs(self, uses: Any) -> dict[str, str | None]:
        """The diffs of the patches the steps a prompt names proposed last: kept from this
        engine's attempts, else read from the ledger."""
        found: dict[str, str | None] = {}
        for sid in uses:
            if sid not in self.diffs:
                from store import queries

                latest = queries.latest_patch_id(self.table.run_id, sid)
                self.diffs[sid] = queries.patch_diff(latest) if latest else None
            found[sid] = self.diffs[sid]
        return found

    def _outputs(self, uses: Any) -> dict[str, str | None]:
        """The outputs of the steps a prompt names: kept from this engine's attempts, else (a
        run resumed by another engine) read from the store."""
        found: dict[str, str | None] = {}
        for sid in uses:
            if sid in self.outputs:
                found[sid] = self.outputs[sid]
            else:
                from store import queries

                done = [a for a in queries.attempts(self.table.run_id, sid) if a.state == "succeeded"]
                found[sid] = self.outputs[sid] = done[-1].output if done else None
        return found

    async def _attempt(self, handle: Running, work: Coroutine[Any, Any, Any]) -> None:
        """Run the attempt, then handle its end in the same task: no done-callback hop through
        the loop for each attempt. An exception from the adapter is the attempt's result."""
        try:
            outcome: Any = await work
        except asyncio.CancelledError:
            outcome = ExecutionResult(outcome="canceled", error="canceled")
        except Exception as exc:  # noqa: BLE001 - an adapter bug must not take the run down
            outcome = ExecutionResult(outcome="crashed", error=f"adapter error: {type(exc).__name__}: {exc}")
        self.ended(handle, outcome)

    def _spawn_sink(self, sid: str, number: int, tool: str, started: float, log: str | None) -> Callable[[int], None]:
        """Record the child's pid with the attempt, so a successor engine can kill what a
        crashed one left running."""
        run_id, worker_id = self.table.run_id, self.table.worker_id

        def spawned(pid: int) -> None:
            self.store.submit((ops.attempt_row(run_id, sid, number, tool, "running", worker_id, started,
                                               log_path=log, pid=pid),), worker_id)

        return spawned

    def _output_sink(self, sid: str, number: int) -> Callable[[str], None]:
        last = [0.0]
        total = [0]

        def sink(text: str) -> None:
            total[0] += len(text)
            now = time.monotonic()
            if now - last[0] >= OUTPUT_EVENT_SECONDS:
                last[0] = now
                line = text.rstrip().rsplit("\n", 1)[-1][-200:]
                data: dict[str, Any] = {"attempt": number, "chars": total[0], "line": line}
                parser = self.live.get(sid)
                if parser is not None:
                    data.update(live_usage(parser))
                self.rec.event(Event(self.table.clock(), "step.output", self.table.run_id, sid, data))

        return sink

    # -- completion -------------------------------------------------------------------------

    def complete(self, handle: Running, outcome: ExecutionResult | tuple[ExecutionResult, PatchInfo]) -> None:
        """Judge an attempt's end: train the router, count its cost, then the step succeeds,
        gets a fix round, waits for its retry, or ends failed or canceled."""
        sid = handle.step_id
        table = self.table
        del self.dispatcher.running[sid]
        self.live.pop(sid, None)
        self.router.finished(handle.route.tool)
        assert table.progress is not None
        table.progress.running -= 1
        patch: PatchInfo | None = None
        if type(outcome) is tuple:
            result, patch = outcome
        else:
            result = outcome  # type: ignore[assignment]
        if handle.cancel.is_set() and result.outcome != "succeeded":
            result = result.replace(outcome="canceled")
        now = table.clock()
        change = train(self.router, self.stats, handle.route, result, now)
        if change is not None:
            self.dispatcher.breaker_change(change)
        else:
            self.dispatcher.dirty_breakers.add(handle.route.tool)
        # The attempt's row is its cost record (the costs view reads it): no row of its own.
        result, dropped = recorded(handle.route.spec, result)
        for field, value, why in dropped:
            self.rec.event(Event(table.clock(), "attempt.warning", table.run_id, sid,
                                 {"attempt": handle.number, "tool": handle.route.tool, "field": field,
                                  "value": value, "reason": f"{field} {value!r}: {why}"}))
        self.spend.add(result)
        if patch is not None and patch.gate_passed is False and result.outcome == "succeeded":
            if self._fix_round(handle, patch, result, now):
                return
            result = result.replace(outcome="failed", exit_code=None,
                                    error=f"gate {patch.gate} failed for patch {patch.patch_id}: "
                                          f"{patch.feedback.splitlines()[0] if patch.feedback else ''}")
        attempt = (handle.number, handle.started_ts, result, handle.request.log_path)
        if result.output is None and result.output_tail:
            result = result.replace(output=last_block(result.output_tail))
        if result.outcome == "succeeded":  # what enforce says of every success, without asking it
            if sid in self.used:
                self.outputs[sid] = result.output
            if patch is not None and sid in self._used_patch:
                self.diffs[sid] = patch.diff
            table.finish(sid, S.SUCCEEDED, result.exit_code, None, attempt)
            waiting, state = table.waiting, table.state
            for child in table.children[sid]:
                left = waiting[child] = waiting[child] - 1
                if left == 0 and state[child] is S.PENDING:
                    self.dispatcher.make_ready(child)
            return
        policy = retry_policy(table.specs[sid], self.default_retry)
        verdict = enforce(result, policy, handle.number - table.rows[sid].base, self.rng,
                          bool(self.stops.canceling))
        if verdict.state == "retrying":
            table.move(sid, S.RETRYING, (table.attempt_image(sid, attempt, now),),
                       {"attempt": handle.number, "outcome": result.outcome, "exit_code": result.exit_code,
                        "reason": verdict.reason, "delay": round(verdict.delay, 3)})
            self.dispatcher.delayed.add(sid)
            self.later(verdict.delay, lambda: self._retry_due(sid))
        else:
            target = S.CANCELED if verdict.state == "canceled" else S.FAILED
            table.finish(sid, target, result.exit_code, verdict.reason, attempt)
            if target is S.FAILED:
                table.skip_descendants(sid)
                if self.stop_on_failure and not self.stops.halted:
                    self.stops.halted = f"step {sid} failed and on_failure is stop"

    def _fix_round(self, handle: Running, patch: PatchInfo, result: ExecutionResult, now: float) -> bool:
        """A gate failed: when the step's fix loop has rounds left, start the next round at once,
        with the failure as the tool's input. False when the loop is spent (or there is none)."""
        sid = handle.step_id
        table = self.table
        fix = table.specs[sid].get("fix_loop")
        steps = self.patches()
        if fix is None or steps.fixes(sid) >= int(fix.get("max_rounds", 2)) or self.stops.canceling:
            return False
        round_ = steps.next_round(sid, patch)
        attempt = (handle.number, handle.started_ts, result, handle.request.log_path)
        table.move(sid, S.RETRYING, (table.attempt_image(sid, attempt, now),),
                   {"attempt": handle.number, "outcome": result.outcome, "patch": patch.patch_id,
                    "reason": f"gate {patch.gate} failed; fix round {round_.fixes} of "
                              f"{fix.get('max_rounds', 2)}",
                    "delay": 0})
        table.rows[sid].base += 1  # a fix round is not a retry: it does not use up retry attempts
        self.dispatcher.enqueue(sid)
        return True

    def revise(self, patch_id: str, *, again: bool = False) -> str:
        """Set up the revision round of a patch with changes requested (``uet _exec RUN --revise
        PATCH``): its step's next attempt starts from the patch, told the submitted comments.
        Returns the step; the caller reopens it. The round is recorded as a ``review.round``
        event; ``again`` when an engine takes up a round a lost one had begun."""
        from engine.patches.steps import PatchInfo
        from engine.review.comments import render, submitted
        from store import queries

        patch = queries.get_patch(patch_id)
        diff = queries.patch_diff(patch.id)
        comments = submitted(patch.id)
        info = PatchInfo(patch.id, diff, patch.gate, None, round=patch.round)
        self.patches().revision(patch.step_id, info, render(comments, diff))
        self.rec.event(Event(self.table.clock(), "review.round", self.table.run_id, patch.step_id,
                             {"patch": patch.id, "round": patch.round + 1, "comments": len(comments),
                              "by": patch.decided_by, **({"again": True} if again else {})}))
        return patch.step_id

    def _retry_due(self, sid: str) -> None:
        self.dispatcher.delayed.discard(sid)
        if self.table.state.get(sid) is S.RETRYING:
            self.dispatcher.enqueue(sid)
        self.kick()

    def patches(self) -> PatchSteps:
        """The run's patch steps (scratch copies, ledger, gates, rounds), made on first use."""
        # Imported here: runs without patch steps never load git or the ledger.
        from engine.patches.steps import PatchSteps
        from engine.patches.worktree import head_commit

        if self.patch_steps is None:
            spec = self.run_spec
            base = spec.get("base_commit")
            if base is None:
                base = head_commit(self.root)
                if base is not None:
                    spec["base_commit"] = base
                    self.rec.write([ops.run_spec(self.table.run_id, spec)])
            self.patch_steps = PatchSteps(self.rec, self.root, self.table.run_id, base, spec.get("gates", {}),
                                          self.default_timeout)
        return self.patch_steps
