"""A revision round for a plain tool (no prompt): the comments and the previous diff reach it
in the file named by $UET_FEEDBACK ($UET_GATE_FEEDBACK is a fix round's only). Here the patch
failed its gate and the run failed; the reviewer sends it back instead of overriding, the failed
step is reopened, the tool follows the comment, the gate passes and the run ends succeeded."""

from __future__ import annotations

import json

import pytest

from engine.adapters.sandbox import probe
from tests.conftest import Project
from tests.engine.patch_repos import git

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not probe().available, reason="needs bubblewrap")]


def test_a_failed_runs_patch_is_revised_by_a_tool_reading_its_feedback_file(project: Project) -> None:
    project.write("calc.py", "def add(a, b):\n    return a - b\n")
    project.write(".gitignore", ".uet/\n")
    project.script("edit.sh", """
        if [ -n "$UET_GATE_FEEDBACK" ]; then echo "a fix round's variable in a revision" >&2; exit 3; fi
        if [ -n "$UET_FEEDBACK" ]; then
            grep -q 'use a plus' "$UET_FEEDBACK" && grep -q '^+# checked' "$UET_FEEDBACK" || exit 4
            sed -i 's/a - b/a + b/' calc.py
        else
            printf '# checked\\n' >> calc.py
        fi
    """)
    project.script("check.sh", "grep -q 'a + b' calc.py\n")
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "start")
    project.write(".uet/router.yaml", """
        tools:
          editor:
            command: [sh, "{root}/edit.sh"]
    """)
    project.write("ws.yaml", """
        name: calc
        steps:
          - id: fix
            tool: editor
            produces: patch
            gate: check
        gates:
          check: [[sh, "{root}/check.sh"]]
    """)
    assert project.uet("run", "--plain", "ws.yaml", timeout=120).returncode == 1
    [first] = json.loads(project.uet("patches", "--json", check=True).stdout)
    assert first["state"] == "gate_failed"

    asked = project.uet("patch", "request-changes", first["id"], "--comment", "use a plus", "--file", "calc.py",
                        "--hunk", "0", "--plain", timeout=120)
    assert asked.returncode == 0, asked.stdout + asked.stderr
    rounds = {p["round"]: p for p in json.loads(project.uet("patches", "--json", check=True).stdout)}
    assert rounds[1]["state"] == "superseded" and rounds[1]["superseded_by"] == rounds[2]["id"]
    assert rounds[2]["state"] == "gate_passed" and rounds[2]["round_kind"] == "revision"
    feedback = (project.root / ".uet" / "logs" / first["run_id"] / "fix.round2.feedback.txt").read_text()
    assert "1. On calc.py hunk 0:\n   use a plus\n   Diff there:\n   @@ -1,2 +1,3 @@" in feedback
    status = json.loads(project.uet("status", first["run_id"], "--json", check=True).stdout)
    assert status["state"] == "succeeded"
