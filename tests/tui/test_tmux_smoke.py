"""The real `uet tui` in a real terminal (tmux): it starts, draws at 80×24, answers keys, shows
a run executed from outside, and quits."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, Project, wait_for

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux to give the app a terminal")]


def tmux(name: str, *args: str) -> str:
    """tmux on a server of the session's own (``-L NAME``): a session ended by the test before
    leaves its server exiting, and a new session that reached that server failed at random."""
    return subprocess.run(["tmux", "-L", name, *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def session(project: Project) -> Iterator[str]:
    name = f"uet-{uuid.uuid4().hex[:8]}"
    env = f"PYTHONPATH={REPO} TZ=UTC UET_CONFIG=/dev/null TERM=xterm-256color"
    tmux(name, "new-session", "-d", "-s", name, "-x", "80", "-y", "24",
         f"cd {project.root} && env {env} {sys.executable} -m tui.cli tui; sleep 5")
    yield name
    socket = subprocess.run(["tmux", "-L", name, "display-message", "-p", "#{socket_path}"], capture_output=True,
                            text=True).stdout.strip()
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True)
    if socket:
        Path(socket).unlink(missing_ok=True)


def screen(name: str) -> str:
    return tmux(name, "capture-pane", "-p", "-t", name)


def wait_screen(name: str, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen(name)
        if text in shown:
            return shown
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared; the screen shows:\n{shown}")


def test_uet_tui_in_a_terminal(project: Project, session: str) -> None:
    shown = wait_screen(session, "Runs (0)")
    assert "no runs yet" in shown and all(len(line) <= 80 for line in shown.splitlines())
    project.write("ws.yaml", """
        name: smoke
        steps:
          - id: hello
            run: "true"
          - id: world
            needs: [hello]
            run: "true"
    """)
    assert project.uet("run", "--plain", "ws.yaml").returncode == 0
    shown = wait_screen(session, "✔ succeeded")
    assert "smoke" in shown and "Runs (1)" in shown
    wait_screen(session, "✔ world")
    tmux(session, "send-keys", "-t", session, "?")
    wait_screen(session, "dashboard.cancel")
    tmux(session, "send-keys", "-t", session, "Escape")
    wait_screen(session, "Breakers")  # a key sent right after Esc would read as alt+key
    tmux(session, "send-keys", "-t", session, "Enter")
    wait_screen(session, "Attempts of hello")
    tmux(session, "send-keys", "-t", session, "Escape")
    wait_screen(session, "Breakers")
    tmux(session, "send-keys", "-t", session, "q")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "Runs (" in screen(session):
        time.sleep(0.1)
    assert "Runs (" not in screen(session), "q quits when nothing runs here"


def test_a_run_with_failures_and_a_pause_watched_at_80x24(project: Project, session: str) -> None:
    """Sixty steps, two of them failing (each skipping the step after it), paused while a slow
    step runs: the runs row reads "pausing" until the step ends, then "paused", and its counts
    and the DAG pane's footer are those of ``uet status --json``."""
    quick = "\n".join(f"          - {{id: q{n:02d}, run: \"true\"}}" for n in range(1, 52))
    project.write("ws.yaml", """
        name: watched
        max_parallel: 2
        steps:
          - {id: bad1, run: "false"}
          - {id: bad2, run: "false"}
          - {id: after-bad1, run: "true", needs: [bad1]}
          - {id: after-bad2, run: "true", needs: [bad2]}
          - {id: slow, run: "sh -c 'touch started; while [ ! -f go ]; do sleep 0.05; done'", needs: [q01]}
          - {id: after-slow1, run: "true", needs: [slow]}
          - {id: after-slow2, run: "true", needs: [slow]}
          - {id: after-slow3, run: "true", needs: [slow]}
          - {id: after-slow4, run: "true", needs: [slow]}
""" + quick + "\n")
    project.write(".uet/router.yaml", "breaker: {consecutive_failures: 50, window: 50, min_calls: 50}\ntools: {}\n")
    wait_screen(session, "Runs (0)")
    engine, run_id = project.start(project.root / "ws.yaml")
    try:
        # Everything but the slow step and the four after it has finished: it alone runs.
        wait_for(lambda: project.status(run_id)["progress"]["finished"] == 55, timeout=90, interval=0.5,
                 what="every step but the slow one and those after it to finish")
        project.uet("pause", run_id, check=True)
        shown = wait_screen(session, "‖ pausing")
        row = next(line for line in shown.splitlines() if run_id[:8] in line)
        assert "pausing" in row and all(len(line) <= 80 for line in shown.splitlines()), shown
        (project.root / "go").touch()
        engine.wait(timeout=60)
    finally:
        if engine.poll() is None:
            engine.kill()
        engine.communicate()
    status = project.status(run_id)
    progress = status["progress"]
    assert status["state"] == "paused" and (progress["total"], progress["failed"], progress["skipped"]) == (60, 2, 2)
    assert progress["succeeded"] == 60 - 2 - 2 - 4, progress  # the four steps after the slow one wait
    shown = wait_screen(session, "‖ paused")
    row = next(line for line in shown.splitlines() if run_id[:8] in line)
    assert f"{progress['succeeded']}/60 ✘2" in row, row
    footer = f"✔ {progress['succeeded']} ✘ 2 ↷ 2 of 60"
    shown = wait_screen(session, footer)
    assert all(len(line) <= 80 for line in shown.splitlines()), shown
