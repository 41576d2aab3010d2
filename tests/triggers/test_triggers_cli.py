"""``uet triggers`` in this process: the list (kind, next fire, last fire and its run), pause,
and a fire by hand that runs here when no server is live; an unknown name is bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from store import triggers as fires_db
from tests.triggers.conftest import TriggerProject
from tui.cli import main

WORKSTREAM = """\
name: tick
on:
  - every: 10m
steps:
  - id: a
    run: [echo, hi]
"""


def uet(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--project", str(root)])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_pause_and_fire_by_hand_without_a_server(tp: TriggerProject, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tp.root)  # a run in the foreground moves to its project's root
    tp.workstream("tick", WORKSTREAM)
    code, out, _err = uet(capsys, tp.root, "triggers")
    assert code == 0 and out.startswith("server: none (start one with: uet serve --detach)")
    [row] = [line for line in out.splitlines() if line.startswith("tick/every")]
    assert row.split()[:6] == ["tick/every", "every", "every", "10m", "in", "10m00s"] and row.split()[6:] == ["never", "-", "-"]

    assert uet(capsys, tp.root, "triggers", "pause", "every")[1] == "trigger tick/every paused\n"
    assert uet(capsys, tp.root, "triggers", "pause", "tick/every")[1] == "trigger tick/every was already paused\n"
    assert "tick/every ‖ paused" in uet(capsys, tp.root, "triggers")[1]

    code, out, _err = uet(capsys, tp.root, "triggers", "fire", "every", "--plain")
    assert code == 0, out
    [fire] = fires_db.fires()
    assert (fire.kind, fire.state, fire.outcome) == ("manual", "done", "succeeded") and fire.reason.startswith(
        "fired by hand by ")
    assert tp.runs() == [(fire.run_id, "tick", "succeeded")]
    assert f"{fire.run_id}  succeeded" in uet(capsys, tp.root, "triggers")[1]

    code, _out, err = uet(capsys, tp.root, "triggers", "fire", "nightly")
    assert code == 2 and err == "uet: no trigger named 'nightly' (triggers: tick/every)\n"
