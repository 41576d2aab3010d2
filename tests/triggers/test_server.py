"""The trigger server in this process, with a clock the test moves: schedules, catch-up, event
triggers, what a busy trigger does with a new fire, recovery of unfinished fires, pause,
reload and the one-server lease. Runs are real (an ``echo`` or a shell loop) and recorded in a
real store."""

from __future__ import annotations

import asyncio
import datetime
import json
import os

import pytest

from engine.errors import ValidationFailed
from engine.planner import plan_file
from engine.session import create_run, execute
from engine.triggers import ServeBusy, TriggerServer, next_after
from engine.triggers.files import Matcher, affected
from schemas.states import RunState
from schemas.triggers import FilesTrigger, Trigger
from store import triggers as fires_db
from tests.triggers.conftest import MovedClock, TriggerProject

T0 = 1_800_000_000.0
ECHO = """\
steps:
  - id: a
    run: [echo, hi]
"""
#: A step that runs until the file ``go`` exists in the project.
HOLD = """\
steps:
  - id: hold
    run: [sh, -c, "while [ ! -e go ]; do sleep 0.02; done"]
"""


async def settled(server: TriggerServer) -> tuple[int, str]:
    return await asyncio.wait_for(server.outcomes.get(), 60)


def events(tp: TriggerProject, kind: str) -> list[dict]:
    rows = tp.store.db.execute_sql("SELECT data FROM events WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
    return [json.loads(row[0]) for row in rows]


def test_an_interval_fires_when_due_and_a_jump_of_three_slots_fires_once(tp: TriggerProject) -> None:
    tp.workstream("tick", "name: tick\non:\n  - every: 10m\n" + ECHO)
    clock = MovedClock(T0)

    async def scenario() -> list[tuple[int, str]]:
        server = TriggerServer(tp.store, tp.root, clock=clock, watch=False)
        await server.start()
        assert server.check_schedules() == T0 + 600
        clock.at = T0 + 600
        server.wake.set()
        first = await settled(server)
        clock.at = T0 + 600 + 3 * 600 + 5
        server.wake.set()
        second = await settled(server)
        await server.stop()
        return [first, second]

    outcomes = asyncio.run(scenario())
    assert [outcome for _fire, outcome in outcomes] == ["succeeded", "succeeded"]
    fired = fires_db.fires()
    assert sorted(f.due_at for f in fired) == [T0 + 600, T0 + 2400]
    assert {f.run_id for f in fired} == {run_id for run_id, _ws, _state in tp.runs()}
    assert len(tp.runs()) == 2


def test_a_cron_schedule_fires_at_its_time_in_its_time_zone() -> None:
    nightly = Trigger.model_validate({"schedule": {"cron": "0 2 * * *", "timezone": "Europe/Paris"}})
    winter = datetime.datetime(2026, 1, 10, 12, tzinfo=datetime.UTC).timestamp()
    summer = datetime.datetime(2026, 7, 10, 12, tzinfo=datetime.UTC).timestamp()
    assert next_after(nightly, winter) == datetime.datetime(2026, 1, 11, 1, tzinfo=datetime.UTC).timestamp()
    assert next_after(nightly, summer) == datetime.datetime(2026, 7, 11, 0, tzinfo=datetime.UTC).timestamp()


@pytest.mark.parametrize("catch_up", ["once", "skip"])
def test_fires_missed_while_no_server_ran_are_reported_and_caught_up_once_or_skipped(
        tp: TriggerProject, catch_up: str) -> None:
    file = tp.workstream("tick", f"name: tick\non:\n  - every: 10m\n    catch_up: {catch_up}\n" + ECHO)
    fires_db.record_fire(tp.store, workstream=".uet/workstreams/tick.yaml", trigger="every", kind="every",
                         reason="before", due_at=T0 - 3500)
    fires_db.set_fire(tp.store, 1, state="done", outcome="succeeded")
    assert file.exists()

    async def scenario() -> tuple[int, str] | None:
        server = TriggerServer(tp.store, tp.root, clock=MovedClock(T0), watch=False)
        await server.start()
        assert server.check_schedules() == T0 + 100  # the slot after the last one missed
        outcome = await settled(server) if catch_up == "once" else None
        await server.stop()
        return outcome

    outcome = asyncio.run(scenario())
    [missed] = events(tp, "trigger.missed")
    assert (missed["count"], missed["caught_up"]) == (5, catch_up == "once")
    if catch_up == "once":
        assert outcome is not None and outcome[1] == "succeeded"
        caught = fires_db.get_fire(outcome[0])
        assert caught is not None and caught.due_at == T0 - 500 and "5 missed" in caught.reason
        assert len(tp.runs()) == 1
    else:
        assert tp.runs() == []


def test_an_event_trigger_starts_its_workstream_when_another_succeeds(tp: TriggerProject) -> None:
    quality = tp.workstream("quality", "name: quality\n" + ECHO)
    tp.workstream("review", "name: review\non:\n  - event: {run_succeeded: quality}\n"
                            "  - event: {run_failed: any}\n" + ECHO)

    async def scenario() -> tuple[int, str]:
        server = TriggerServer(tp.store, tp.root, clock=MovedClock(T0), watch=False)
        await server.start()
        run_id = create_run(tp.store, plan_file(quality, tp.root))
        assert await execute(tp.store, run_id) is RunState.SUCCEEDED
        tp.store.sync()
        server.read_feed()
        outcome = await settled(server)
        await server.stop()
        return outcome

    fire_id, outcome = asyncio.run(scenario())
    assert outcome == "succeeded"
    assert [(ws, state) for _id, ws, state in tp.runs()] == [("quality", "succeeded"), ("review", "succeeded")]
    fire = fires_db.get_fire(fire_id)
    assert fire is not None and fire.trigger == "event" and "run succeeded" in fire.reason


@pytest.mark.parametrize(("on_busy", "first", "second", "runs"), [
    ("queue", "succeeded", "succeeded", 2),
    ("skip", "succeeded", "skipped", 1),
    ("cancel_previous", "canceled", "succeeded", 2),
])
def test_a_fire_while_the_trigger_runs_follows_on_busy(tp: TriggerProject, on_busy: str, first: str, second: str,
                                                       runs: int) -> None:
    tp.workstream("hold", f"name: hold\non:\n  - files: {{paths: ['*.txt']}}\n"
                          f"    concurrency: {{max_runs: 1, on_busy: {on_busy}}}\n" + HOLD)
    clock = MovedClock(T0)

    async def scenario() -> dict[int, str]:
        server = TriggerServer(tp.store, tp.root, clock=clock, watch=False)
        await server.start()
        [spec] = server.catalog.specs.values()
        one = server.fire_files(spec, ["a.txt"])
        clock.at += 1
        two = server.fire_files(spec, ["b.txt"])
        assert one is not None and two is not None
        seen = {}
        if on_busy == "queue":
            waiting = fires_db.get_fire(two)
            assert waiting is not None and waiting.state == "queued"
            clock.at += 1
            three = server.fire_files(spec, ["c.txt"])  # one waiting fire stands for the later ones
            assert three is not None and await settled(server) == (three, "skipped")
        if on_busy == "skip":
            seen.update([await settled(server)])
        (tp.root / "go").touch()
        while len(seen) < 2:
            fire_id, outcome = await settled(server)
            seen[fire_id] = outcome
        await server.stop()
        return {1 if fire_id == one else 2: outcome for fire_id, outcome in seen.items()}

    assert asyncio.run(scenario()) == {1: first, 2: second}
    assert len(tp.runs()) == runs


@pytest.mark.parametrize("left", ["recorded", "run created"])
def test_an_unfinished_fire_is_carried_out_once_by_the_next_server(tp: TriggerProject, left: str) -> None:
    """A server died (kill -9) after recording a fire: before making its run, or after making it
    but before noting it on the fire. The next server makes or finishes exactly that one run."""
    file = tp.workstream("tick", "name: tick\non:\n  - every: 1h\n" + ECHO)
    fire_id = fires_db.record_fire(tp.store, workstream=".uet/workstreams/tick.yaml", trigger="every",
                                   kind="every", reason="due", due_at=T0)
    assert fire_id is not None
    run_id = fires_db.fire_run_id(fire_id, ".uet/workstreams/tick.yaml", "every")
    if left == "run created":
        plan = plan_file(file, tp.root)
        tp.store.create_run(run_id=run_id, workstream="tick", source=str(file), root=str(tp.root), max_parallel=1,
                            spec=plan.spec, steps=[(s.id, s.kind, s.needs, s.spec) for s in plan.steps])
    assert fires_db.record_fire(tp.store, workstream=".uet/workstreams/tick.yaml", trigger="every",
                                kind="every", reason="due", due_at=T0) is None  # the same fire is not made twice

    async def scenario() -> tuple[int, str]:
        server = TriggerServer(tp.store, tp.root, clock=MovedClock(T0 + 1), watch=False)
        await server.start()
        outcome = await settled(server)
        await server.stop()
        return outcome

    assert asyncio.run(scenario()) == (fire_id, "succeeded")
    assert tp.runs() == [(run_id, "tick", "succeeded")]
    fire = fires_db.get_fire(fire_id)
    assert fire is not None and (fire.state, fire.run_id, fire.outcome) == ("done", run_id, "succeeded")


def test_a_paused_trigger_does_not_fire_until_resumed(tp: TriggerProject) -> None:
    tp.workstream("tick", "name: tick\non:\n  - every: 10m\n" + ECHO)
    clock = MovedClock(T0)

    async def scenario() -> tuple[int, str]:
        server = TriggerServer(tp.store, tp.root, clock=clock, watch=False)
        await server.start()
        assert fires_db.set_paused(tp.store, ".uet/workstreams/tick.yaml", "every", True, "tester")
        clock.at = T0 + 600
        server.check_schedules()
        assert fires_db.fires() == []
        assert fires_db.set_paused(tp.store, ".uet/workstreams/tick.yaml", "every", False, "tester")
        clock.at = T0 + 1200
        server.wake.set()
        outcome = await settled(server)
        await server.stop()
        return outcome

    assert asyncio.run(scenario())[1] == "succeeded"
    assert [f.due_at for f in fires_db.fires()] == [T0 + 1200]
    assert [e["by"] for e in events(tp, "trigger.paused")] == ["tester"]


def test_an_invalid_edit_is_reported_and_the_last_valid_triggers_go_on(tp: TriggerProject) -> None:
    file = tp.workstream("tick", "name: tick\non:\n  - every: 10m\n" + ECHO)

    async def scenario() -> None:
        server = TriggerServer(tp.store, tp.root, clock=MovedClock(T0), watch=False)
        await server.start()
        file.write_text(file.read_text().replace("every: 10m", "every: soon"))
        server.reload()
        assert list(server.catalog.specs) == [(".uet/workstreams/tick.yaml", "every")]
        assert server.catalog.problems[".uet/workstreams/tick.yaml"].startswith(str(file))
        await server.stop()

    asyncio.run(scenario())
    [invalid] = events(tp, "trigger.invalid")
    assert invalid["kept"] == 1 and "on[0].every" in invalid["problem"]


def test_a_second_server_of_the_project_is_refused_naming_the_first(tp: TriggerProject) -> None:
    tp.workstream("tick", "name: tick\non:\n  - every: 10m\n" + ECHO)

    async def scenario() -> str:
        first = TriggerServer(tp.store, tp.root, clock=MovedClock(T0), watch=False)
        await first.start()
        second = TriggerServer(tp.store, tp.root, clock=MovedClock(T0), watch=False)
        with pytest.raises(ServeBusy) as refused:
            second.claim()
        await first.stop()
        third = TriggerServer(tp.store, tp.root, clock=MovedClock(T0), watch=False)
        third.claim()  # the lease was given back
        await third.start()
        await third.stop()
        return str(refused.value)

    said = asyncio.run(scenario())
    assert f"pid {os.getpid()}" in said and "since" in said and str(tp.root) in said


def test_inputs_choose_the_steps_a_change_runs_and_what_depends_on_them(tp: TriggerProject) -> None:
    file = tp.workstream("q", """
        name: q
        steps:
          - id: lint
            run: [echo, lint]
            inputs: ["src/**/*.py"]
          - id: test
            run: [echo, test]
            needs: [lint, docs]
          - id: docs
            run: [echo, docs]
            inputs: ["docs/*.md"]
          - id: other
            run: [echo, other]
    """)
    plan = plan_file(file, tp.root)
    code = affected(plan, ["src/pkg/a.py"])
    assert code is not None and [(s.id, s.needs) for s in code.steps] == [("lint", []), ("test", ["lint"])]
    docs = affected(plan, ["docs/index.md"])
    assert docs is not None and [s.id for s in docs.steps] == ["test", "docs"]
    assert affected(plan, ["README.md"]) is None


def test_what_a_files_trigger_counts(tp: TriggerProject) -> None:
    (tp.root / ".gitignore").write_text("build/\n*.log\n")
    matcher = Matcher(tp.root, FilesTrigger(paths=["**/*.py", "*.txt"], ignore=["gen/**"]))
    seen = {name: matcher.concerns(str(tp.root / name)) for name in (
        "src/a.py", "notes.txt", ".uet/uet.db", ".uet/workstreams/x.py", ".git/index", "build/out.py", "x.log",
        "gen/made.py", "README.md")}
    assert {name for name, rel in seen.items() if rel} == {"src/a.py", "notes.txt"}


def test_bad_triggers_name_their_field() -> None:
    from engine.documents import validate_document
    from engine.yamlsafe import parse
    from schemas.workstream import Workstream

    def problem(text: str) -> str:
        with pytest.raises(ValidationFailed) as failed:
            validate_document(parse(text, "w.yaml"), Workstream)
        return failed.value.problems[0].render()

    head = "name: w\nsteps:\n  - id: a\n    run: [echo]\non:\n"
    assert problem(head + "  - {name: x, every: 10m}\n  - {name: x, every: 1h}\n").startswith(
        "w.yaml:5:1: on: two triggers are named 'x'")
    assert problem(head + "  - {every: 1m, files: {}}\n").startswith("w.yaml:6:5: on[0]: a trigger is exactly one")
    assert problem(head + "  - event: {}\n").startswith("w.yaml:6:5: on[0].event: name an event")
    assert problem(head + "  - files: {paths: ['/etc/*']}\n").startswith("w.yaml:6:13: on[0].files.paths: '/etc/*'")
    assert problem("name: w\nsteps:\n  - id: a\n    run: [echo]\n    inputs: ['../x']\n").startswith(
        "w.yaml:5:5: steps[0].inputs: '../x' climbs out")
    assert problem("name: w\nsteps:\n  - id: a\n    run: [echo]\non:\n  nightly:\n    every: -1m\n").startswith(
        "w.yaml:7:5: on.nightly.every: a duration cannot be negative")
    assert Trigger.model_validate({"every": "30m"}).kind == "every"


def test_a_fire_whose_run_another_engine_executes_is_left_to_it_and_closed_when_it_ends(tp: TriggerProject) -> None:
    """A server that stopped handed its run to a background engine; the next server does not
    start that run a second time, and closes the fire when the run's end is recorded."""
    import time

    from engine.events import EventBus, Recorder
    from engine.workers import Worker, is_lost
    from store import ops

    file = tp.workstream("tick", "name: tick\non:\n  - every: 1h\n" + ECHO)
    fire_id = fires_db.record_fire(tp.store, workstream=".uet/workstreams/tick.yaml", trigger="every",
                                   kind="every", reason="due", due_at=T0)
    assert fire_id is not None
    run_id = fires_db.fire_run_id(fire_id, ".uet/workstreams/tick.yaml", "every")
    plan = plan_file(file, tp.root)
    tp.store.create_run(run_id=run_id, workstream="tick", source=str(file), root=str(tp.root), max_parallel=1,
                        spec=plan.spec, steps=[(s.id, s.kind, s.needs, s.spec) for s in plan.steps])
    fires_db.set_fire(tp.store, fire_id, state="running", run_id=run_id)
    other = Worker(Recorder(tp.store, EventBus()))
    tp.store.claim_run(run_id, other.id, is_lost)

    async def scenario() -> tuple[int, str]:
        server = TriggerServer(tp.store, tp.root, clock=MovedClock(T0 + 1), watch=False)
        await server.start()
        assert server.host.runs == {} and server.elsewhere == {run_id: fire_id}
        now = time.time()
        tp.store.execute_now([ops.run_state(run_id, "succeeded", ended_at=now),
                              ops.insert_event(now, "run.state", run_id, None, {"from": "running", "to": "succeeded"})])
        server.read_feed()
        outcome = await settled(server)
        await server.stop()
        return outcome

    assert asyncio.run(scenario()) == (fire_id, "succeeded")
    assert len(tp.runs()) == 1
    other.stop()


def test_watch_hosts_only_the_files_triggers_of_its_workstream_or_one_over_its_inputs(tp: TriggerProject) -> None:
    own = tp.workstream("own", "name: own\non:\n  - every: 1m\n  - files: {paths: ['docs/**']}\n" + ECHO)
    bare = tp.workstream("bare", "name: bare\non:\n  - every: 1m\nsteps:\n  - id: a\n    run: [echo]\n"
                                 "    inputs: ['src/*.py']\n  - id: b\n    run: [echo]\n    inputs: ['lib/**']\n")
    whole = tp.workstream("whole", "name: whole\n" + ECHO)
    found = {}
    for file in (own, bare, whole):
        server = TriggerServer(tp.store, tp.root, watch=False, files=[file], only_files=True)
        server.reload(initial=True)
        [spec] = server.catalog.specs.values()
        assert spec.kind == "files" and spec.workstream == f".uet/workstreams/{file.name}"
        found[file.stem] = spec.trigger.files.paths if spec.trigger.files else None
    assert found == {"own": ["docs/**"], "bare": ["lib/**", "src/*.py"], "whole": ["**"]}
