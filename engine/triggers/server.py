"""The trigger server behind ``uet serve`` and ``uet watch``: it hosts a project's triggers and
runs what they fire with the engine every face uses (``engine.hosted.Host``, ``execute``).

One server per project: it registers as a worker, heartbeats, and holds the project's serve
lease; a second one is refused, naming who holds it. Nothing polls busily: the schedule loop
sleeps until the next due time or a wake-up (a reload, a pause), file triggers sleep in
watchfiles, and the store's event feed is read about once a second (one stat of the database
files) for event triggers, fires recorded by another process (``uet triggers fire``) and
pauses.

A fire is recorded before its run is made, and its run's id comes from the fire's
(``store.triggers.fire_run_id``), so a server restarted after ``kill -9`` carries out each
unfinished fire exactly once: it creates the run when there is none, resumes it when it was
left unfinished, and only notes the outcome when it had ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import UetError
from engine.events import Event, EventBus, Recorder
from engine.hosted import Host
from engine.liveness import live_owner
from engine.planner import Plan
from engine.states import RUN_TERMINAL
from engine.triggers.catalog import ROUTER, WORKSTREAMS, Catalog, TriggerSpec, load_catalog
from engine.triggers.files import FIRE_PATHS, Matcher, affected
from engine.triggers.schedule import Clock, next_after, slots_between
from engine.workers import Worker, is_lost
from schemas.states import RunState, WorkerState
from schemas.triggers import FilesTrigger, FireRecord, ServeLease, Trigger
from store import ChangeFeed, EventCursor, NoSuchRecord, Store, queries
from store import triggers as fires_db

#: How often the event feed is looked at (a stat of the database and its WAL).
FEED_SECONDS = 1.0
#: Event kinds an event trigger answers, by the trigger's field.
RUN_ENDS = {"succeeded": "run_succeeded", "failed": "run_failed"}
#: A run's ends, as its ``run.state`` event words them.
ENDED = frozenset(state.value for state in RUN_TERMINAL)


class ServeBusy(UetError):
    """Another live server holds the project's triggers."""

    exit_code = 1

    def __init__(self, lease: ServeLease, pid: int | None, host: str | None) -> None:
        self.lease = lease
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(lease.since))
        super().__init__(f"the triggers of {lease.root} are served by pid {pid} on {host} since {since} "
                         f"(worker {lease.worker_id[:8]}); stop that one first")


def holder_lost(worker_id: str) -> bool:
    worker = queries.get_worker(worker_id)
    return worker is None or is_lost(worker)


def describe_holder(lease: ServeLease) -> ServeBusy:
    worker = queries.get_worker(lease.worker_id)
    return ServeBusy(lease, worker.pid if worker else None, worker.host if worker else None)


def create_fire_run(store: Store, fire: FireRecord, plan: Plan) -> str | None:
    """Make the run of ``fire`` (once: its id is the fire's) and note it on the fire. Returns
    the run id, or None when a files fire concerns no step (the fire is then done)."""
    run_id = fire.run_id or fires_db.fire_run_id(fire.id, fire.workstream, fire.trigger)
    try:
        queries.get_run(run_id)
    except NoSuchRecord:
        if fire.kind == "files" and fire.data.get("paths"):
            subset = affected(plan, list(fire.data["paths"]))
            if subset is None:
                fires_db.set_fire(store, fire.id, state="done", outcome="not affected",
                                  event=("trigger.done", {"outcome": "not affected", "trigger": fire.trigger,
                                                          "workstream": fire.workstream}))
                return None
            plan = subset
        store.create_run(run_id=run_id, workstream=plan.workstream.name,
                         source=str(plan.source) if plan.source else None, root=str(plan.root),
                         max_parallel=plan.workstream.max_parallel, spec=plan.spec,
                         steps=[(s.id, s.kind, s.needs, s.spec) for s in plan.steps])
    fires_db.set_fire(store, fire.id, state="running", run_id=run_id,
                      event=("trigger.started", {"trigger": fire.trigger, "workstream": fire.workstream}))
    return run_id


