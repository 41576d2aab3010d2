"""Files triggers over a real file system, watched by the server with watchfiles: a burst of
writes is one fire, and UET's own writes under .uet/ never fire."""

from __future__ import annotations

import asyncio

from engine.triggers import TriggerServer
from store import triggers as fires_db
from tests.triggers.conftest import TriggerProject

WORKSTREAM = """\
name: onsave
on:
  - files: {paths: ["**"], debounce: 1s}
steps:
  - id: a
    run: [echo, saved]
"""


def test_a_burst_of_200_writes_is_one_run_and_uet_writes_never_fire(tp: TriggerProject) -> None:
    tp.workstream("onsave", WORKSTREAM)
    (tp.root / "src").mkdir()
    (tp.root / ".uet" / "scratch").mkdir()

    async def scenario() -> tuple[int, str]:
        server = TriggerServer(tp.store, tp.root)
        await server.start()
        [(_trigger, watcher)] = server._watchers.values()
        await asyncio.sleep(0)  # the watcher's task runs to its first await: its watches are in place
        for n in range(200):  # UET's own writes: never a fire
            (tp.root / ".uet" / "scratch" / f"w{n}").write_text(str(n))
        for n in range(200):
            (tp.root / "src" / f"f{n % 7}.py").write_text(str(n))
        outcome = await asyncio.wait_for(server.outcomes.get(), 60)
        assert not watcher.done()
        await server.stop()
        return outcome

    fire_id, outcome = asyncio.run(scenario())
    assert outcome == "succeeded"
    [fire] = fires_db.fires()
    assert fire.id == fire_id and fire.kind == "files"
    assert fire.data["count"] == 7 and all(path.startswith("src/") for path in fire.data["paths"])
    assert len(tp.runs()) == 1

