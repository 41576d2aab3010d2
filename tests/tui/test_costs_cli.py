"""``uet costs`` stays readable however long the project's history: without a run it gives the
total, by tool and by model over every run, and by run only the newest runs with costs (``--limit``,
``--all``), newest first; by step needs a run; ``--since`` keeps the attempts that ended from then
on. A store of a million attempts printed 1.1 million
lines in 28 s before."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from store import ops
from tests.tui import stores
from tui.cli import main

#: Oldest first: 25 runs whose attempts ran a tool, and between them two that have no cost.
RUNS = [f"c{n:02d}" for n in range(25)]
NO_COST = ["n0", "n1"]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = stores.empty(tmp_path)
    with sqlite3.connect(path) as conn:
        for n, run_id in enumerate([*RUNS[:10], NO_COST[0], *RUNS[10:], NO_COST[1]]):
            conn.execute("INSERT INTO runs (id, workstream, root, state, created_at) "
                         "VALUES (?, 'w', '/p', 'succeeded', ?)",
                         (run_id, 1_000.0 + n))
            for step in ("a", "b"):
                conn.execute("INSERT INTO steps (run_id, id, idx, kind, state) VALUES (?, ?, 0, 'task', 'succeeded')",
                             (run_id, step))
                ran = run_id not in NO_COST
                row = ops.attempt_row(run_id, step, 1, "claude" if step == "a" else "ruff", "succeeded", None, 1.0,
                                      ended_at=1_000.5 + n, tokens_in=100 if step == "a" else None,
                                      tokens_out=10 if step == "a" else None, usd=0.5 if step == "a" else None,
                                      duration=1.0 if ran else None)
                conn.execute(row.sql, row.params)
    return path


def costs(db: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["--db", str(db), "costs", *argv]) == 0
    return capsys.readouterr().out


def section(text: str, heading: str) -> list[str]:
    lines = text.split(f"\n{heading}")[1].split("\n\n")[0].splitlines()[1:]
    return [line.split()[0] for line in lines if line.startswith("  ") and not line.strip().startswith("…")]


def test_the_newest_runs_with_costs_newest_first_and_a_word_on_the_older(
        db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = costs(db, capsys, "--limit", "3")
    assert text.startswith("total: 50 attempt(s), 2,500 tokens in, 250 out, 0 cached, $12.5000 + 25 unpriced")
    assert section(text, "by run, newest first (the newest 3):") == ["c24", "c23", "c22"]
    assert "  … older runs have costs too: --limit N, --all, or uet costs RUN for one" in text
    assert section(text, "by tool:") == ["claude", "ruff"]
    assert "\nby step: name a run (uet costs RUN)" in text and "\nby step:\n" not in text
    every = costs(db, capsys, "--all")
    assert section(every, "by run, newest first:") == list(reversed(RUNS))  # the runs without costs are not listed
    assert "older runs" not in every
    default = costs(db, capsys)
    assert len(section(default, "by run, newest first (the newest 20):")) == 20


def test_one_run_is_given_by_step_tool_and_model(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = costs(db, capsys, "c07")
    assert section(text, "by step:") == ["a", "b"] and section(text, "by tool:") == ["claude", "ruff"]
    assert "by run" not in text and "name a run" not in text


def test_the_json_says_the_same(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = json.loads(costs(db, capsys, "--limit", "2", "--json"))
    assert [row["key"]["run_id"] for row in found["by_run"]] == ["c24", "c23"] and found["more_runs"] is True
    assert "by_step" not in found and found["total"]["attempts"] == 50
    assert [row["key"]["tool"] for row in found["by_tool"]] == ["claude", "ruff"]
    every = json.loads(costs(db, capsys, "--all", "--json"))
    assert len(every["by_run"]) == 25 and every["more_runs"] is False
    one = json.loads(costs(db, capsys, "c07", "--json"))
    assert [row["key"]["step_id"] for row in one["by_step"]] == ["a", "b"] and "by_run" not in one


def test_since_keeps_the_attempts_that_ended_from_then_on(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Run n of the store's order (no-cost runs included) ended its attempts at 1000.5 + n: from
    # 1970-01-01T00:16:55 (1015 s) on, the last 12 of the 27, of which 11 have costs.
    found = json.loads(costs(db, capsys, "--since", "1970-01-01T00:16:55", "--all", "--json"))
    assert found["since"] == 1015.0
    assert [row["key"]["run_id"] for row in found["by_run"]] == [f"c{n:02d}" for n in range(24, 13, -1)]
    assert found["total"]["attempts"] == 22 and found["by_tool"][0]["attempts"] == 11
    text = costs(db, capsys, "--since", "1970-01-01T00:16:55", "--limit", "2")
    assert text.startswith("since 1970-01-01T00:16:55: 22 attempt(s)")
    assert section(text, "by run, newest first (the newest 2):") == ["c24", "c23"]
    assert costs(db, capsys, "--since", "2d") == "no costs since 2d\n"
    assert main(["--db", str(db), "costs", "--since", "last tuesday"]) == 2
    assert capsys.readouterr().err == ("uet: --since: 'last tuesday' is not a date: write e.g. 2026-11-30, "
                                       "2026-11-30T08:00 or 7d\n")


def test_the_totals_by_tool_by_model_and_in_all_are_one_pass_over_the_costs(
        db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """On a million attempts each pass takes about a second: the total, by tool and by model come
    from one grouped read, folded, and agree with reading each apart."""
    from store import reads

    sent: list[str] = []
    opened = reads._open

    def traced(path: Path) -> sqlite3.Connection:
        conn = opened(path)
        conn.set_trace_callback(sent.append)
        return conn

    monkeypatch.setattr(reads, "_open", traced)
    found = json.loads(costs(db, capsys, "--json"))
    passes = [sql for sql in sent if "FROM costs" in sql and "run_id IN" not in sql]
    assert len(passes) == 1, passes
    with sqlite3.connect(db) as conn:
        apart = {name: reads.cost_totals(conn, cols) for name, cols in (("tool", ("tool",)), ("model", ("model",)))}
        assert found["total"] == reads.cost_totals(conn, ())[0]
    assert found["by_tool"] == apart["tool"] and found["by_model"] == apart["model"]
