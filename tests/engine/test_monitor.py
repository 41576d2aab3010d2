"""The dashboard's model over a real store written by real runs: the first picture, then only
what changed, including breakers with their probe time and costs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.monitor import Monitor, eta
from store import Store
from tests.conftest import Project


@pytest.fixture
def store(project: Project) -> Iterator[Store]:
    project.write("ws.yaml", """
        name: three
        steps:
          - id: a
            run: "true"
          - id: b
            needs: [a]
            run: "true"
          - id: c
            needs: [a]
            run: "true"
    """)
    project.uet("run", "--plain", "ws.yaml", check=True)
    opened = Store(project.db)
    yield opened
    opened.close()


def test_load_then_poll_returns_only_what_changed(project: Project, store: Store) -> None:
    monitor = Monitor()
    first = monitor.load()
    [run] = first.runs
    assert run.workstream == "three" and run.done_steps == 3
    assert any(e.kind == "run.state" for e in first.events)
    assert not monitor.poll(), "nothing happened since the load"

    monitor.watch(run.id)
    watched = monitor.poll()
    assert watched.steps_reset and [s.id for s in watched.steps] == ["a", "b", "c"]
    assert not monitor.poll()

    store.insert_command(run.id, "resume", {}, "someone")
    delta = monitor.poll()
    assert [e.kind for e in delta.events] == ["command.created"]
    assert [r.id for r in delta.runs] == [run.id] and not delta.steps

    project.uet("run", "--plain", "ws.yaml", check=True)
    delta = monitor.poll()
    assert [r.id for r in delta.runs] != [run.id] and len(delta.runs) == 1
    assert not delta.steps, "the watched run did not change"
    assert not monitor.poll()


def test_a_poll_over_its_event_limit_says_there_is_more(store: Store) -> None:
    """The dashboard keeps polling while ``more`` is set; a poll that never sets it leaves a
    burst of events unread until something else happens."""
    monitor = Monitor(events_per_poll=3)
    [run] = monitor.load().runs
    for n in range(7):
        store.insert_command(run.id, "resume", {"n": n}, "someone")
    polls = [monitor.poll() for _ in range(3)]
    assert [len(delta.events) for delta in polls] == [3, 3, 1]
    assert [delta.more for delta in polls] == [True, True, False]
    seqs = [event.seq for delta in polls for event in delta.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == 7
    assert not monitor.poll()


def test_watched_steps_arrive_one_by_one(project: Project, store: Store) -> None:
    project.write("once.yaml", """
        name: fails-once
        steps:
          - id: a
            run: "true"
          - id: b
            needs: [a]
            run: sh -c 'test -e ok || { touch ok; exit 3; }'
    """)
    assert project.uet("run", "--plain", "once.yaml").returncode == 1
    monitor = Monitor()
    run = monitor.load().runs[0]
    assert run.workstream == "fails-once"
    monitor.watch(run.id)
    monitor.poll()
    project.uet("retry", "--plain", run.id, "b", check=True)
    delta = monitor.poll()
    assert {s.id for s in delta.steps} == {"b"} and not delta.steps_reset
    assert delta.steps[0].attempts == 2


def test_breakers_carry_failures_and_probe_time(project: Project, store: Store) -> None:
    project.write(".uet/router.yaml", """
        tools:
          broken:
            command: ["false"]
            capabilities: [code_edit]
            breaker: {consecutive_failures: 1, open_for: 1h}
    """)
    project.write("bad.yaml", """
        name: bad
        steps:
          - id: edit
            kind: code_edit
    """)
    monitor = Monitor()
    monitor.load()
    project.uet("run", "--plain", "bad.yaml")
    delta = monitor.poll()
    assert delta.breakers is not None
    [view] = [b for b in delta.breakers if b.tool == "broken"]
    assert view.state == "open" and view.failures == 1
    assert view.next_probe_at is not None and 3500 < view.probe_in(view.next_probe_at - 3600 + 1) <= 3600
    fresh = Monitor().load()
    assert [b.next_probe_at for b in fresh.breakers or [] if b.tool == "broken"] == [view.next_probe_at]


def test_eta_needs_three_finished_steps(store: Store) -> None:
    [run] = Monitor().load().runs
    assert eta(run) is None, "a finished run has no ETA"
    running = run._replace(ended_at=None, started_at=100.0, done_steps=3, total_steps=9)
    assert eta(running, now=130.0) == pytest.approx(60.0)
    assert eta(running._replace(done_steps=2), now=130.0) is None


def test_the_first_picture_keeps_unfinished_runs_however_many_came_after(project: Project, store: Store) -> None:
    """Only the newest runs are loaded, but a run that is paused, held or at work is listed
    whatever its age: a long run beside a trigger that fires every minute stays in sight."""
    import sqlite3

    [first] = Monitor().load().runs
    with sqlite3.connect(project.db) as conn:
        conn.execute("UPDATE runs SET state = 'paused', ended_at = NULL WHERE id = ?", (first.id,))
    for _ in range(3):
        project.uet("run", "--plain", "ws.yaml", check=True)
    monitor = Monitor(runs_shown=2)
    runs = monitor.load().runs
    assert len(runs) == 3 and runs[-1].id == first.id and runs[-1].state == "paused"
    assert [r.created_at for r in runs[:2]] == sorted((r.created_at for r in runs[:2]), reverse=True)
    assert first.id in monitor._unfinished  # and its engine is asked after, as any unfinished run's
