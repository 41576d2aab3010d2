"""The CLI twin of hunk review: list a patch's hunks, keep some as a new patch (gated again,
the original rejected), re-run a gate, and find exactly the kept hunk applied."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import Project

pytestmark = pytest.mark.slow


def git(project: Project, *args: str) -> str:
    return subprocess.run(["git", "-C", str(project.root), "-c", "user.name=t", "-c", "user.email=t@example.com",
                           *args], check=True, capture_output=True, text=True).stdout


def test_split_regate_and_apply_one_hunk(project: Project) -> None:
    original = "".join(f"line {i}\n" for i in range(1, 31))
    project.write("f.txt", original)
    project.script("edit.sh", 'sed -i "s/^line 2$/line two/; s/^line 25$/line twenty-five/" f.txt\n')
    project.write(".uet/router.yaml", """
        tools:
          editor:
            command: ["./edit.sh"]
            capabilities: [code_edit]
    """)
    project.write("ws.yaml", """
        name: two
        steps:
          - id: edit
            kind: code_edit
            tool: editor
            produces: patch
            gate: ok
        gates:
          ok: [["true"]]
    """)
    project.write(".gitignore", ".uet/\n")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "start")
    assert project.uet("run", "--plain", "ws.yaml").returncode == 0
    [patch] = json.loads(project.uet("patches", "--json", check=True).stdout)
    listed = project.uet("patch", "hunks", patch["id"], check=True).stdout
    assert "0.0" in listed and "0.1" in listed and "@@ -22,7 +22,7 @@" in listed

    assert project.uet("patch", "split", patch["id"], "--hunks", "9.9").returncode == 2, "unknown hunk"
    split = project.uet("patch", "split", patch["id"], "--hunks", "0.1", check=True).stdout
    assert f"patch {patch['id']} rejected" in split and "gate_passed" in split
    by_state = {p["state"]: p for p in json.loads(project.uet("patches", "--json", check=True).stdout)}
    kept = by_state["gate_passed"]
    assert by_state["rejected"]["id"] == patch["id"] and kept["added"] == 1 and kept["removed"] == 1

    regated = project.uet("patch", "regate", kept["id"], check=True).stdout
    assert "gate_passed" in regated
    project.uet("patch", "approve", kept["id"], check=True)
    project.uet("patch", "apply", kept["id"], check=True)
    assert (project.root / "f.txt").read_text() == original.replace("line 25\n", "line twenty-five\n")
