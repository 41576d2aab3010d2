"""Numbered migrations, run on open. Each one is frozen DDL: it never changes once released,
so a database made by any earlier version reaches the current schema by replaying the list.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from peewee import SqliteDatabase

from store import notice
from store.engines import HOST, live_engines
from store.errors import StoreError, StoreInUse


def _m0001_core(db: SqliteDatabase) -> None:
    for statement in (
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            workstream TEXT NOT NULL,
            source TEXT,
            root TEXT NOT NULL,
            state TEXT NOT NULL,
            created_at REAL NOT NULL,
            started_at REAL,
            ended_at REAL,
            worker_id TEXT,
            total_steps INTEGER NOT NULL DEFAULT 0,
            done_steps INTEGER NOT NULL DEFAULT 0,
            failed_steps INTEGER NOT NULL DEFAULT 0,
            max_parallel INTEGER NOT NULL DEFAULT 1,
            reason TEXT,
            spec TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX runs_created ON runs (created_at)",
        """CREATE TABLE steps (
            run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            tool TEXT,
            needs TEXT NOT NULL DEFAULT '[]',
            attempts INTEGER NOT NULL DEFAULT 0,
            attempt_base INTEGER NOT NULL DEFAULT 0,
            exit_code INTEGER,
            started_at REAL,
            ended_at REAL,
            reason TEXT,
            spec TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (run_id, id)
        ) WITHOUT ROWID""",
        "CREATE INDEX steps_order ON steps (run_id, idx)",
        """CREATE TABLE attempts (
            run_id TEXT NOT NULL,
            step_id TEXT NOT NULL,
            number INTEGER NOT NULL,
            tool TEXT NOT NULL,
            state TEXT NOT NULL,
            worker_id TEXT,
            started_at REAL NOT NULL,
            ended_at REAL,
            exit_code INTEGER,
            log_path TEXT,
            error TEXT,
            tokens_in INTEGER,
            tokens_out INTEGER,
            usd REAL,
            model TEXT,
            pid INTEGER,
            PRIMARY KEY (run_id, step_id, number),
            FOREIGN KEY (run_id, step_id) REFERENCES steps (run_id, id) ON DELETE CASCADE
        ) WITHOUT ROWID""",
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            run_id TEXT,
            step_id TEXT,
            kind TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX events_run ON events (run_id, seq)",
        """CREATE TABLE breakers (
            tool TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            window TEXT NOT NULL DEFAULT '[]',
            opened_at REAL,
            probe_started_at REAL,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE tool_stats (
            tool TEXT PRIMARY KEY,
            attempts INTEGER NOT NULL DEFAULT 0,
            successes INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            total_seconds REAL NOT NULL DEFAULT 0,
            ewma_seconds REAL,
            ewma_success REAL,
            last_used_at REAL
        )""",
        """CREATE TABLE workers (
            id TEXT PRIMARY KEY,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            state TEXT NOT NULL,
            started_at REAL NOT NULL,
            heartbeat_at REAL NOT NULL
        )""",
        """CREATE TABLE commands (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            args TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            created_by TEXT,
            claimed_by TEXT,
            claimed_at REAL,
            done_at REAL,
            result TEXT
        )""",
        "CREATE INDEX commands_open ON commands (run_id, done_at)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ):
        db.execute_sql(statement)


def _m0002_ledger(db: SqliteDatabase) -> None:
    for statement in (
        """CREATE TABLE patches (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            step_id TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            state TEXT NOT NULL,
            base_commit TEXT NOT NULL,
            diff TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            files TEXT NOT NULL DEFAULT '[]',
            added INTEGER NOT NULL DEFAULT 0,
            removed INTEGER NOT NULL DEFAULT 0,
            gate TEXT,
            round INTEGER NOT NULL DEFAULT 1,
            parent_id TEXT,
            worktree TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            decided_by TEXT,
            reason TEXT,
            applied_commit TEXT
        )""",
        "CREATE INDEX patches_run ON patches (run_id, step_id)",
        "CREATE INDEX patches_state ON patches (state, created_at)",
        """CREATE TABLE gate_results (
            id INTEGER PRIMARY KEY,
            patch_id TEXT NOT NULL REFERENCES patches (id) ON DELETE CASCADE,
            gate TEXT NOT NULL,
            round INTEGER NOT NULL,
            idx INTEGER NOT NULL,
            command TEXT NOT NULL,
            outcome TEXT NOT NULL,
            exit_code INTEGER,
            duration REAL NOT NULL DEFAULT 0,
            output_tail TEXT NOT NULL DEFAULT '',
            ts REAL NOT NULL
        )""",
        "CREATE INDEX gate_results_patch ON gate_results (patch_id, round, idx)",
        """CREATE TABLE costs (
            run_id TEXT NOT NULL,
            step_id TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            tool TEXT NOT NULL,
            model TEXT,
            tokens_in INTEGER,
            tokens_out INTEGER,
            tokens_cached INTEGER,
            usd REAL,
            wall REAL NOT NULL DEFAULT 0,
            ts REAL NOT NULL,
            PRIMARY KEY (run_id, step_id, attempt)
        ) WITHOUT ROWID""",
        "ALTER TABLE attempts ADD COLUMN tokens_cached INTEGER",
    ):
        db.execute_sql(statement)


def _m0003_applied_diff(db: SqliteDatabase) -> None:
    # What `patch apply` really wrote (after a 3-way merge it differs from the proposal);
    # revert reverses this one.
    db.execute_sql("ALTER TABLE patches ADD COLUMN applied_diff TEXT")


def _m0004_costs_on_attempts(db: SqliteDatabase) -> None:
    # An attempt's row already held its tokens, dollars and model; the costs table repeated them
    # with the wall time, one more row per attempt. The wall time moves to the attempt and
    # costs becomes a view of attempts that really ran a tool (they have a duration).
    for statement in (
        "ALTER TABLE attempts ADD COLUMN duration REAL",
        # A row-value UPDATE (SQLite 3.15+) rather than UPDATE … FROM, which needs 3.33.
        """UPDATE attempts SET (duration, tokens_in, tokens_out, tokens_cached, usd, model) = (
            SELECT c.wall, COALESCE(attempts.tokens_in, c.tokens_in), COALESCE(attempts.tokens_out, c.tokens_out),
                   COALESCE(attempts.tokens_cached, c.tokens_cached), COALESCE(attempts.usd, c.usd),
                   COALESCE(attempts.model, c.model)
            FROM costs AS c
            WHERE c.run_id = attempts.run_id AND c.step_id = attempts.step_id AND c.attempt = attempts.number)
        WHERE EXISTS (SELECT 1 FROM costs AS c WHERE c.run_id = attempts.run_id
                      AND c.step_id = attempts.step_id AND c.attempt = attempts.number)""",
        "DROP TABLE costs",
        """CREATE VIEW costs AS
            SELECT run_id, step_id, number AS attempt, tool, model, tokens_in, tokens_out, tokens_cached, usd,
                   duration AS wall, ended_at AS ts
            FROM attempts WHERE duration IS NOT NULL""",
    ):
        db.execute_sql(statement)


def _m0005_attempt_output(db: SqliteDatabase) -> None:
    # What an attempt answered (an agent's final message): shown with the step and fed to the
    # prompts of the steps after it.
    db.execute_sql("ALTER TABLE attempts ADD COLUMN output TEXT")


def _m0006_review_rounds(db: SqliteDatabase) -> None:
    # Review rounds: a patch names the round that replaced it (superseded_by) and what kind of
    # round made it (round_kind: first, fix, revision or subset, see schemas.patch); parent_id
    # keeps naming the patch it came from. Reviewers' comments, drafts until submitted.
    for statement in (
        "ALTER TABLE patches ADD COLUMN superseded_by TEXT",
        "ALTER TABLE patches ADD COLUMN round_kind TEXT NOT NULL DEFAULT 'first'",
        "UPDATE patches SET round_kind = 'subset' WHERE parent_id IS NOT NULL",
        "UPDATE patches SET round_kind = 'fix' WHERE parent_id IS NULL AND round > 1",
        """CREATE TABLE patch_comments (
            id INTEGER PRIMARY KEY,
            patch_id TEXT NOT NULL REFERENCES patches (id) ON DELETE CASCADE,
            path TEXT,
            line INTEGER,
            hunk INTEGER,
            body TEXT NOT NULL,
            context TEXT NOT NULL DEFAULT '',
            by TEXT NOT NULL,
            created_at REAL NOT NULL,
            submitted_at REAL
        )""",
        "CREATE INDEX patch_comments_patch ON patch_comments (patch_id, id)",
    ):
        db.execute_sql(statement)


def _m0008_run_progress(db: SqliteDatabase) -> None:
    # One definition of a run's progress: a row counts its finished steps by state (done_steps
    # stays every finished step), the running ones, and says what the run waits on: a pause
    # asked while steps finish, or an open breaker with nothing executing. Old rows are counted
    # again from their steps (a run canceled with no engine kept the counts it had before).
    for statement in (
        "ALTER TABLE runs ADD COLUMN skipped_steps INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN canceled_steps INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN running_steps INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN pausing TEXT",
        "ALTER TABLE runs ADD COLUMN waiting_on TEXT",
        "ALTER TABLE runs ADD COLUMN waiting_until REAL",
        """UPDATE runs SET (done_steps, failed_steps, skipped_steps, canceled_steps, running_steps) = (
            SELECT COALESCE(SUM(state IN ('succeeded', 'failed', 'skipped', 'canceled')), 0),
                   COALESCE(SUM(state = 'failed'), 0), COALESCE(SUM(state = 'skipped'), 0),
                   COALESCE(SUM(state = 'canceled'), 0), COALESCE(SUM(state = 'running'), 0)
            FROM steps WHERE steps.run_id = runs.id)""",
    ):
        db.execute_sql(statement)


def _m0010_step_due(db: SqliteDatabase) -> None:
    # When a waiting step (a `delay` or `not_before`) may start, as epoch seconds: kept in the
    # store so an engine that recovers the run keeps the wait's end instead of starting it over.
    db.execute_sql("ALTER TABLE steps ADD COLUMN due_at REAL")


def _m0011_run_age(db: SqliteDatabase) -> None:
    # The dashboard counts, per state, the runs and the finished ones older than a week ("N older
    # hidden"); a run ended at its ended_at, else its started_at, else its created_at. Without an
    # index on that age the count read the whole table (about 65 ms at 100,000 runs, on every run
    # that comes or changes state); with it, two searches of the index (about 8 ms).
    db.execute_sql("CREATE INDEX runs_age ON runs (state, COALESCE(ended_at, started_at, created_at))")


def _m0012_breaker_events(db: SqliteDatabase) -> None:
    # The dashboard learns each open breaker's probe time from the newest breaker.state events;
    # they are few among millions, so a partial index holds only them (a write of any other
    # event never touches it).
    db.execute_sql("CREATE INDEX events_breaker ON events (seq) WHERE kind = 'breaker.state'")


def _m0007_lessons(db: SqliteDatabase) -> None:
    # Imported here: opening an up-to-date store (the dashboard's first frame) needs neither
    # module, nor the lesson and trigger models they bring.
    from store.lessons import migrate_lessons

    migrate_lessons(db)


def _m0009_triggers(db: SqliteDatabase) -> None:
    from store.triggers import migrate_triggers

    migrate_triggers(db)


def _m0013_tool_totals(db: SqliteDatabase) -> None:
    from store.tool_totals import migrate_tool_totals

    migrate_tool_totals(db)


def _m0014_patches_by_age(db: SqliteDatabase) -> None:
    # `uet patches`, the dashboard's patch list and the MCP tool read the newest patches of every
    # state: without an index on their age that read every patch, walking each diff's overflow
    # pages to reach created_at (0.18 s at 240,000 small patches; real diffs are far larger).
    db.execute_sql("CREATE INDEX patches_created ON patches (created_at)")


def _m0015_recent_history(db: SqliteDatabase) -> None:
    # The history screen draws the last two weeks of attempts and each workstream's last runs: it
    # read every attempt and every run to do so (2.8 s at a million attempts). Only attempts that
    # ended enter the first index, so an attempt's first write (running) does not touch it.
    db.execute_sql("CREATE INDEX attempts_ended ON attempts (ended_at) WHERE ended_at IS NOT NULL")
    db.execute_sql("CREATE INDEX runs_workstream ON runs (workstream, created_at)")


def _m0016_patches_by_decision(db: SqliteDatabase) -> None:
    # After every run the lessons' harvest asks which runs had a patch decided since it last
    # looked, and opening a patch reads its rounds down its children: without these indexes
    # each read every patch, walking each diff's overflow pages to reach updated_at or parent_id
    # (0.2 s to open a patch among 240,000 small ones; real diffs are far larger).
    db.execute_sql("CREATE INDEX patches_updated ON patches (updated_at)")
    db.execute_sql("CREATE INDEX patches_parent ON patches (parent_id) WHERE parent_id IS NOT NULL")


MIGRATIONS: list[tuple[int, str, Callable[[SqliteDatabase], None]]] = [
    (1, "core tables", _m0001_core),
    (2, "patch ledger, gate results, costs", _m0002_ledger),
    (3, "the diff a patch was applied as", _m0003_applied_diff),
    (4, "costs read from attempts", _m0004_costs_on_attempts),
    (5, "what each attempt answered", _m0005_attempt_output),
    (6, "review rounds: superseded patches, round kinds, comments", _m0006_review_rounds),
    (7, "lessons, with their full-text index", _m0007_lessons),
    (8, "run progress by step state, pausing and waiting", _m0008_run_progress),
    (9, "trigger fires, trigger state, the serve lease", _m0009_triggers),
    (10, "the due time of a waiting step", _m0010_step_due),
    (11, "runs by state and age", _m0011_run_age),
    (12, "breaker changes among the events", _m0012_breaker_events),
    (13, "what each tool achieved, kept as attempts finish", _m0013_tool_totals),
    (14, "patches by age", _m0014_patches_by_age),
    (15, "recent attempts and each workstream's runs", _m0015_recent_history),
    (16, "patches by when they were decided, and by the patch they came from", _m0016_patches_by_decision),
]
LATEST = MIGRATIONS[-1][0]


def current_version(db: SqliteDatabase) -> int:
    row = db.execute_sql("PRAGMA user_version").fetchone()
    return int(row[0])


def _refuse_under_a_live_engine(db: SqliteDatabase, version: int) -> None:
    """Raise ``StoreInUse`` when an engine is alive on a store at an older schema: it can only be
    an older uet's (a current one brings the store up to date when it opens it), and its writes
    would land in tables changed under it, or wait on the lock the update holds for seconds and
    give up. The caller's transaction holds the write lock from here on, so no engine starts
    writing between the look and the update."""
    engines = live_engines(db.connection())
    if not engines:
        return
    first = engines[0]
    where = "this host" if first.host == HOST else first.host
    what = f"pid {first.pid} on {where}" + (f", run {first.run}" if first.run else "")
    more = f" and {len(engines) - 1} more" if len(engines) > 1 else ""
    raise StoreInUse(
        f"this uet updates the store from schema {version} to {LATEST}, but an engine of the older uet is still "
        f"writing to it ({what}, heard from {first.seconds_since:.0f} s ago{more}); nothing was changed. Let it "
        "finish, or stop it (kill its pid: its run can be resumed once the store is updated), then run this again")


def migrate(db: SqliteDatabase) -> list[int]:
    """Bring the database to the latest schema; return the migrations applied. Updating an
    older store (not making a new one) is announced (``store.notice``), with its time."""
    applied: list[int] = []
    started = time.monotonic()
    upgraded = False
    with db.atomic("IMMEDIATE"):
        version = current_version(db)
        if version > LATEST:
            raise StoreError(
                f"the database is at schema version {version}, newer than this uet "
                f"understands ({LATEST}); upgrade uet"
            )
        upgraded = 0 < version < LATEST
        if upgraded:
            _refuse_under_a_live_engine(db, version)
            notice.say(f"updating the store {db.database} from schema {version} to {LATEST} (once, after an "
                       "upgrade; a store of a million attempts takes seconds)")
        for number, _name, step in MIGRATIONS:
            if number > version:
                step(db)
                applied.append(number)
        if applied:
            db.execute_sql(f"PRAGMA user_version = {LATEST}")
            db.execute_sql(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(LATEST),)
            )
    if upgraded:
        notice.say(f"store updated in {time.monotonic() - started:.1f} s")
    return applied
