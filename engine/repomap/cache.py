"""The repository map's cache: each file's tags, kept by the hash of its content, in one SQLite
file (``<project>/.uet/cache/repomap/tags.v1.sqlite``).

A file is looked up by its path, size and modification time first (a stat, nothing read), then
by the hash of its content: a scratch copy of the project has every file with a new time but
the same content, and finds its tags without parsing. A file that could not be mapped is kept
too, with the reason, so a warm map parses nothing at all.

Finished maps are kept too, under a key made of every file's path and content hash, the focus
and the budget: a map asked again of unchanged files reads nothing but the file list, the stats
and one row.

Bounded: the paths of the ``MAX_ROOTS`` roots mapped last are kept, the tags no kept path has
(an old version of an edited file) are dropped at each write, and the ``MAX_RESULTS`` maps used
last are kept. Safe when two processes map at once: SQLite's WAL and busy timeout order the
writers, and each write is one transaction. A cache that cannot be opened or written (a
read-only project, a corrupt file) turns itself off and says why; the map is made without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from engine.repomap.parse import Definition, FileTags

FILE_NAME = "tags.v1.sqlite"
#: Changes whenever what a file's tags hold changes (queries, parse rules): older rows are stale.
TAGS_VERSION = "1"
MAX_ROOTS = 8
#: Finished maps kept (keyed by every file's content, the focus and the budget).
MAX_RESULTS = 64
BUSY_TIMEOUT_S = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (root TEXT PRIMARY KEY, used REAL NOT NULL);
CREATE TABLE IF NOT EXISTS files (root TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,
                                  mtime_ns INTEGER NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (root, path));
CREATE INDEX IF NOT EXISTS files_hash ON files (hash);
CREATE TABLE IF NOT EXISTS tags (hash TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, data TEXT NOT NULL, used REAL NOT NULL);
"""


def content_hash(data: bytes, language: str) -> str:
    """The key of a file's tags: its content and the language it is read as."""
    return hashlib.blake2b(data, digest_size=16, person=language.encode()[:16]).hexdigest()


Entry = FileTags | str  # the tags, or why the file was skipped


def encode(entry: Entry) -> str:
    if isinstance(entry, str):
        return json.dumps({"skip": entry})
    return json.dumps({"l": entry.language, "r": entry.references,
                       "d": [[d.name, d.kind, d.line, d.indent, d.signature] for d in entry.definitions]},
                      separators=(",", ":"), ensure_ascii=False)


def decode(text: str) -> Entry:
    data = json.loads(text)
    if "skip" in data:
        return str(data["skip"])
    return FileTags(data["l"], tuple(Definition(*item) for item in data["d"]), data["r"])


class TagCache:
    """Open with a folder, or None for no cache. ``problem`` says why it is off, if it is."""

    def __init__(self, folder: Path | str | None) -> None:
        self.problem: str | None = None
        self._db: sqlite3.Connection | None = None
        if folder is None:
            return
        try:
            os.makedirs(folder, exist_ok=True)
            ignore = os.path.join(folder, ".gitignore")
            if not os.path.exists(ignore):  # the cache is this machine's: git never shows it
                with open(ignore, "w", encoding="utf-8") as handle:
                    handle.write("# the repository map's cache, written by uet\n*\n")
            db = sqlite3.connect(os.path.join(folder, FILE_NAME), timeout=BUSY_TIMEOUT_S, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key = 'tags_version'").fetchone()
            if row is None or row[0] != TAGS_VERSION:
                with db:
                    db.execute("BEGIN IMMEDIATE")
                    db.execute("DELETE FROM files")
                    db.execute("DELETE FROM tags")
                    db.execute("DELETE FROM results")
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('tags_version', ?)", (TAGS_VERSION,))
            self._db = db
        except (OSError, sqlite3.Error) as exc:
            self._off(exc)

    @property
    def on(self) -> bool:
        return self._db is not None

    def _off(self, exc: BaseException) -> None:
        self.problem = f"cache off: {exc}"
        if self._db is not None:
            self._db.close()
        self._db = None

    def known(self, root: str) -> dict[str, tuple[int, int, str]]:
        """Every path of ``root`` the cache holds: (size, mtime_ns, hash)."""
        if self._db is None:
            return {}
        try:
            rows = self._db.execute("SELECT path, size, mtime_ns, hash FROM files WHERE root = ?", (root,)).fetchall()
        except sqlite3.Error as exc:
            self._off(exc)
            return {}
        return {path: (size, mtime, digest) for path, size, mtime, digest in rows}

    def result(self, key: str) -> dict[str, Any] | None:
        """A finished map kept under ``key``, or None."""
        if self._db is None:
            return None
        try:
            row = self._db.execute("SELECT data FROM results WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            found: dict[str, Any] = json.loads(row[0])
            self._db.execute("UPDATE results SET used = ? WHERE key = ?", (time.time(), key))
        except (sqlite3.Error, ValueError) as exc:
            self._off(exc)
            return None
        return found

    def save_result(self, key: str, data: dict[str, Any]) -> None:
        if self._db is None:
            return
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?)",
                                 (key, json.dumps(data, separators=(",", ":"), ensure_ascii=False), time.time()))
                self._db.execute("DELETE FROM results WHERE key IN (SELECT key FROM results ORDER BY used DESC "
                                 "LIMIT -1 OFFSET ?)", (MAX_RESULTS,))
        except sqlite3.Error as exc:
            self._off(exc)

    def by_hash(self, digests: list[str]) -> dict[str, str]:
        """The encoded tags of those content hashes the cache holds (from any root)."""
        if self._db is None or not digests:
            return {}
        found: dict[str, str] = {}
        try:
            for start in range(0, len(digests), 500):
                chunk = digests[start:start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(self._db.execute(f"SELECT hash, data FROM tags WHERE hash IN ({marks})", chunk))
        except sqlite3.Error as exc:
            self._off(exc)
            return {}
        return found

    def save(self, root: str, files: list[tuple[str, int, int, str]], tags: dict[str, str]) -> None:
        """Record every path of ``root`` (path, size, mtime_ns, hash), forgetting the others, and
        the new tags by hash, in one transaction."""
        if self._db is None:
            return
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT OR IGNORE INTO tags VALUES (?, ?)", tags.items())
                self._db.execute("DELETE FROM files WHERE root = ?", (root,))
                self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
                                     [(root, *row) for row in files])
                self._db.execute("INSERT OR REPLACE INTO roots VALUES (?, ?)", (root, time.time()))
                self._prune()
        except sqlite3.Error as exc:
            self._off(exc)

    def _prune(self) -> None:
        assert self._db is not None
        old = [row[0] for row in self._db.execute("SELECT root FROM roots ORDER BY used DESC LIMIT -1 OFFSET ?",
                                                  (MAX_ROOTS,))]
        self._db.executemany("DELETE FROM files WHERE root = ?", [(root,) for root in old])
        self._db.executemany("DELETE FROM roots WHERE root = ?", [(root,) for root in old])
        self._db.execute("DELETE FROM tags WHERE hash NOT IN (SELECT hash FROM files)")  # no path has them

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> TagCache:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
