"""The CLI twin of hunk review: list a patch's hunks, approve some as a new patch (gated again
and approved when it passes, the original rejected), and find exactly the kept hunk applied."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Project
from tests.engine.patch_repos import LINES, two_hunk_repo

pytestmark = pytest.mark.slow


def test_split_regate_and_apply_one_hunk(project: Project) -> None:
    two_hunk_repo(project)
    [patch] = json.loads(project.uet("patches", "--json", check=True).stdout)
    listed = project.uet("patch", "hunks", patch["id"], check=True).stdout
    assert "f.txt" in listed and "0.0" in listed and "0.1" in listed

    assert project.uet("patch", "split", patch["id"], "--hunks", "9.9").returncode == 2, "unknown hunk"
    split = project.uet("patch", "split", patch["id"], "--hunks", "0.1", check=True).stdout
    assert f"patch {patch['id']} rejected" in split and "approved: chosen by" in split and "gate check passed" in split
    by_state = {p["state"]: p for p in json.loads(project.uet("patches", "--json", check=True).stdout)}
    kept = by_state["approved"]  # approved once its gate passed: no second approve
    assert by_state["rejected"]["id"] == patch["id"] and kept["added"] == 1 and kept["removed"] == 1
    project.uet("patch", "apply", kept["id"], check=True)
    assert (project.root / "f.txt").read_text() == LINES.replace("line 19\n", "line nineteen\n")
