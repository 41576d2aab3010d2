"""What the faces ask of triggers: the list (``uet triggers``, the dashboard's triggers screen),
pause and resume, a fire by hand, and whether a server is live. One implementation for the
command line and the dashboard.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from engine.triggers.catalog import Catalog, TriggerSpec, load_catalog
from engine.triggers.schedule import next_after
from engine.workers import is_lost
from schemas.records import WorkerRecord
from schemas.triggers import FireRecord, ServeLease, Trigger
from store import NoSuchRecord, Store, queries
from store import triggers as fires_db


@dataclass(frozen=True, slots=True)
class Server:
    """The project's live server: who, where, since when."""

    lease: ServeLease
    worker: WorkerRecord

    @property
    def words(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.lease.since))
        return f"pid {self.worker.pid} on {self.worker.host} since {since}"


@dataclass(frozen=True, slots=True)
class TriggerRow:
    workstream: str  # the file, relative to the project
    workstream_name: str
    name: str
    kind: str
    what: str  # the trigger in words: "every 30m", "cron 0 2 * * * (Europe/Paris)", "files src/**/*.py"
    next_fire: float | None
    last: FireRecord | None
    last_run_state: str | None
    paused: bool

    @property
    def key(self) -> tuple[str, str]:
        return self.workstream, self.name

    @property
    def label(self) -> str:
        return f"{self.workstream_name}/{self.name}"


def server() -> Server | None:
    lease = fires_db.lease()
    if lease is None:
        return None
    worker = queries.get_worker(lease.worker_id)
    if worker is None or is_lost(worker):
        return None
    return Server(lease, worker)


def summary(trigger: Trigger) -> str:
    from schemas.durations import format_duration

    if trigger.every is not None:
        return f"every {format_duration(trigger.every)}"
    if trigger.schedule is not None:
        zone = f" ({trigger.schedule.timezone})" if trigger.schedule.timezone else ""
        return f"cron {trigger.schedule.cron}{zone}"
    if trigger.files is not None:
        return "files " + " ".join(trigger.files.paths)
    assert trigger.event is not None
    return "on " + ", ".join(f"{k} {v}" for k, v in trigger.event.model_dump(exclude_none=True).items())


def next_fire(spec: TriggerSpec, now: float) -> float | None:
    """When a schedule or interval fires next (from its last fire, or from now)."""
    if spec.kind not in ("schedule", "every"):
        return None
    last = fires_db.last_due(*spec.key)
    upcoming = next_after(spec.trigger, last if last is not None else now)
    return upcoming if upcoming >= now else next_after(spec.trigger, now)


def rows(catalog: Catalog, now: float | None = None) -> list[TriggerRow]:
    at = time.time() if now is None else now
    last = fires_db.last_fires(catalog.specs)
    states = fires_db.trigger_states()
    out = []
    for spec in catalog.specs.values():
        fire = last.get(spec.key)
        run_state = None
        if fire is not None and fire.run_id:
            try:
                run_state = queries.get_run(fire.run_id).state.value
            except NoSuchRecord:
                run_state = None
        state = states.get(spec.key)
        out.append(TriggerRow(spec.workstream, spec.plan.workstream.name, spec.name, spec.kind, summary(spec.trigger),
                              next_fire(spec, at), fire, run_state, bool(state and state.paused)))
    return sorted(out, key=lambda r: (r.workstream_name, r.name))


def catalog(root: Path) -> Catalog:
    return load_catalog(root)


def set_paused(store: Store, spec: TriggerSpec, paused: bool, by: str) -> bool:
    """Pause (or resume) a trigger; False when it already was."""
    return fires_db.set_paused(store, spec.workstream, spec.name, paused, by)


def fire_by_hand(store: Store, spec: TriggerSpec, by: str) -> FireRecord:
    """Record a manual fire of ``spec``; a live server carries it out, else the caller does
    (``create_fire_run``)."""
    now = time.time()
    fire_id = fires_db.record_fire(store, workstream=spec.workstream, trigger=spec.name, kind="manual",
                                   reason=f"fired by hand by {by}", due_at=now, now=now)
    while fire_id is None:  # two hands in the same microsecond
        now += 1e-6
        fire_id = fires_db.record_fire(store, workstream=spec.workstream, trigger=spec.name, kind="manual",
                                       reason=f"fired by hand by {by}", due_at=now, now=now)
    fire = fires_db.get_fire(fire_id)
    assert fire is not None
    return fire
