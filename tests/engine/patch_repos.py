"""Git repositories with a patch-producing workstream, shared by the ledger, CLI and review tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import Project

LINES = "".join(f"line {n}\n" for n in range(1, 21))


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout


TWO_PLACES = "-e 's/^line 2$/line two/' -e 's/^line 19$/line nineteen/'"


def two_hunk_repo(project: Project, gate_passes: bool = True, edits: str = TWO_PLACES) -> Project:
    """A file of twenty lines; a tool (sed) that makes ``edits`` (by default line 2 and line 19,
    two hunks); a gate; the workstream run once, so the ledger holds its patch."""
    project.write("f.txt", LINES)
    project.write(".gitignore", ".uet/\n")
    project.script("edit.sh", f"sed -i {edits} f.txt\n")
    project.script("check.sh", "grep -q 'line 1' f.txt\n" if gate_passes else "echo 'check: not yet' >&2\nexit 1\n")
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "start")
    project.write(".uet/router.yaml", """
        tools:
          editor:
            command: [sh, "{root}/edit.sh"]
            capabilities: [code_edit]
    """)
    project.write("ws.yaml", """
        name: two-places
        steps:
          - id: edit
            kind: code_edit
            tool: editor
            produces: patch
            gate: check
        gates:
          check: [[sh, "{root}/check.sh"]]
    """)
    project.uet("run", "--plain", str(project.root / "ws.yaml"), timeout=120)
    return project
