"""Peewee models of the tables that migration 1 creates. Nothing outside ``store`` sees them:
reads return ``schemas`` records (see ``store.queries``)."""

from __future__ import annotations

from peewee import (
    CompositeKey,
    DatabaseProxy,
    FloatField,
    IntegerField,
    Model,
    TextField,
)

database = DatabaseProxy()


class Base(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Run(Base):
    id = TextField(primary_key=True)
    workstream = TextField()
    source = TextField(null=True)
    root = TextField()
    state = TextField()
    created_at = FloatField()
    started_at = FloatField(null=True)
    ended_at = FloatField(null=True)
    worker_id = TextField(null=True)
    total_steps = IntegerField(default=0)
    done_steps = IntegerField(default=0)
    failed_steps = IntegerField(default=0)
    max_parallel = IntegerField(default=1)
    reason = TextField(null=True)
    spec = TextField(default="{}")
    skipped_steps = IntegerField(default=0)
    canceled_steps = IntegerField(default=0)
    running_steps = IntegerField(default=0)
    pausing = TextField(null=True)
    waiting_on = TextField(null=True)
    waiting_until = FloatField(null=True)

    class Meta:
        table_name = "runs"


class Step(Base):
    run_id = TextField()
    id = TextField()
    idx = IntegerField()
    kind = TextField()
    state = TextField()
    tool = TextField(null=True)
    needs = TextField(default="[]")
    attempts = IntegerField(default=0)
    attempt_base = IntegerField(default=0)
    exit_code = IntegerField(null=True)
    started_at = FloatField(null=True)
    ended_at = FloatField(null=True)
    reason = TextField(null=True)
    spec = TextField(default="{}")
    due_at = FloatField(null=True)

    class Meta:
        table_name = "steps"
        primary_key = CompositeKey("run_id", "id")


class Attempt(Base):
    run_id = TextField()
    step_id = TextField()
    number = IntegerField()
    tool = TextField()
    state = TextField()
    worker_id = TextField(null=True)
    started_at = FloatField()
    ended_at = FloatField(null=True)
    exit_code = IntegerField(null=True)
    log_path = TextField(null=True)
    error = TextField(null=True)
    tokens_in = IntegerField(null=True)
    tokens_out = IntegerField(null=True)
    usd = FloatField(null=True)
    model = TextField(null=True)
    pid = IntegerField(null=True)
    tokens_cached = IntegerField(null=True)
    duration = FloatField(null=True)
    output = TextField(null=True)

    class Meta:
        table_name = "attempts"
        primary_key = CompositeKey("run_id", "step_id", "number")


class Event(Base):
    seq = IntegerField(primary_key=True)
    ts = FloatField()
    run_id = TextField(null=True)
    step_id = TextField(null=True)
    kind = TextField()
    data = TextField(default="{}")

    class Meta:
        table_name = "events"


class Breaker(Base):
    tool = TextField(primary_key=True)
    state = TextField()
    consecutive_failures = IntegerField(default=0)
    window = TextField(default="[]")
    opened_at = FloatField(null=True)
    probe_started_at = FloatField(null=True)
    updated_at = FloatField()

    class Meta:
        table_name = "breakers"


class ToolStat(Base):
    tool = TextField(primary_key=True)
    attempts = IntegerField(default=0)
    successes = IntegerField(default=0)
    failures = IntegerField(default=0)
    total_seconds = FloatField(default=0.0)
    ewma_seconds = FloatField(null=True)
    ewma_success = FloatField(null=True)
    last_used_at = FloatField(null=True)

    class Meta:
        table_name = "tool_stats"


class ToolTotal(Base):
    """What a tool achieved on one kind of step, kept by triggers as attempts finish
    (``store.tool_totals``)."""

    tool = TextField()
    kind = TextField()
    patch = IntegerField()
    attempts = IntegerField(default=0)
    succeeded = IntegerField(default=0)
    accepted = IntegerField(default=0)
    priced = IntegerField(default=0)
    usd = FloatField(default=0.0)
    tokens = IntegerField(default=0)
    tokenized = IntegerField(default=0)
    decided = IntegerField(default=0)
    rounds = IntegerField(default=0)

    class Meta:
        table_name = "tool_totals"
        primary_key = CompositeKey("tool", "kind", "patch")


class Worker(Base):
    id = TextField(primary_key=True)
    pid = IntegerField()
    host = TextField()
    state = TextField()
    started_at = FloatField()
    heartbeat_at = FloatField()

    class Meta:
        table_name = "workers"


class Command(Base):
    id = IntegerField(primary_key=True)
    run_id = TextField()
    kind = TextField()
    args = TextField(default="{}")
    created_at = FloatField()
    created_by = TextField(null=True)
    claimed_by = TextField(null=True)
    claimed_at = FloatField(null=True)
    done_at = FloatField(null=True)
    result = TextField(null=True)

    class Meta:
        table_name = "commands"


class Meta(Base):
    key = TextField(primary_key=True)
    value = TextField()

    class Meta:
        table_name = "meta"


class Patch(Base):
    id = TextField(primary_key=True)
    run_id = TextField()
    step_id = TextField()
    attempt = IntegerField()
    state = TextField()
    base_commit = TextField()
    diff = TextField()
    sha256 = TextField()
    files = TextField(default="[]")
    added = IntegerField(default=0)
    removed = IntegerField(default=0)
    gate = TextField(null=True)
    round = IntegerField(default=1)
    parent_id = TextField(null=True)
    worktree = TextField(null=True)
    created_at = FloatField()
    updated_at = FloatField()
    decided_by = TextField(null=True)
    reason = TextField(null=True)
    applied_commit = TextField(null=True)
    applied_diff = TextField(null=True)
    superseded_by = TextField(null=True)
    round_kind = TextField(default="first")

    class Meta:
        table_name = "patches"


class PatchComment(Base):
    id = IntegerField(primary_key=True)
    patch_id = TextField()
    path = TextField(null=True)
    line = IntegerField(null=True)
    hunk = IntegerField(null=True)
    body = TextField()
    context = TextField(default="")
    by = TextField()
    created_at = FloatField()
    submitted_at = FloatField(null=True)

    class Meta:
        table_name = "patch_comments"


class GateResult(Base):
    id = IntegerField(primary_key=True)
    patch_id = TextField()
    gate = TextField()
    round = IntegerField()
    idx = IntegerField()
    command = TextField()
    outcome = TextField()
    exit_code = IntegerField(null=True)
    duration = FloatField(default=0.0)
    output_tail = TextField(default="")
    ts = FloatField()

    class Meta:
        table_name = "gate_results"


class Cost(Base):
    """A view: the attempts that ran a tool, with what they cost (see migration 4)."""

    run_id = TextField()
    step_id = TextField()
    attempt = IntegerField()
    tool = TextField()
    model = TextField(null=True)
    tokens_in = IntegerField(null=True)
    tokens_out = IntegerField(null=True)
    tokens_cached = IntegerField(null=True)
    usd = FloatField(null=True)
    wall = FloatField(default=0.0)
    ts = FloatField()

    class Meta:
        table_name = "costs"
        primary_key = CompositeKey("run_id", "step_id", "attempt")


class Lesson(Base):
    """What an attempt taught (migration 7; read and written through ``store.lessons``)."""

    id = IntegerField(primary_key=True)
    created_at = FloatField()
    run_id = TextField()
    step_id = TextField()
    kind = TextField()
    tool = TextField()
    task = TextField(default="")
    files = TextField(default="[]")
    failure_kind = TextField()
    failure = TextField()
    fix = TextField(default="")
    outcome = TextField()
    rounds = IntegerField(default=1)
    source = TextField(unique=True)

    class Meta:
        table_name = "lessons"


class Fire(Base):
    """A trigger's fire (migration 9; read and written through ``store.triggers``)."""

    id = IntegerField(primary_key=True)
    workstream = TextField()
    trigger = TextField()
    kind = TextField()
    reason = TextField(default="")
    due_at = FloatField()
    fired_at = FloatField()
    run_id = TextField(null=True)
    state = TextField(default="pending")
    outcome = TextField(null=True)
    data = TextField(default="{}")

    class Meta:
        table_name = "fires"


class TriggerState(Base):
    """Whether a trigger is paused, and who changed that last (``store.triggers``)."""

    workstream = TextField()
    trigger = TextField()
    paused = IntegerField(default=0)
    changed_by = TextField(null=True)
    changed_at = FloatField(null=True)

    class Meta:
        table_name = "trigger_state"
        primary_key = CompositeKey("workstream", "trigger")


class ServeLease(Base):
    """The project's one ``uet serve``: the worker holding the lease (``store.triggers``)."""

    id = IntegerField(primary_key=True)
    worker_id = TextField()
    since = FloatField()
    root = TextField()

    class Meta:
        table_name = "serve_lease"


#: The lessons' full-text index: an FTS5 virtual table and the tables FTS5 keeps for it, which no
#: model maps (``store.lessons``).
INDEX_TABLES = ("lessons_fts", "lessons_fts_config", "lessons_fts_data", "lessons_fts_docsize", "lessons_fts_idx")

ALL_TABLES = [Run, Step, Attempt, Event, Breaker, ToolStat, ToolTotal, Worker, Command, Meta, Patch, GateResult,
              PatchComment, Lesson, Fire, TriggerState, ServeLease]
ALL_VIEWS = [Cost]
