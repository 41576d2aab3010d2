"""Triggers: ``on:`` in a workstream file, what starts a run without a person typing ``uet run``.

A trigger is one of four kinds: ``files`` (changes under the project), ``schedule`` (a cron
expression in a time zone), ``every`` (a fixed interval) or ``event`` (something the store
recorded: a run of a workstream ended, a patch was approved). Each has a name, unique in its
workstream, that the store keys its fires by; a trigger written without one is named after its
kind (``files``, ``schedule-2`` for a second schedule).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.durations import Duration

TRIGGER_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
#: The kinds a trigger may be, in the order the checks name them.
KINDS = ("files", "schedule", "every", "event")
#: ``any``, or the name of a workstream, for an event trigger.
WORKSTREAM_OR_ANY = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
#: The shortest interval of an ``every:`` trigger, and the longest debounce of a files trigger.
MIN_EVERY = 1.0
MAX_DEBOUNCE = 3600.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def inside_project(what: str, value: str) -> str:
    """A glob relative to the project root that cannot leave it."""
    if not value.strip():
        raise ValueError(f"{what} is empty")
    if "\0" in value:
        raise ValueError(f"{what} holds a NUL character")
    if value.startswith(("/", "\\")) or (len(value) > 1 and value[1] == ":"):
        raise ValueError(f"{value!r} is absolute: {what} is relative to the project root")
    if ".." in value.replace("\\", "/").split("/"):
        raise ValueError(f"{value!r} climbs out with '..': {what} must stay inside the project")
    return value


def _globs(what: str) -> Any:
    def check(values: list[str]) -> list[str]:
        for value in values:
            inside_project(what, value)
        return values

    return AfterValidator(check)


Glob = Annotated[str, Field(min_length=1, max_length=1000)]


def _debounce(seconds: float) -> float:
    if not 0 <= seconds <= MAX_DEBOUNCE:
        raise ValueError(f"a debounce is 0s to 1h, found {seconds:g}s")
    return seconds


def _every(seconds: float) -> float:
    if seconds < MIN_EVERY:
        raise ValueError(f"an interval must be at least 1s, found {seconds:g}s")
    return seconds


class FilesTrigger(_Strict):
    """Fire when files of the project change; a burst of changes within ``debounce`` is one fire."""

    paths: Annotated[list[Glob], _globs("a path glob")] = Field(
        default_factory=lambda: ["**"], min_length=1, max_length=200,
        description="Globs (gitignore style, relative to the project root) of the files watched.")
    ignore: Annotated[list[Glob], _globs("an ignore glob")] = Field(
        default_factory=list, max_length=200,
        description="Globs of files never watched, beside what .gitignore ignores and UET's own .uet/.")
    debounce: Annotated[Duration, AfterValidator(_debounce)] = Field(
        0.5, description="Changes closer together than this are one fire.")


class ScheduleTrigger(_Strict):
    """Fire at the times a cron expression names, in a time zone."""

    cron: str = Field(max_length=200, description="Five fields: minute hour day-of-month month day-of-week.")
    timezone: str | None = Field(None, max_length=100,
                                 description="An IANA time zone such as Europe/Paris (default: the machine's).")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        import datetime

        from cronsim import CronSim, CronSimError

        try:
            CronSim(value, datetime.datetime(2000, 1, 1))
        except CronSimError as exc:
            raise ValueError(f"{value!r} is not a cron expression: {exc}") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is no time zone this machine knows (write e.g. Europe/Paris or UTC)") from None
        return value


class EventTrigger(_Strict):
    """Fire when the store records one of these: a run of the named workstream (or ``any``)
    succeeded or failed, a patch was approved."""

    run_succeeded: str | None = Field(None, pattern=WORKSTREAM_OR_ANY, max_length=100)
    run_failed: str | None = Field(None, pattern=WORKSTREAM_OR_ANY, max_length=100)
    patch_approved: str | None = Field(None, pattern=WORKSTREAM_OR_ANY, max_length=100)

    @model_validator(mode="after")
    def _one_at_least(self) -> EventTrigger:
        if not (self.run_succeeded or self.run_failed or self.patch_approved):
            raise ValueError("name an event: run_succeeded, run_failed or patch_approved (a workstream or `any`)")
        return self


class Concurrency(_Strict):
    """How many runs of one trigger may go on at once, and what a fire does when that many do."""

    max_runs: int = Field(1, ge=1, le=64)
    on_busy: Literal["queue", "skip", "cancel_previous"] = Field(
        "queue", description="queue: the fire waits for a run to end; skip: it is recorded and dropped; "
                             "cancel_previous: the oldest run is canceled and the fire starts.")


class Trigger(_Strict):
    name: str | None = Field(None, pattern=TRIGGER_NAME, max_length=64)
    files: FilesTrigger | None = None
    schedule: ScheduleTrigger | None = None
    every: Annotated[Duration, AfterValidator(_every)] | None = Field(None, description="Fire at this interval.")
    event: EventTrigger | None = None
    catch_up: Literal["once", "skip"] = Field(
        "skip", description="Fires a schedule missed while no server ran: once (one run for all of them) or skip; "
                            "either way the miss is recorded as an event.")
    concurrency: Concurrency = Field(default_factory=Concurrency)

    @model_validator(mode="after")
    def _one_kind(self) -> Trigger:
        given = [kind for kind in KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"a trigger is exactly one of files, schedule, every or event (found {found})")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in KINDS if getattr(self, kind) is not None)


def named_triggers(value: Any) -> Any:
    """``on:`` as a list of triggers, or a mapping of name → trigger (the name goes in)."""
    if isinstance(value, dict):
        out = []
        for name, trigger in value.items():
            if isinstance(trigger, dict) and "name" not in trigger:
                trigger = {"name": name, **trigger}
            out.append(trigger)
        return out
    return value


def trigger_names(triggers: list[Trigger]) -> list[str]:
    """Each trigger's name: the one written, else its kind, numbered from the second of a kind."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for trigger in triggers:
        if trigger.name:
            out.append(trigger.name)
            continue
        seen[trigger.kind] = seen.get(trigger.kind, 0) + 1
        count = seen[trigger.kind]
        out.append(trigger.kind if count == 1 else f"{trigger.kind}-{count}")
    return out


class FireRecord(_Strict):
    """One fire of a trigger, as the store keeps it. Recorded before its run is created, so a
    server that dies in between finds the fire on restart and carries it out once."""

    id: int
    workstream: str = Field(description="The workstream file, relative to the project root.")
    trigger: str
    kind: str = Field(description="The trigger's kind: files, schedule, every, event, or manual.")
    reason: str = Field(description="Why it fired, in words.")
    due_at: float
    fired_at: float
    run_id: str | None = None
    state: Literal["pending", "queued", "running", "done"]
    outcome: str | None = Field(None, description="The run's end (succeeded, failed, canceled), or skipped, invalid.")
    data: dict[str, Any] = Field(default_factory=dict)


class TriggerStateRecord(_Strict):
    workstream: str
    trigger: str
    paused: bool
    changed_by: str | None = None
    changed_at: float | None = None


class ServeLease(_Strict):
    """Who serves the project's triggers: the worker holding the lease, and since when."""

    worker_id: str
    since: float
    root: str