class TriggerServer:
    """Hosts triggers and runs what they fire, in this process's event loop."""

    def __init__(self, store: Store, root: Path, *, clock: Clock | None = None, bus: EventBus | None = None,
                 say: Callable[[str], None] | None = None, files: list[Path] | None = None,
                 only_files: bool = False, watch: bool = True) -> None:
        """``files`` limits the server to those workstream files (``uet watch``), and
        ``only_files`` to their files triggers (a default one over the steps' inputs, or the
        whole project, when a file has none). ``watch`` off leaves file and config watching
        to the caller (tests call ``fire_files`` and ``reload``)."""
        self.store = store
        self.root = root.resolve()
        self.clock = clock or Clock()
        self.bus = bus or EventBus()
        self.host = Host(store, self.root, self.bus)
        self.say = say or (lambda _line: None)
        self.files = files
        self.only_files = only_files
        self.watch = watch
        self.catalog = Catalog()
        self.started_at = self.clock.now()
        self.worker: Worker | None = None
        self.wake = asyncio.Event()
        self.stopping: asyncio.Event | None = None
        self.anchors: dict[tuple[str, str], float] = {}
        self.active: dict[tuple[str, str], list[str]] = {}
        self.waiting: dict[tuple[str, str], deque[int]] = {}
        self.fire_of_run: dict[str, int] = {}
        #: Runs of open fires that another engine executes, and their fires.
        self.elsewhere: dict[str, int] = {}
        self.known: set[int] = set()
        self.outcomes: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        self.cursor = EventCursor()
        self._watchers: dict[tuple[str, str], tuple[Trigger, asyncio.Task[None]]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ------------------------------------------------------------------------

    def claim(self) -> None:
        """Register as a worker and take the project's serve lease (ServeBusy when a live
        server holds it)."""
        self.worker = Worker(Recorder(self.store, self.bus))
        held = fires_db.take_lease(self.store, self.worker.id, str(self.root), holder_lost)
        if held is not None:
            self.worker.stop()
            self.store.sync()
            raise describe_holder(held)
        self.worker.move(WorkerState.IDLE)

    async def start(self) -> None:
        if self.worker is None:
            self.claim()
        assert self.worker is not None
        self.stopping = asyncio.Event()
        self.started_at = self.clock.now()
        self.cursor = EventCursor(after=queries.max_event_seq())
        self.reload(initial=True)
        self.recover()
        self._tasks = [asyncio.create_task(self.worker.heartbeat(self.stopping), name="uet-serve-heartbeat"),
                       asyncio.create_task(self._schedules(), name="uet-serve-schedules"),
                       asyncio.create_task(self._feed(), name="uet-serve-feed")]
        if self.watch:
            self._tasks.append(asyncio.create_task(self._watch_config(), name="uet-serve-config"))

    async def stop(self, *, hand_over: bool = True) -> list[tuple[str, int]]:
        """Stop firing; runs still going are handed to background engines (or left to end
        here when ``hand_over`` is off, awaited)."""
        assert self.stopping is not None
        self.stopping.set()
        self.wake.set()
        for _trigger, task in self._watchers.values():
            task.cancel()
        tasks = [*self._tasks, *(task for _t, task in self._watchers.values())]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._watchers.clear()
        handed: list[tuple[str, int]] = []
        if hand_over and self.host.active:
            handed = await self.host.hand_over()
        else:
            await asyncio.gather(*(h.task for h in self.host.runs.values()), return_exceptions=True)
        if self.worker is not None and self.store.writer.failed is None:
            fires_db.drop_lease(self.store, self.worker.id)
            self.worker.stop()
            self.store.sync()
        return handed

    async def serve(self, stop: asyncio.Event) -> list[tuple[str, int]]:
        await self.start()
        await stop.wait()
        return await self.stop()

    # -- the catalog ----------------------------------------------------------------------

    def reload(self, initial: bool = False) -> None:
        """Read the workstream files again; a file that no longer validates is reported and
        keeps its last valid triggers."""
        previous = self.catalog
        catalog = load_catalog(self.root, self.files, previous)
        if self.only_files:
            catalog.specs = {key: spec for key, spec in catalog.specs.items() if spec.kind == "files"}
            for file in self.files or ():
                rel = file.resolve().relative_to(self.root).as_posix() if file.resolve().is_relative_to(self.root) \
                    else file.resolve().as_posix()
                if rel not in catalog.problems and not any(s.workstream == rel for s in catalog.specs.values()):
                    spec = self._default_files(file, rel)
                    if spec is not None:
                        catalog.specs[spec.key] = spec
        for rel, problem in catalog.problems.items():
            if previous.problems.get(rel) != problem:
                self._event("trigger.invalid", {"workstream": rel, "problem": problem,
                                                "kept": sum(1 for s in catalog.specs.values() if s.workstream == rel)})
        self.catalog = catalog
        self._restart_watchers()
        if not initial:
            self._event("trigger.reloaded", {"triggers": len(catalog.specs), "invalid": len(catalog.problems)})
        self.wake.set()

    def _default_files(self, file: Path, rel: str) -> TriggerSpec | None:
        from engine.planner import plan_file

        try:
            plan = plan_file(file, self.root)
        except UetError:
            return None
        inputs = sorted({glob for step in plan.workstream.steps for glob in step.inputs})
        trigger = Trigger(name="files", files=FilesTrigger(paths=inputs or ["**"]))
        return TriggerSpec(rel, "files", trigger, plan)

    def _restart_watchers(self) -> None:
        if not self.watch or self.stopping is None:
            return
        wanted = {key: spec for key, spec in self.catalog.specs.items() if spec.kind == "files"}
        for key in list(self._watchers):
            trigger, task = self._watchers[key]
            if key not in wanted or wanted[key].trigger != trigger:
                task.cancel()
                del self._watchers[key]
        for key, spec in wanted.items():
            if key not in self._watchers:
                task = asyncio.get_running_loop().create_task(self._watch_files(spec), name=f"uet-watch-{spec.name}")
                self._watchers[key] = (spec.trigger, task)

    # -- firing ---------------------------------------------------------------------------

    def fire(self, spec: TriggerSpec, *, reason: str, due_at: float, kind: str | None = None,
             data: dict[str, Any] | None = None) -> int | None:
        """Record a fire of ``spec`` and carry it out; None when this fire was recorded before."""
        fire_id = fires_db.record_fire(self.store, workstream=spec.workstream, trigger=spec.name,
                                       kind=kind or spec.kind, reason=reason, due_at=due_at, data=data)
        if fire_id is None:
            return None
        self.known.add(fire_id)
        self._publish("trigger.fired", {"fire": fire_id, "workstream": spec.workstream, "trigger": spec.name,
                                        "kind": kind or spec.kind, "reason": reason})
        fire = fires_db.get_fire(fire_id)
        assert fire is not None
        self.carry_out(fire)
        return fire_id

    def fire_files(self, spec: TriggerSpec, paths: list[str]) -> int | None:
        """A files trigger saw ``paths`` change (project-relative)."""
        if not paths or fires_db.is_paused(*spec.key):
            return None
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        return self.fire(spec, reason=f"{len(paths)} file(s) changed: {shown}", due_at=self.clock.now(),
                         data={"paths": paths[:FIRE_PATHS], "count": len(paths)})

    def carry_out(self, fire: FireRecord) -> None:
        """Start the run of a recorded fire, or queue, skip or cancel as its trigger says; a
        fire whose run exists is resumed or, when that run ended, closed."""
        key = (fire.workstream, fire.trigger)
        spec = self.catalog.specs.get(key)
        if spec is None:
            self._done(fire, "invalid", "the trigger is no longer in its workstream file")
            return
        run_id = fire.run_id or fires_db.fire_run_id(fire.id, fire.workstream, fire.trigger)
        try:
            run = queries.get_run(run_id)
        except NoSuchRecord:
            run = None
        if run is not None and run.state in RUN_TERMINAL:
            self._done(fire, run.state.value)
            return
        if run is not None and run_id not in self.host.runs and live_owner(run) is not None:
            self.elsewhere[run_id] = fire.id  # another engine executes it (handed over): its end closes the fire
            return
        if run is None or run_id not in self.host.runs:
            active = self.active.setdefault(key, [])
            concurrency = spec.trigger.concurrency
            if run is None and len(active) >= concurrency.max_runs:
                if concurrency.on_busy == "skip":
                    self._done(fire, "skipped", f"{len(active)} run(s) of the trigger still going")
                    return
                if concurrency.on_busy == "queue":
                    queue = self.waiting.setdefault(key, deque())
                    if queue and fire.id not in queue:  # one waiting fire stands for every later one
                        self._done(fire, "skipped", f"fire {queue[0]} already waits for the running one")
                        return
                    if fire.id not in queue:
                        queue.append(fire.id)
                        fires_db.set_fire(self.store, fire.id, state="queued", event=("trigger.queued", {
                            "trigger": fire.trigger, "workstream": fire.workstream, "behind": active[0]}))
                    return
                for previous in active[:len(active) - concurrency.max_runs + 1]:
                    self._cancel(previous, f"replaced by fire {fire.id} of trigger {fire.trigger}")
            if run is None:
                try:
                    created = create_fire_run(self.store, fire, spec.plan)
                except UetError as exc:
                    self._done(fire, "invalid", str(exc).splitlines()[0])
                    return
                if created is None:
                    self._settled(fire.id, "not affected")
                    return
                run_id = created
            else:
                fires_db.set_fire(self.store, fire.id, state="running", run_id=run_id)
            active.append(run_id)
            self.fire_of_run[run_id] = fire.id
            self.say(f"{fire.trigger}: run {run_id} of {spec.plan.workstream.name} started (fire {fire.id})")
            self.host.start(run_id, on_end=lambda rid, result, k=key: self._ended(k, rid, result))

    def _cancel(self, run_id: str, reason: str) -> None:
        """Cancel a run this server hosts, once its executor exists (it is made when the run's
        task first runs, so a fire right after another finds none yet)."""
        hosted = self.host.runs.get(run_id)
        if hosted is None:
            return
        if hosted.executor is not None:
            hosted.executor.request_cancel(reason)
            return

        async def when_ready() -> None:
            while hosted.executor is None and not hosted.task.done():
                await asyncio.sleep(0.01)
            if hosted.executor is not None:
                hosted.executor.request_cancel(reason)

        self._tasks.append(asyncio.get_running_loop().create_task(when_ready(), name=f"uet-cancel-{run_id}"))

    def _ended(self, key: tuple[str, str], run_id: str, result: RunState | BaseException) -> None:
        fire_id = self.fire_of_run.pop(run_id, None)
        with contextlib.suppress(ValueError):
            self.active.get(key, []).remove(run_id)
        outcome = result.value if isinstance(result, RunState) else f"crashed: {type(result).__name__}: {result}"
        if fire_id is not None:
            fire = fires_db.get_fire(fire_id)
            if fire is not None and isinstance(result, RunState) and result is RunState.PAUSED:
                self._settled(fire_id, outcome)  # a paused run stays the fire's; resumed, it ends it
            elif fire is not None:
                self._done(fire, outcome)
        self.say(f"{key[1]}: run {run_id} {outcome}")
        queue = self.waiting.get(key)
        if queue and (self.stopping is None or not self.stopping.is_set()):
            waiting = fires_db.get_fire(queue.popleft())
            if waiting is not None:
                self.carry_out(waiting)

    def _done(self, fire: FireRecord, outcome: str, why: str | None = None) -> None:
        data = {"trigger": fire.trigger, "workstream": fire.workstream, "outcome": outcome}
        if why:
            data["why"] = why
        fires_db.set_fire(self.store, fire.id, state="done", outcome=outcome, event=("trigger.done", data))
        if outcome in ("skipped", "invalid"):
            self.say(f"{fire.trigger}: fire {fire.id} {outcome}" + (f" ({why})" if why else ""))
        self._settled(fire.id, outcome)

    def _settled(self, fire_id: int, outcome: str) -> None:
        self.outcomes.put_nowait((fire_id, outcome))

    def recover(self) -> None:
        """Carry out the fires a previous server left unfinished (recorded, queued, running)."""
        for fire in fires_db.open_fires():
            if self.files is not None and (fire.workstream, fire.trigger) not in self.catalog.specs:
                continue  # another workstream's fire: `uet serve` carries it out
            self.known.add(fire.id)
            self.carry_out(fire)

    # -- schedules ------------------------------------------------------------------------

    async def _schedules(self) -> None:
        assert self.stopping is not None
        while not self.stopping.is_set():
            self.wake.clear()
            due = self.check_schedules()
            await self.clock.sleep_until(due, self.wake)

    def check_schedules(self) -> float | None:
        """Fire every schedule and interval that is due; the next due time of any."""
        now = self.clock.now()
        soonest: float | None = None
        for spec in list(self.catalog.specs.values()):
            if spec.kind not in ("schedule", "every"):
                continue
            key = spec.key
            if key not in self.anchors:
                last = fires_db.last_due(*key)
                self.anchors[key] = last if last is not None else self.started_at
            slots = slots_between(spec.trigger, self.anchors[key], now)
            if slots:
                self.anchors[key] = slots[-1]
                if not fires_db.is_paused(*key):
                    self._due(spec, slots)
            upcoming = next_after(spec.trigger, self.anchors[key])
            soonest = upcoming if soonest is None else min(soonest, upcoming)
        return soonest

    def _due(self, spec: TriggerSpec, slots: list[float]) -> None:
        missed = [slot for slot in slots if slot < self.started_at]
        now = [slot for slot in slots if slot >= self.started_at]
        if missed:
            caught = spec.trigger.catch_up == "once" and not now
            self._event("trigger.missed", {"workstream": spec.workstream, "trigger": spec.name, "count": len(missed),
                                           "first": missed[0], "last": missed[-1], "caught_up": caught})
            if caught:
                self.fire(spec, reason=f"catching up {len(missed)} missed fire(s)", due_at=missed[-1],
                          data={"missed": len(missed)})
        if now:
            when = time.strftime("%H:%M:%S", time.localtime(now[-1]))
            self.fire(spec, reason=f"{'every ' + _seconds(spec.trigger.every) if spec.trigger.every else 'schedule'} "
                                   f"({when})", due_at=now[-1])

    # -- the event feed -------------------------------------------------------------------

    async def _feed(self) -> None:
        assert self.stopping is not None
        feed = ChangeFeed(self.store.path, force_polling=True, poll_interval=FEED_SECONDS, tick=30.0)
        async for _changed in feed.changes(self.stopping):
            self.read_feed()

    def read_feed(self) -> None:
        """Answer what the store recorded since the last look."""
        for event in self.cursor.read():
            if event.kind == "run.state" and event.run_id in self.elsewhere and event.data.get("to") in ENDED:
                fire = fires_db.get_fire(self.elsewhere.pop(event.run_id))
                if fire is not None:
                    self._done(fire, str(event.data["to"]))
            if event.kind == "run.state" and event.data.get("to") in RUN_ENDS:
                self._event_fire(RUN_ENDS[event.data["to"]], event.run_id, event.seq, event.ts)
            elif event.kind == "patch.state" and event.data.get("to") == "approved":
                self._event_fire("patch_approved", event.run_id, event.seq, event.ts)
            elif event.kind == "trigger.fired":
                fire_id = event.data.get("fire")
                if isinstance(fire_id, int) and fire_id not in self.known:
                    fire = fires_db.get_fire(fire_id)
                    if fire is not None and fire.state == "pending" and \
                            (fire.workstream, fire.trigger) in self.catalog.specs:
                        self.known.add(fire_id)
                        self.carry_out(fire)
            elif event.kind in ("trigger.paused", "trigger.resumed"):
                self.wake.set()

    def _event_fire(self, which: str, run_id: str | None, seq: int, ts: float) -> None:
        if run_id is None:
            return
        try:
            run = queries.get_run(run_id)
        except NoSuchRecord:
            return
        for spec in list(self.catalog.specs.values()):
            wanted = getattr(spec.trigger.event, which, None) if spec.trigger.event else None
            if wanted is None:
                continue
            own = run.workstream == spec.plan.workstream.name
            if (wanted == "any" and not own) or wanted == run.workstream:
                if fires_db.is_paused(*spec.key):
                    continue
                self.fire(spec, reason=f"{which.replace('_', ' ')}: run {run_id} of {run.workstream}", due_at=ts,
                          data={"event": seq, "run": run_id})

    # -- watching files -------------------------------------------------------------------

    async def _watch_files(self, spec: TriggerSpec) -> None:
        from watchfiles import awatch

        assert spec.trigger.files is not None and self.stopping is not None
        matcher = Matcher(self.root, spec.trigger.files)
        # A burst is over once `debounce` passed with no change (watchfiles' step); a change that
        # never stops still fires every ten debounce windows.
        quiet = max(1, int(spec.trigger.files.debounce * 1000))
        async for changes in awatch(self.root, watch_filter=matcher.watch_filter, debounce=quiet * 10, step=quiet,
                                    stop_event=self.stopping, recursive=True):
            paths = sorted({rel for _change, path in changes if (rel := matcher.concerns(path)) is not None})
            self.fire_files(spec, paths)

    async def _watch_config(self) -> None:
        from watchfiles import awatch

        assert self.stopping is not None
        folder = self.root / ".uet"
        if not folder.is_dir():
            return
        workstreams = str(self.root / WORKSTREAMS)
        router = str(self.root / ROUTER)

        def config(_change: object, path: str) -> bool:
            return path == router or path.startswith(workstreams + "/") and path.endswith((".yaml", ".yml"))

        # Not recursive: scratch copies and logs under .uet/ change all the time and hold no config.
        watched = [folder, *([self.root / WORKSTREAMS] if (self.root / WORKSTREAMS).is_dir() else [])]
        async for _changes in awatch(*watched, watch_filter=config, debounce=300, step=50, stop_event=self.stopping,
                                     recursive=False):
            self.reload()

    # -- events ---------------------------------------------------------------------------

    def _event(self, kind: str, data: dict[str, Any]) -> None:
        """An event recorded in the store and told to this process's listeners."""
        fires_db.record_event(self.store, kind, data)
        self._publish(kind, data)

    def _publish(self, kind: str, data: dict[str, Any]) -> None:
        if self.bus.active:
            self.bus.publish(Event(time.time(), kind, None, None, data))


def _seconds(value: float | None) -> str:
    from schemas.durations import format_duration

    return format_duration(value or 0)
