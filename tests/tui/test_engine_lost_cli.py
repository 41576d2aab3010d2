"""A run whose engine was killed (SIGKILL, nothing written) reads as such in ``uet runs`` and
``uet status``: engine lost N s ago, the resume command named, its clock stopped."""

from __future__ import annotations

import contextlib
import os
import re
import signal

import pytest

from tests.conftest import Project, pid_dead, wait_for
from tui.format import duration

pytestmark = pytest.mark.slow


def test_uet_runs_and_status_say_the_engine_of_a_killed_run_is_lost(project: Project) -> None:
    project.script("long.sh", """
        echo $$ > long.pid
        exec sleep 120
    """)
    workstream = project.write("ws.yaml", """
        name: doomed
        steps:
          - id: first
            run: "true"
          - id: long
            needs: [first]
            run: ./long.sh
    """)
    engine, run_id = project.start(workstream)
    orphan = None
    try:
        orphan = int(wait_for(lambda: project.read("long.pid"), what="the long step to start"))
        [live] = project.runs()
        assert (live["state"], live["engine"], live["engine_lost_at"]) == ("running", "live", None)
        assert "engine lost" not in project.uet("runs", check=True).stdout

        engine.send_signal(signal.SIGKILL)
        engine.communicate(timeout=30)

        [lost] = project.runs()
        assert (lost["state"], lost["engine"]) == ("running", "lost")
        assert lost["started_at"] <= lost["engine_lost_at"]
        listing = project.uet("runs", check=True).stdout
        row = next(line for line in listing.splitlines() if line.startswith(run_id))
        assert re.search(r"☠ engine lost \d+s ago", row), listing
        assert duration(lost["engine_lost_at"] - lost["started_at"]) in row  # the clock stopped there
        assert re.search(rf"^{run_id} \(running\): engine lost \d+s ago — uet resume {run_id}$", listing, re.M), \
            listing

        status = project.uet("status", run_id, check=True).stdout
        assert re.search(rf"^  engine lost \d+s ago — uet resume {run_id}$", status, re.M), status
        assert f"elapsed {duration(lost['engine_lost_at'] - lost['started_at'])}" in status
        document = project.status(run_id)
        assert (document["engine"], document["engine_lost_at"]) == ("lost", lost["engine_lost_at"])
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.communicate(timeout=30)
        if orphan is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(orphan, signal.SIGKILL)
            wait_for(lambda: pid_dead(orphan), what="the orphaned step to end")
