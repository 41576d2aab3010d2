"""Stores with fixed contents for the dashboard's tests, snapshots and benchmark.

The schema comes from the real store (``Store`` migrates the file); the rows are written
directly so that ids, times and states are the same on every run, which snapshots need.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.workers import HOST
from store import Store
from store.ops import RECOUNT_SQL

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
    # id, workstream, state, the states of its chain of steps, created (s before NOW), took
    ("5b01c4e2a7d3", "quality", "succeeded", ["succeeded"] * 5, 3600, 95.0),
    # step-3 failed, so step-4, which needs it, was skipped.
    ("77f0b9d21c08", "docs-site", "failed", ["succeeded", "succeeded", "failed", "skipped"], 7200, 41.0),
    # Canceled while step-3 ran: it and the steps after it were canceled.
    ("a3c9e0f47b12", "infra-plan", "canceled", ["succeeded"] * 2 + ["canceled"] * 4, 9000, 12.0),
    ("c4d2aa019f3e", "nightly", "paused", ["succeeded"] * 7 + ["pending"] * 5, 10_800, 300.0),
]
FINISHED_STEP_SECONDS = 1.0
"""Each step of a finished run ran this long, one after the other, from a second after the run started."""

LIVE_RUN = "3f2a9c81d0e4"
LIVE_WORKER = "0e1d2c3b4a5f60718293a4b5c6d7e8f9"


def empty(project: Path) -> Path:
    """The store of ``project`` made by the real store, with no row yet: its path."""
    path = project / ".uet" / "uet.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    Store(path).close()
    return path


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


UNFINISHED_ATTEMPT_SECONDS = 4.0
"""So test-integration's second attempt ended 42 s before NOW: the run's last event."""


@dataclass(frozen=True)
class FixedAttempt:
    number: int
    state: str
    started: float
    ended: float | None
    exit_code: int | None


def live_attempts(step_id: str) -> list[FixedAttempt]:
    """The attempts of one step of the live run, consistent with its QUALITY row: they share
    the step's time one after the other, every one but the last failed with exit 1, and the
    last ends as the step did (its exit code, its end). A step still retrying has used all its
    attempts so far and waits for the next; a running step's last attempt is still running.
    Attempts of unfinished steps took UNFINISHED_ATTEMPT_SECONDS each."""
    step_id, _needs, state, _tool, attempts, exit_code, ago, took = next(s for s in QUALITY if s[0] == step_id)
    if ago is None:
        return []
    started = NOW - ago
    each = took / attempts if took is not None else UNFINISHED_ATTEMPT_SECONDS
    found = []
    for number in range(1, attempts + 1):
        begin = started + (number - 1) * each
        last = number == attempts
        if last and state == "running":
            found.append(FixedAttempt(number, "running", begin, None, None))
        elif last and state in ("succeeded", "failed"):
            found.append(FixedAttempt(number, state, begin, started + took, exit_code))
        else:
            found.append(FixedAttempt(number, "failed", begin, begin + each, 1))
    return found


def small(db: Path) -> Path:
    """One running run of eight steps, four finished runs, three breakers, costs and events."""
    Store(db).close()
    with sqlite3.connect(db) as conn:
        for n, (run_id, name, state, step_states, ago, took) in enumerate(FINISHED):
            created = NOW - ago
            done = sum(1 for s in step_states if s in ("succeeded", "failed", "skipped", "canceled"))
            failed = [f"step-{i + 1}" for i, s in enumerate(step_states) if s == "failed"]
            _run(conn, run_id, name, state, len(step_states), done, len(failed), created, created + 1,
                 created + 1 + took, f"{len(failed)} step(s) failed: {', '.join(failed)}" if failed else None)
            for i, step_state in enumerate(step_states):
                # Steps that ran: every succeeded or failed one, and the one a cancel stopped.
                ran = step_state in ("succeeded", "failed") or (step_state == "canceled" and step_states[i - 1] != "canceled")
                started = created + 1 + i * FINISHED_STEP_SECONDS
                ended = started + FINISHED_STEP_SECONDS
                exit_code = {"succeeded": 0, "failed": 1}.get(step_state)
                tool = "sim" if i == 0 else "sh"
                _step(conn, run_id, i, f"step-{i + 1}", [f"step-{i}"] if i else [], step_state, tool, int(ran),
                      exit_code, started if ran else None, ended if ran else None)
                if ran:
                    conn.execute(
                        "INSERT INTO attempts (run_id, step_id, number, tool, state, started_at, ended_at, exit_code, "
                        "duration) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)",
                        (run_id, f"step-{i + 1}", tool, step_state, started, ended, exit_code, FINISHED_STEP_SECONDS))
            conn.execute("UPDATE attempts SET model = 'sim-1', tokens_in = 1000, tokens_out = 200, usd = ? "
                         "WHERE run_id = ? AND step_id = 'step-1'", (0.05 * (n + 1), run_id))
        done = sum(1 for s in QUALITY if s[2] in ("succeeded", "failed"))
        _run(conn, LIVE_RUN, "quality", "running", len(QUALITY), done, 1, NOW - 310, NOW - 300, None)
        # Its engine is this process, heartbeating a second before the frozen clock: live on the
        # dashboard (which judges by that clock), long stale for the wall clock's steering.
        conn.execute("INSERT INTO workers (id, pid, host, state, started_at, heartbeat_at) VALUES (?, ?, ?, 'busy', ?, ?)",
                     (LIVE_WORKER, os.getpid(), HOST, NOW - 300, NOW - 1))
        conn.execute("UPDATE runs SET worker_id = ? WHERE id = ?", (LIVE_WORKER, LIVE_RUN))
        events: list[tuple[float, str, str | None, str | None, dict]] = [
            (NOW - 300, "run.state", LIVE_RUN, None, {"from": "pending", "to": "running"})]
        for i, (step_id, needs, state, tool, attempts, exit_code, ago, took) in enumerate(QUALITY):
            started = None if ago is None else NOW - ago
            ended = None if took is None or started is None else started + took
            _step(conn, LIVE_RUN, i, step_id, needs, state, tool, attempts, exit_code, started, ended)
            for attempt in live_attempts(step_id):
                conn.execute(
                    "INSERT INTO attempts (run_id, step_id, number, tool, state, started_at, ended_at, exit_code, "
                    "duration) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (LIVE_RUN, step_id, attempt.number, tool, attempt.state, attempt.started, attempt.ended,
                     attempt.exit_code, None if attempt.ended is None else attempt.ended - attempt.started))
                before = "ready" if attempt.number == 1 else "retrying"
                events.append((attempt.started, "step.state", LIVE_RUN, step_id,
                               {"from": before, "to": "running", "attempt": attempt.number, "tool": tool}))
                if attempt.ended is not None:
                    after = state if attempt.number == attempts and state != "retrying" else "retrying"
                    events.append((attempt.ended, "step.state", LIVE_RUN, step_id,
                                   {"from": "running", "to": after, "attempt": attempt.number,
                                    "duration": attempt.ended - attempt.started, "exit_code": attempt.exit_code}))
        # The fix step's tool is a model: both its attempts reported usage ($0.42 in all).
        for number, tokens_in, tokens_out, usd in ((1, 5000, 1400, 0.18), (2, 7000, 2000, 0.24)):
            conn.execute("UPDATE attempts SET model = 'sim-1', tokens_in = ?, tokens_out = ?, usd = ? "
                         "WHERE run_id = ? AND step_id = 'fix' AND number = ?",
                         (tokens_in, tokens_out, usd, LIVE_RUN, number))
        # Windows run oldest to newest: sim-flaky's last three calls failed, which opened it.
        for tool, state, window, opened in (("sim-flaky", "open", [0, 1, 1, 1], NOW - 10),
                                            ("pytest", "half_open", [0, 1, 1], NOW - 40),
                                            ("ruff", "closed", [0, 0, 0, 0, 0], None)):
            conn.execute("INSERT INTO breakers (tool, state, consecutive_failures, window, opened_at, updated_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (tool, state, sum(window), _dumps(window), opened, NOW - 5))
        events.append((NOW - 10, "breaker.state", None, None,
                       {"tool": "sim-flaky", "from": "closed", "to": "open", "reason": "3 failures in a row",
                        "next_probe_at": NOW + 20}))
        for event in sorted(events, key=lambda e: e[0]):  # the log's order is the order things happened
            _event(conn, *event)
        # Every row's progress as the engine keeps it: its steps counted by state.
        conn.execute(RECOUNT_SQL.replace(" WHERE id = ?", ""))
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
            # as a run writes them: a start, then an end whose duration is its own
            data = ({"from": "ready", "to": "running", "attempt": 1, "tool": "sh"} if k % 2 == 0 else
                    {"from": "running", "to": "succeeded", "attempt": 1, "duration": round(0.01 + k * 1e-6, 6),
                     "exit_code": 0})
            batch.append((NOW - 590 + k * 0.005, big_id, sid, "step.state", _dumps(data)))
            if len(batch) >= 10_000:
                conn.executemany("INSERT INTO events (ts, run_id, step_id, kind, data) VALUES (?, ?, ?, ?, ?)", batch)
                batch.clear()
        conn.executemany("INSERT INTO events (ts, run_id, step_id, kind, data) VALUES (?, ?, ?, ?, ?)", batch)
    return big_id


CALC_DIFF = "\n".join([
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
    '',
])

README_DIFF = "\n".join([
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

PATCH_DIFF = CALC_DIFF + README_DIFF
"""Two files, three hunks, +4 -3: the patch whose gate passed, reviewed in the snapshots."""

FIRST_TRY_DIFF = "\n".join([
    'diff --git a/src/calc.py b/src/calc.py',
    'index 3b18e51..9d0e7a1 100644',
    '--- a/src/calc.py',
    '+++ b/src/calc.py',
    '@@ -11,4 +11,4 @@ def sub(a, b):',
    ' ',
    ' def mul(a, b):',
    '-    return a * b',
    '+    return a * b if a else b',
    ' ',
    '',
])

DOCS_DIFF = "\n".join([
    'diff --git a/docs/index.md b/docs/index.md',
    'index 4444444..5555555 100644',
    '--- a/docs/index.md',
    '+++ b/docs/index.md',
    '@@ -1,2 +1,4 @@',
    ' # calc',
    ' ',
    '+Install with `pip install calc`.',
    '+',
    '',
])

RENAME_DIFF = "\n".join([
    'diff --git a/src/calc.py b/src/calc.py',
    'index 3b18e51..7c2d1e0 100644',
    '--- a/src/calc.py',
    '+++ b/src/calc.py',
    '@@ -7,6 +7,6 @@ def add(a, b):',
    ' ',
    '-def sub(a, b):',
    '-    return a - b',
    '+def subtract(a, b):',
    '+    return a - b',
    ' ',
    ' ',
    ' def mul(a, b):',
    '',
])

PATCHES = [
    # id, run, step, attempt, state, gate, diff, made (s before NOW), decided (s after made), by, reason.
    # The fix step of the live run proposed one patch per attempt (its attempts end 270 and 250 s
    # before NOW); the other two come from older runs' steps. Files and counts come from the diff.
    ("p1a2b3c4d5", LIVE_RUN, "fix", 2, "gate_passed", "tests", PATCH_DIFF, 250, 2, "uet", None),
    ("p6e7f8a9b0", LIVE_RUN, "fix", 1, "gate_failed", "tests", FIRST_TRY_DIFF, 270, 2, "uet",
     "The gate 'tests' failed: `pytest -q` exited 1."),
    ("p5a6b7c8d9", "5b01c4e2a7d3", "step-2", 1, "rejected", "tests", RENAME_DIFF, 3597, 600, "bob", "not needed"),
    ("p0c1d2e3f4", "77f0b9d21c08", "step-1", 1, "applied", None, DOCS_DIFF, 7198, 900, "alice", "applied"),
]
GATE_SECONDS = 1.25


def patches(db: Path) -> Path:
    """The small store plus four patches in different states, one with two files and three
    hunks and a gate that passed, one whose gate failed with its output. What each patch says
    of its files and line counts is read from its diff by the same parser the engine uses."""
    from engine.patches.ledger import file_dicts
    from engine.patches.safety import inspect_patch

    small(db)
    with sqlite3.connect(db) as conn:
        for patch_id, run_id, step, attempt, state, gate, diff, ago, decided, by, reason in PATCHES:
            files = inspect_patch(diff)
            conn.execute(
                "INSERT INTO patches (id, run_id, step_id, attempt, state, base_commit, diff, sha256, files, added, "
                "removed, gate, round, parent_id, worktree, created_at, updated_at, decided_by, reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, NULL, NULL, ?, ?, ?, ?)",
                (patch_id, run_id, step, attempt, state, "0" * 40, diff, hashlib.sha256(diff.encode()).hexdigest(),
                 _dumps(file_dicts(files)), sum(f.added for f in files), sum(f.removed for f in files), gate,
                 NOW - ago, NOW - ago + decided, by, reason),
            )
        made = {patch[0]: patch[7] for patch in PATCHES}
        for patch_id, outcome, code, tail in (
                ("p1a2b3c4d5", "succeeded", 0, "....                                    [100%]\n4 passed in 0.12s\n"),
                ("p6e7f8a9b0", "failed", 1, "E       assert 6 == 0\nFAILED test_calc.py::test_mul_by_zero\n"
                                              "1 failed in 0.10s\n")):
            conn.execute(
                "INSERT INTO gate_results (patch_id, gate, round, idx, command, outcome, exit_code, duration, "
                "output_tail, ts) VALUES (?, 'tests', 1, 0, ?, ?, ?, ?, ?, ?)",
                (patch_id, _dumps(["pytest", "-q"]), outcome, code, GATE_SECONDS, tail,
                 NOW - made[patch_id] + GATE_SECONDS),
            )
    return db
