"""A store filled with made-up history, written straight into its tables (the schema comes from
opening it as ``Store``): runs of a few workstreams, their steps, attempts that succeed, fail
and retry across several tools and days, the events they wrote, a patch per run. Deterministic,
so tests can count what an export must hold. Shared by the tests and the export benchmark."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

from store import Store

START = 1_764_547_200.0  # 2025-12-01T00:00:00Z
DAY = 86_400.0
TOOLS = ("ruff", "pytest", "claude")
WORKSTREAMS = ("quality", "docs")


def fill(path: Path, runs: int, steps: int, events_per_step: int = 3, days: int = 4) -> None:
    """``runs`` runs of ``steps`` steps each, spread over ``days`` days; every fifth step fails
    once and succeeds on its second attempt; each step writes ``events_per_step`` events."""
    Store(path).close()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("BEGIN")
        seq = 0
        for r in range(runs):
            run_id = f"r{r:05d}"
            created = START + (r * days * DAY) / max(runs, 1)
            conn.execute("INSERT INTO runs (id, workstream, source, root, state, created_at, started_at, ended_at, "
                         "total_steps, done_steps, failed_steps, spec) VALUES (?, ?, ?, '/p', 'succeeded', ?, ?, ?, "
                         "?, ?, 0, ?)",
                         (run_id, WORKSTREAMS[r % 2], f"/p/.uet/workstreams/{WORKSTREAMS[r % 2]}.yaml", created,
                          created + 1, created + 1 + steps * 2.0 + r % 7, steps, steps,
                          json.dumps({"env": {"API_TOKEN": "sk-secret-do-not-export"}})))
            step_rows, attempt_rows, event_rows = [], [], []
            for s in range(steps):
                tool = TOOLS[s % len(TOOLS)]
                began = created + 1 + s * 2.0
                retried = s % 5 == 4
                step_rows.append((run_id, f"s{s:04d}", s, "test", "succeeded", tool, 2 if retried else 1,
                                  began, began + 1.5, json.dumps({"env": {"API_TOKEN": "sk-secret-do-not-export"}})))
                if retried:
                    attempt_rows.append((run_id, f"s{s:04d}", 1, tool, "failed", began, began + 0.5, 1, 0.5,
                                         "exit 1", None))
                usd = 0.01 if tool == "claude" else None
                attempt_rows.append((run_id, f"s{s:04d}", 2 if retried else 1, tool, "succeeded", began + 0.5,
                                     began + 1.5, 0, 1.0 + (s % 3) * 0.5, None, usd))
                for _ in range(events_per_step):
                    seq += 1
                    event_rows.append((seq, began + 0.001 * seq % 1, run_id, f"s{s:04d}", "step.state",
                                       json.dumps({"to": "succeeded", "n": seq})))
            conn.executemany("INSERT INTO steps (run_id, id, idx, kind, state, tool, attempts, started_at, ended_at, "
                             "spec) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", step_rows)
            conn.executemany("INSERT INTO attempts (run_id, step_id, number, tool, state, started_at, ended_at, "
                             "exit_code, duration, error, usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", attempt_rows)
            conn.executemany("INSERT INTO events (seq, ts, run_id, step_id, kind, data) VALUES (?, ?, ?, ?, ?, ?)",
                             event_rows)
            conn.execute("INSERT INTO patches (id, run_id, step_id, attempt, state, base_commit, diff, sha256, files, "
                         "added, removed, created_at, updated_at) VALUES (?, ?, 's0000', 1, 'proposed', 'abc', "
                         "'--- a\n+++ b\n', 'f00', '[\"a.py\"]', 1, 0, ?, ?)", (f"p{r:05d}", run_id, created, created))
        conn.execute("COMMIT")
