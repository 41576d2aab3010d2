"""``uet runs --state``: the runs in the states asked for, newest first, however many newer runs
of other states there are; ``active`` is every state a run is not finished in, as the
dashboard's state filter."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from schemas.states import RunState
from tests.tui import stores
from tui.cli import main
from tui.cli.parser import RUN_STATES

#: Oldest first: a paused run, then many finished ones, then one at work.
RUNS = [("p0", "paused"), *((f"s{n}", "succeeded" if n % 3 else "failed") for n in range(30)), ("r0", "running")]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = stores.empty(tmp_path)
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


# -- uet status RUN --state -------------------------------------------------------------------

@pytest.fixture
def big_run(tmp_path: Path) -> tuple[Path, str, dict[str, str]]:
    """A run of 400 steps in every state ``stores.big`` gives them, and each step's state as stored."""
    (tmp_path / ".uet").mkdir()
    path = tmp_path / ".uet" / "uet.db"
    run = stores.big(path, runs=1, steps=400, events=0)
    with sqlite3.connect(path) as conn:
        states = dict(conn.execute("SELECT id, state FROM steps WHERE run_id = ? ORDER BY idx", (run,)))
    assert len(set(states.values())) >= 3
    return path, run, states


def test_status_lists_the_steps_in_the_states_asked(big_run: tuple[Path, str, dict[str, str]],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    db, run, states = big_run
    failed = [step for step, state in states.items() if state == "failed"]
    active = [step for step, state in states.items() if state not in ("succeeded", "failed", "skipped", "canceled")]
    assert main(["--db", str(db), "status", run, "--state", "failed"]) == 0
    out = capsys.readouterr().out.splitlines()
    listed = [line.split()[0] for line in out[out.index(next(line for line in out if line.startswith("STEP"))) + 1:-1]]
    assert listed == failed and out[-1] == f"{len(failed)} of 400 steps: failed"
    assert main(["--db", str(db), "status", run, "--json", "--state", "active"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["id"] for s in doc["steps"]] == active and doc["progress"]["total"] == 400


def test_status_says_when_no_step_is_in_the_state(big_run: tuple[Path, str, dict[str, str]],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    db, run, states = big_run
    assert "skipped" not in states.values()
    assert main(["--db", str(db), "status", run, "--state", "skipped"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no step skipped"
    assert main(["--db", str(db), "status", run, "n1", "--state", "failed"]) == 2
    assert "--state lists the run's steps" in capsys.readouterr().err


def test_the_step_states_taken_are_the_step_states_and_active() -> None:
    from schemas.states import StepState
    from tui.cli.parser import STEP_STATES

    assert ("active", *(state.value for state in StepState)) == STEP_STATES
