"""``uet runs --state``: the runs in the states asked for, newest first, however many newer runs
of other states there are; ``active`` is every state a run is not finished in, as the
dashboard's state filter."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from schemas.states import RunState
from store import Store
from tests.tui import stores
from tui.cli import main
from tui.cli.parser import RUN_STATES

#: Oldest first: a paused run, then many finished ones, then one at work.
RUNS = [("p0", "paused"), *((f"s{n}", "succeeded" if n % 3 else "failed") for n in range(30)), ("r0", "running")]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    (tmp_path / ".uet").mkdir()
    path = tmp_path / ".uet" / "uet.db"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        for n, (run_id, state) in enumerate(RUNS):
            created = stores.NOW - 3600 + n
            ended = created + 5 if state in ("succeeded", "failed") else None
            stores._run(conn, run_id, "w", state, 2, 2 if ended else 1, int(state == "failed"), created,
                        created + 1, ended)
    return path


def ids(db: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    assert main(["--db", str(db), "runs", "--json", *argv]) == 0
    return [run["id"] for run in json.loads(capsys.readouterr().out)]


def test_runs_in_the_states_asked_newest_first(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ids(db, capsys, "--state", "active") == ["r0", "p0"]  # the paused one is older than 30 others
    assert ids(db, capsys, "--state", "paused") == ["p0"]
    assert ids(db, capsys, "--state", "failed", "--limit", "3") == ["s27", "s24", "s21"]
    assert ids(db, capsys, "--state", "paused", "--state", "running") == ["r0", "p0"]
    assert len(ids(db, capsys)) == 20 and "p0" not in ids(db, capsys)


def test_no_run_in_a_state_says_so(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(db), "runs", "--state", "canceled", "--state", "quarantined"]) == 0
    assert capsys.readouterr().out == "no run canceled or quarantined\n"


def test_the_states_taken_are_the_run_states_and_active() -> None:
    assert ("active", *(state.value for state in RunState)) == RUN_STATES
