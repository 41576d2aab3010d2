"""Lessons in the store: their table and full-text index (migration 7), the writes that keep
them, and the reads that find them.

The index is SQLite's own FTS5 (no server, no network), an external-content table over the
lessons' task, failure and files, kept in step by triggers. An SQLite built without FTS5 gets
the table alone; ``search`` then ranks candidates by LIKE matches, which is slower but finds
the same lessons for the words it is given.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from peewee import SqliteDatabase

from schemas.memory import Lesson
from store.codec import dumps
from store.errors import NoSuchRecord
from store.tables import database
from store.writer import Statement

#: Candidates a search hands to the scorer (``engine.memory.recall``), best FTS rank first.
SEARCH_CANDIDATES = 200


def fts5_available(db: SqliteDatabase) -> bool:
    """Whether this SQLite was built with FTS5 (Python's own usually is)."""
    try:
        db.execute_sql("CREATE VIRTUAL TABLE temp.uet_fts5_probe USING fts5(x)")
    except Exception:  # noqa: BLE001 - peewee wraps sqlite3's OperationalError: no such module
        return False
    db.execute_sql("DROP TABLE temp.uet_fts5_probe")
    return True


def migrate_lessons(db: SqliteDatabase) -> None:
    """Migration 7, frozen: the lessons table, and its FTS5 index where SQLite has FTS5."""
    for statement in (
        """CREATE TABLE lessons (
            id INTEGER PRIMARY KEY,
            created_at REAL NOT NULL,
            run_id TEXT NOT NULL,
            step_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            tool TEXT NOT NULL,
            task TEXT NOT NULL DEFAULT '',
            files TEXT NOT NULL DEFAULT '[]',
            failure_kind TEXT NOT NULL,
            failure TEXT NOT NULL,
            fix TEXT NOT NULL DEFAULT '',
            outcome TEXT NOT NULL,
            rounds INTEGER NOT NULL DEFAULT 1,
            source TEXT NOT NULL UNIQUE
        )""",
        "CREATE INDEX lessons_run ON lessons (run_id, step_id)",
    ):
        db.execute_sql(statement)
    if not fts5_available(db):
        return
    for statement in (
        "CREATE VIRTUAL TABLE lessons_fts USING fts5(task, failure, files, content='lessons', content_rowid='id')",
        """CREATE TRIGGER lessons_ai AFTER INSERT ON lessons BEGIN
            INSERT INTO lessons_fts (rowid, task, failure, files) VALUES (new.id, new.task, new.failure, new.files);
        END""",
        """CREATE TRIGGER lessons_ad AFTER DELETE ON lessons BEGIN
            INSERT INTO lessons_fts (lessons_fts, rowid, task, failure, files)
            VALUES ('delete', old.id, old.task, old.failure, old.files);
        END""",
        """CREATE TRIGGER lessons_au AFTER UPDATE ON lessons BEGIN
            INSERT INTO lessons_fts (lessons_fts, rowid, task, failure, files)
            VALUES ('delete', old.id, old.task, old.failure, old.files);
            INSERT INTO lessons_fts (rowid, task, failure, files) VALUES (new.id, new.task, new.failure, new.files);
        END""",
    ):
        db.execute_sql(statement)


# -- writes ------------------------------------------------------------------------------------

_UPSERT = (
    "INSERT INTO lessons (created_at, run_id, step_id, kind, tool, task, files, failure_kind, failure, fix, outcome, "
    "rounds, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (source) DO UPDATE SET fix = excluded.fix, outcome = excluded.outcome, rounds = excluded.rounds, "
    "files = excluded.files, failure = excluded.failure "
    "WHERE lessons.outcome != excluded.outcome OR lessons.fix != excluded.fix OR lessons.files != excluded.files "
    "OR lessons.failure != excluded.failure"
)


def upsert_lesson(ts: float, run_id: str, step_id: str, kind: str, tool: str, task: str, files: Sequence[str],
                  failure_kind: str, failure: str, fix: str, outcome: str, rounds: int, source: str) -> Statement:
    """A lesson, or the newer knowledge of one already kept under ``source`` (an unresolved
    failure that a later round fixed); an unchanged lesson is left as it is."""
    return (_UPSERT, (ts, run_id, step_id, kind, tool, task, dumps(list(files)), failure_kind, failure, fix, outcome,
                      rounds, source))


def delete_lesson(lesson_id: int) -> Statement:
    return ("DELETE FROM lessons WHERE id = ?", (lesson_id,))


def set_harvested_at(ts: float) -> Statement:
    return ("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (HARVESTED_AT, repr(ts)))


# -- reads -------------------------------------------------------------------------------------

HARVESTED_AT = "lessons.harvested_at"


@contextlib.contextmanager
def reading() -> Iterator[None]:
    """Reads from a thread that may hold no connection of its own (an attempt is prepared in a
    worker thread): a connection opened for them is closed afterwards, and another thread's is
    left alone."""
    opened = database.is_closed()
    try:
        yield
    finally:
        if opened:
            database.close()


def harvested_at() -> float | None:
    row = database.execute_sql("SELECT value FROM meta WHERE key = ?", (HARVESTED_AT,)).fetchone()
    return float(row[0]) if row else None



_COLUMNS = ("id, created_at, run_id, step_id, kind, tool, task, files, failure_kind, failure, fix, outcome, rounds, "
            "source")


def _lesson(row: Sequence[Any]) -> Lesson:
    names = [c.strip() for c in _COLUMNS.split(",")]
    values = dict(zip(names, row, strict=True))
    values["files"] = json.loads(values["files"] or "[]")
    return Lesson.model_validate(values)


def count_lessons() -> int:
    return int(database.execute_sql("SELECT COUNT(*) FROM lessons").fetchone()[0])


def list_lessons(limit: int = 50, run_id: str | None = None) -> list[Lesson]:
    """Newest first."""
    where, params = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
    rows = database.execute_sql(f"SELECT {_COLUMNS} FROM lessons {where} ORDER BY id DESC LIMIT ?",
                                (*params, limit)).fetchall()
    return [_lesson(row) for row in rows]


def get_lesson(lesson_id: int) -> Lesson:
    row = database.execute_sql(f"SELECT {_COLUMNS} FROM lessons WHERE id = ?", (lesson_id,)).fetchone()
    if row is None:
        raise NoSuchRecord(f"no lesson {lesson_id}; `uet memory list` shows them")
    return _lesson(row)


def kept_for_run(run_id: str) -> dict[str, tuple[str, str, str, str]]:
    """The run's lessons by source: (outcome, fix, files as stored, failure), to tell a harvest
    what is already known."""
    rows = database.execute_sql("SELECT source, outcome, fix, files, failure FROM lessons WHERE run_id = ?",
                                (run_id,)).fetchall()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def forgotten_sources(run_id: str) -> set[str]:
    """The sources of the run's lessons a person forgot (``memory.forgotten`` events): a harvest
    never brings them back."""
    rows = database.execute_sql("SELECT data FROM events WHERE run_id = ? AND kind = 'memory.forgotten'",
                                (run_id,)).fetchall()
    return {str(json.loads(r[0]).get("source")) for r in rows}


def has_fts() -> bool:
    row = database.execute_sql("SELECT 1 FROM sqlite_master WHERE name = 'lessons_fts'").fetchone()
    return row is not None


def search(words: Sequence[str], *, exclude_run: str | None = None,
           limit: int = SEARCH_CANDIDATES) -> list[tuple[Lesson, float]]:
    """Lessons holding any of ``words`` (plain words: letters and digits only, as
    ``engine.memory.recall.words`` makes them), with a rank (higher is better), best first.
    Without FTS5, a LIKE match per word counts the words found."""
    words = [w for w in dict.fromkeys(words) if w and w.isalnum()][:64]
    if not words:
        return []
    skip, skip_params = ("AND l.run_id != ?", [exclude_run]) if exclude_run else ("", [])
    if has_fts():
        query = " OR ".join(f'"{w}"' for w in words)
        rows = database.execute_sql(
            f"SELECT {', '.join('l.' + c.strip() for c in _COLUMNS.split(','))}, bm25(lessons_fts) "
            f"FROM lessons_fts JOIN lessons AS l ON l.id = lessons_fts.rowid "
            f"WHERE lessons_fts MATCH ? {skip} ORDER BY bm25(lessons_fts) LIMIT ?",
            (query, *skip_params, limit)).fetchall()
        return [(_lesson(row[:-1]), -float(row[-1])) for row in rows]
    hits = " + ".join("((l.task || ' ' || l.failure || ' ' || l.files) LIKE ? ESCAPE '\\')" for _ in words)
    patterns = [f"%{w}%" for w in words]
    rows = database.execute_sql(
        f"SELECT {', '.join('l.' + c.strip() for c in _COLUMNS.split(','))}, ({hits}) AS found FROM lessons AS l "
        f"WHERE found > 0 {skip} ORDER BY found DESC, l.id DESC LIMIT ?",
        (*patterns, *skip_params, limit)).fetchall()
    return [(_lesson(row[:-1]), float(row[-1])) for row in rows]


def lessons_touching(paths: Iterable[str], *, exclude_run: str | None = None, limit: int = SEARCH_CANDIDATES) -> list[Lesson]:
    """Lessons whose files name one of ``paths`` exactly (what a word search can miss: a file
    called ``a.py`` has no word worth searching)."""
    found: dict[int, Lesson] = {}
    for path in list(dict.fromkeys(paths))[:50]:
        rows = database.execute_sql(
            f"SELECT {_COLUMNS} FROM lessons WHERE files LIKE ? ESCAPE '\\' "
            + ("AND run_id != ? " if exclude_run else "") + "ORDER BY id DESC LIMIT ?",
            (f'%{_like(dumps(path))}%', *([exclude_run] if exclude_run else []), limit)).fetchall()
        for row in rows:
            lesson = _lesson(row)
            found.setdefault(lesson.id, lesson)
    return list(found.values())[:limit]


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- what a harvest reads ----------------------------------------------------------------------


def run_attempts(run_id: str) -> list[tuple[str, int, str, str, str | None, str | None, str | None]]:
    """(step, number, tool, state, error, output, log path) of every attempt of the run's steps
    that have a failed attempt or a patch, in order: a run that went well costs one scan of its
    attempts' states, however many steps it had."""
    return [tuple(r) for r in database.execute_sql(  # type: ignore[misc]
        "SELECT step_id, number, tool, state, error, output, log_path FROM attempts WHERE run_id = ? "
        "AND step_id IN (SELECT step_id FROM attempts WHERE run_id = ? AND state IN ('failed', 'timed_out', 'crashed') "
        "UNION SELECT step_id FROM patches WHERE run_id = ?) ORDER BY step_id, number",
        (run_id, run_id, run_id)).fetchall()]


def run_steps(run_id: str, step_ids: Iterable[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(step, kind, spec) of the run's steps named, in plan order."""
    ids = list(dict.fromkeys(step_ids))
    found = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        found += database.execute_sql(
            f"SELECT id, kind, spec, idx FROM steps WHERE run_id = ? AND id IN ({', '.join('?' * len(chunk))})",
            (run_id, *chunk)).fetchall()
    return [(r[0], r[1], json.loads(r[2] or "{}")) for r in sorted(found, key=lambda r: r[3])]


def _columns(table: str) -> set[str]:
    return {str(r[1]) for r in database.execute_sql(f"PRAGMA table_info({table})").fetchall()}


def run_patches(run_id: str) -> list[dict[str, Any]]:
    """The run's patches, oldest first, with the fields a harvest needs (``superseded_by`` and
    ``round_kind`` where the store has them)."""
    have = _columns("patches")
    extra = [c for c in ("superseded_by", "round_kind") if c in have]
    names = ["id", "step_id", "attempt", "state", "round", "parent_id", "diff", "files", "gate", *extra]
    rows = database.execute_sql(f"SELECT {', '.join(names)} FROM patches WHERE run_id = ? ORDER BY created_at, rowid",
                                (run_id,)).fetchall()
    out = []
    for row in rows:
        item = dict(zip(names, row, strict=True))
        item["files"] = [f.get("path", "") if isinstance(f, dict) else str(f) for f in json.loads(item["files"] or "[]")]
        out.append(item)
    return out


def failed_gates(patch_ids: Sequence[str]) -> dict[str, list[tuple[int, str, int | None, str]]]:
    """Per patch, its failed gate commands: (round, command, exit code, output tail)."""
    found: dict[str, list[tuple[int, str, int | None, str]]] = {}
    for start in range(0, len(patch_ids), 500):
        chunk = list(patch_ids[start:start + 500])
        marks = ", ".join("?" * len(chunk))
        for row in database.execute_sql(
                f"SELECT patch_id, round, command, exit_code, output_tail FROM gate_results WHERE patch_id IN ({marks}) "
                "AND outcome != 'succeeded' ORDER BY patch_id, round, idx", chunk).fetchall():
            found.setdefault(row[0], []).append((row[1], row[2], row[3], row[4]))
    return found


def submitted_comments(patch_ids: Sequence[str]) -> dict[str, list[tuple[str | None, int | None, str]]]:
    """Per patch, its submitted review comments: (path, line, body); none while the store has no
    comments table (the review rounds' migration)."""
    if not patch_ids or "body" not in _columns("patch_comments"):
        return {}
    found: dict[str, list[tuple[str | None, int | None, str]]] = {}
    for start in range(0, len(patch_ids), 500):
        chunk = list(patch_ids[start:start + 500])
        marks = ", ".join("?" * len(chunk))
        for row in database.execute_sql(
                f"SELECT patch_id, path, line, body FROM patch_comments WHERE patch_id IN ({marks}) "
                "AND submitted_at IS NOT NULL ORDER BY patch_id, id", chunk).fetchall():
            found.setdefault(row[0], []).append((row[1], row[2], row[3]))
    return found


def runs_changed_since(ts: float, limit: int = 50) -> list[str]:
    """Ended runs whose patches were decided after ``ts`` (an approval or a request for changes
    made after the run ended), newest first."""
    return [r[0] for r in database.execute_sql(
        "SELECT DISTINCT p.run_id FROM patches AS p JOIN runs AS r ON r.id = p.run_id "
        "WHERE p.updated_at > ? AND r.ended_at IS NOT NULL ORDER BY p.updated_at DESC LIMIT ?", (ts, limit)).fetchall()]
