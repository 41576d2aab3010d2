"""Stores with fixed contents for the dashboard's tests, snapshots and benchmark.

The schema comes from the real store (``Store`` migrates the file); the rows are written
directly so that ids, times and states are the same on every run, which snapshots need.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from engine.workers import HOST
from store import Store

NOW = 1_780_000_000.0  # the frozen clock of every snapshot

QUALITY = [
    # id, needs, state, tool, attempts, exit, started (s before NOW), took
    ("lint", [], "succeeded", "ruff", 1, 0, 300, 4.2),
    ("typecheck", [], "succeeded", "mypy", 1, 0, 300, 21.0),
    ("fix", ["lint"], "succeeded", "sim", 2, 0, 290, 40.0),
    ("test-unit", ["fix", "typecheck"], "running", "pytest", 1, None, 60, None),
    ("test-integration", ["fix", "typecheck"], "retrying", "pytest", 2, 1, 50, None),
    ("docs", ["lint"], "failed", "mkdocs", 3, 2, 200, 3.0),
    ("review", ["test-unit", "test-integration"], "pending", None, 0, None, None, None),
    ("report", ["review", "docs"], "pending", None, 0, None, None, None),
]

FINISHED = [
    ("5b01c4e2a7d3", "quality", "succeeded", 5, 5, 0, 3600, 95.0),
    ("77f0b9d21c08", "docs-site", "failed", 4, 3, 1, 7200, 41.0),
    ("a3c9e0f47b12", "infra-plan", "canceled", 6, 2, 0, 9000, 12.0),
    ("c4d2aa019f3e", "nightly", "paused", 12, 7, 0, 10_800, 300.0),
]

LIVE_RUN = "3f2a9c81d0e4"
LIVE_WORKER = "0e1d2c3b4a5f60718293a4b5c6d7e8f9"


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _run(conn: sqlite3.Connection, run_id: str, workstream: str, state: str, total: int, done: int, failed: int,
         created: float, started: float | None, ended: float | None, reason: str | None = None) -> None:
    conn.execute(
        "INSERT INTO runs (id, workstream, source, root, state, created_at, started_at, ended_at, total_steps, "
        "done_steps, failed_steps, max_parallel, spec, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 4, '{}', ?)",
        (run_id, workstream, f"{workstream}.yaml", "/project", state, created, started, ended, total, done, failed,
         reason),
    )


def _step(conn: sqlite3.Connection, run_id: str, index: int, step_id: str, needs: list[str], state: str,
          tool: str | None, attempts: int, exit_code: int | None, started: float | None, ended: float | None) -> None:
    conn.execute(
        "INSERT INTO steps (run_id, id, idx, kind, state, tool, needs, attempts, exit_code, started_at, ended_at, "
        "spec) VALUES (?, ?, ?, 'command', ?, ?, ?, ?, ?, ?, ?, '{}')",
        (run_id, step_id, index, state, tool, _dumps(needs), attempts, exit_code, started, ended),
    )


def _event(conn: sqlite3.Connection, ts: float, kind: str, run_id: str | None, step_id: str | None,
           data: dict) -> None:
    conn.execute("INSERT INTO events (ts, run_id, step_id, kind, data) VALUES (?, ?, ?, ?, ?)",
                 (ts, run_id, step_id, kind, _dumps(data)))


def small(db: Path) -> Path:
    """One running run of eight steps, four finished runs, three breakers, costs and events."""
    Store(db).close()
    with sqlite3.connect(db) as conn:
        for n, (run_id, name, state, total, done, failed, ago, took) in enumerate(FINISHED):
            created = NOW - ago
            _run(conn, run_id, name, state, total, done, failed, created, created + 1, created + 1 + took,
                 "1 step(s) failed: build" if state == "failed" else None)
            for i in range(total):
                step_state = "succeeded" if i < done - failed else ("failed" if i < done else "pending")
                _step(conn, run_id, i, f"step-{i + 1}", [f"step-{i}"] if i else [], step_state, "sh",
                      1 if i < done else 0, 0 if step_state == "succeeded" else None, created + 1 + i,
                      created + 2 + i if i < done else None)
            conn.execute("INSERT INTO attempts (run_id, step_id, number, tool, state, started_at, ended_at, exit_code, "
                         "model, tokens_in, tokens_out, usd, duration) "
                         "VALUES (?, 'step-1', 1, 'sim', 'succeeded', ?, ?, 0, 'sim-1', 1000, 200, ?, 1.0)",
                         (run_id, created + 1, created + 2, 0.05 * (n + 1)))
        done = sum(1 for s in QUALITY if s[2] in ("succeeded", "failed"))
        _run(conn, LIVE_RUN, "quality", "running", len(QUALITY), done, 1, NOW - 310, NOW - 300, None)
        # Its engine is this process, heartbeating a second before the frozen clock: live on the
        # dashboard (which judges by that clock), long stale for the wall clock's steering.
        conn.execute("INSERT INTO workers (id, pid, host, state, started_at, heartbeat_at) VALUES (?, ?, ?, 'busy', ?, ?)",
                     (LIVE_WORKER, os.getpid(), HOST, NOW - 300, NOW - 1))
        conn.execute("UPDATE runs SET worker_id = ? WHERE id = ?", (LIVE_WORKER, LIVE_RUN))
        for i, (step_id, needs, state, tool, attempts, exit_code, ago, took) in enumerate(QUALITY):
            started = None if ago is None else NOW - ago
            ended = None if took is None or started is None else started + took
            _step(conn, LIVE_RUN, i, step_id, needs, state, tool, attempts, exit_code, started, ended)
            for number in range(1, attempts + 1):
                final = number == attempts
                attempt_state = state if final and state in ("succeeded", "failed", "running") else (
                    "running" if final else "failed")
                conn.execute(
                    "INSERT INTO attempts (run_id, step_id, number, tool, state, started_at, ended_at, exit_code) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (LIVE_RUN, step_id, number, tool or "-", attempt_state, (started or NOW) + number,
                     None if attempt_state == "running" else (started or NOW) + number + 1,
                     None if attempt_state == "running" else (0 if attempt_state == "succeeded" else 1)),
                )
        conn.execute("UPDATE attempts SET model = 'sim-1', tokens_in = 12000, tokens_out = 3400, usd = 0.42, "
                     "duration = 40.0 WHERE run_id = ? AND step_id = 'fix' AND number = 2", (LIVE_RUN,))
        for tool, state, window, opened in (("sim-flaky", "open", [1, 1, 1, 0], NOW - 10),
                                            ("pytest", "half_open", [0, 1, 1], NOW - 40),
                                            ("ruff", "closed", [0, 0, 0, 0, 0], None)):
            conn.execute("INSERT INTO breakers (tool, state, consecutive_failures, window, opened_at, updated_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (tool, state, sum(window), _dumps(window), opened, NOW - 5))
        ts = NOW - 300
        _event(conn, ts, "run.state", LIVE_RUN, None, {"from": "pending", "to": "running"})
        for step_id, _needs, state, tool, attempts, _exit, ago, _took in QUALITY:
            if ago is None:
                continue
            _event(conn, NOW - ago, "step.state", LIVE_RUN, step_id,
                   {"from": "ready", "to": "running", "attempt": 1, "tool": tool})
            if state in ("succeeded", "failed"):
                _event(conn, NOW - ago + 5, "step.state", LIVE_RUN, step_id,
                       {"from": "running", "to": state, "attempt": attempts, "duration": 5.0})
        _event(conn, NOW - 10, "breaker.state", None, None,
               {"tool": "sim-flaky", "from": "closed", "to": "open", "reason": "3 failures in a row",
                "next_probe_at": NOW + 20})
    return db


def own(db: Path, run_id: str, worker_id: str = "w-dashboard-test") -> Callable[[], None]:
    """Make the calling process the live engine of ``run_id``: a busy worker row with its pid
    and host owns the run, so steering from a face goes through the commands table instead of
    starting a background engine. Returns ``beat``, which renews the heartbeat as an engine
    does; call it before each request so no slow moment makes the engine look lost."""
    from engine.workers import HOST

    now = time.time()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO workers (id, pid, host, state, started_at, heartbeat_at) VALUES (?, ?, ?, 'busy', ?, ?)",
                     (worker_id, os.getpid(), HOST, now, now))
        conn.execute("UPDATE runs SET worker_id = ? WHERE id = ?", (worker_id, run_id))

    def beat() -> None:
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE workers SET heartbeat_at = ? WHERE id = ?", (time.time(), worker_id))

    return beat


def commands(db: Path, run_id: str) -> list[tuple[str, dict, str | None]]:
    """The commands asked of ``run_id``, oldest first: kind, arguments, who asked."""
    with sqlite3.connect(db) as conn:
        return [(kind, json.loads(args), by) for kind, args, by in conn.execute(
            "SELECT kind, args, created_by FROM commands WHERE run_id = ? ORDER BY id", (run_id,))]


def big(db: Path, *, runs: int = 1_000, steps: int = 10_000, events: int = 100_000, width: int = 100,
        seed: int = 7) -> str:
    """``runs`` finished runs, one running run of ``steps`` steps in layers of ``width`` (each
    step needs two of the layer before), and ``events`` events in all. Returns the big run's id."""
    rng = random.Random(seed)
    Store(db).close()
    big_id = "b1g0000000aa"
    with sqlite3.connect(db) as conn:
        for n in range(runs - 1):
            created = NOW - 86_400 + n * 60
            _run(conn, f"r{n:011d}", f"workstream-{n % 17}", "succeeded" if n % 9 else "failed", 3, 3, 0 if n % 9 else 1,
                 created, created + 1, created + 30)
            for i in range(3):
                _step(conn, f"r{n:011d}", i, f"s{i}", [f"s{i - 1}"] if i else [], "succeeded", "sh", 1, 0,
                      created + 1 + i, created + 2 + i)
        layers = max(1, steps // width)
        done = 0
        rows = []
        for i in range(steps):
            layer, column = divmod(i, width)
            needs = [] if layer == 0 else sorted({f"n{(layer - 1) * width + rng.randrange(width)}" for _ in range(2)})
            if layer < layers // 2:
                state = "succeeded"
            elif layer == layers // 2:
                state = ("running", "succeeded", "failed", "retrying")[column % 4]
            else:
                state = "pending"
            done += state in ("succeeded", "failed")
            rows.append((big_id, f"n{i}", i, state, "sh", _dumps(needs), 1 if state != "pending" else 0))
        # Created before the other runs: the dashboard opens on the newest, and the benchmark opens this one.
        _run(conn, big_id, "big-graph", "running", steps, done, 0, NOW - 90_000, NOW - 590, None)
        conn.executemany("INSERT INTO steps (run_id, id, idx, kind, state, tool, needs, attempts, spec) "
                         "VALUES (?, ?, ?, 'command', ?, ?, ?, ?, '{}')", rows)
        have = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        batch = []
        for k in range(max(0, events - have)):
            sid = f"n{k % steps}"
            batch.append((NOW - 590 + k * 0.005, big_id, sid, "step.state",
                          _dumps({"from": "ready", "to": "running", "attempt": 1, "tool": "sh"})))
            if len(batch) >= 10_000:
                conn.executemany("INSERT INTO events (ts, run_id, step_id, kind, data) VALUES (?, ?, ?, ?, ?)", batch)
                batch.clear()
        conn.executemany("INSERT INTO events (ts, run_id, step_id, kind, data) VALUES (?, ?, ?, ?, ?)", batch)
    return big_id


PATCH_DIFF = "\n".join([
    'diff --git a/src/calc.py b/src/calc.py',
    'index 3b18e51..a1f0c2d 100644',
    '--- a/src/calc.py',
    '+++ b/src/calc.py',
    '@@ -1,6 +1,5 @@',
    ' import os',
    '-import sys',
    ' ',
    ' ',
    ' def add(a, b):',
    '     return a + b',
    '@@ -10,5 +9,7 @@ def sub(a, b):',
    ' ',
    ' ',
    ' def mul(a, b):',
    '-    return a * b',
    '+    if not a or not b:',
    '+        return 0',
    '+    return a * b',
    ' ',
    'diff --git a/README.md b/README.md',
    'index 1111111..2222222 100644',
    '--- a/README.md',
    '+++ b/README.md',
    '@@ -1,3 +1,3 @@',
    ' # calc',
    '-Adds numbers.',
    '+Adds and multiplies numbers.',
    ' ',
    '',
])

PATCHES = [
    # id, step, state, gate, added, removed, files, ago, by, reason
    ("p1a2b3c4d5", "fix", "gate_passed", "tests", 4, 3, ["src/calc.py", "README.md"], 120, "uet", None),
    ("p6e7f8a9b0", "fix", "gate_failed", "tests", 1, 1, ["src/calc.py"], 900, "uet",
     "The gate 'tests' failed: `pytest -q` exited 1."),
    ("p0c1d2e3f4", "docs", "applied", None, 2, 0, ["docs/index.md"], 4_000, "alice", "applied"),
    ("p5a6b7c8d9", "fix", "rejected", "tests", 3, 3, ["src/calc.py"], 7_000, "bob", "not needed"),
]


def patches(db: Path) -> Path:
    """The small store plus four patches in different states, one with two files and three
    hunks and a gate that passed, one whose gate failed with its output."""
    small(db)
    with sqlite3.connect(db) as conn:
        for patch_id, step, state, gate, added, removed, files, ago, by, reason in PATCHES:
            entries = [{"path": f, "old_path": None, "status": "modified", "added": added, "removed": removed,
                        "binary": False} for f in files]
            conn.execute(
                "INSERT INTO patches (id, run_id, step_id, attempt, state, base_commit, diff, sha256, files, added, "
                "removed, gate, round, parent_id, worktree, created_at, updated_at, decided_by, reason) "
                "VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, 1, NULL, NULL, ?, ?, ?, ?)",
                (patch_id, LIVE_RUN, step, state, "0" * 40, PATCH_DIFF, "0" * 64, _dumps(entries), added, removed,
                 gate, NOW - ago, NOW - ago + 5, by, reason),
            )
        for patch_id, outcome, code, tail in (
                ("p1a2b3c4d5", "succeeded", 0, "....                                    [100%]\n4 passed in 0.12s\n"),
                ("p6e7f8a9b0", "failed", 1, "E       assert 5 == 6\nFAILED test_calc.py::test_add\n"
                                              "1 failed in 0.10s\n")):
            conn.execute(
                "INSERT INTO gate_results (patch_id, gate, round, idx, command, outcome, exit_code, duration, "
                "output_tail, ts) VALUES (?, 'tests', 1, 0, ?, ?, ?, 1.25, ?, ?)",
                (patch_id, _dumps(["pytest", "-q"]), outcome, code, tail, NOW - 100),
            )
    return db
