"""The real `uet tui` in a real terminal (tmux): it starts, draws at 80×24, answers keys, shows
a run executed from outside, and quits."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import REPO, Project

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux to give the app a terminal")]


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def session(project: Project) -> Iterator[str]:
    name = f"uet-{uuid.uuid4().hex[:8]}"
    env = f"PYTHONPATH={REPO} TZ=UTC UET_CONFIG=/dev/null TERM=xterm-256color"
    tmux("new-session", "-d", "-s", name, "-x", "80", "-y", "24",
         f"cd {project.root} && env {env} {sys.executable} -m tui.cli tui; sleep 5")
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def screen(name: str) -> str:
    return tmux("capture-pane", "-p", "-t", name)


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
    tmux("send-keys", "-t", session, "?")
    wait_screen(session, "dashboard.cancel")
    tmux("send-keys", "-t", session, "Escape")
    wait_screen(session, "Breakers")  # a key sent right after Esc would read as alt+key
    tmux("send-keys", "-t", session, "Enter")
    wait_screen(session, "Attempts of hello")
    tmux("send-keys", "-t", session, "Escape")
    wait_screen(session, "Breakers")
    tmux("send-keys", "-t", session, "q")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "Runs (" in screen(session):
        time.sleep(0.1)
    assert "Runs (" not in screen(session), "q quits when nothing runs here"
