"""The patch cycle with real tools in a real git repository: a real `ruff --fix` proposes a
patch in a scratch worktree, real pytest gates it, a person approves and applies it (and can
revert it); a failed gate blocks approval; a fix loop feeds the failure back; a conflicting
apply is refused with the tree untouched; a tool that prints a diff is captured too."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from tests.conftest import Project
from tests.engine.patch_repos import git

pytestmark = pytest.mark.slow

PY = sys.executable


def snapshot(root: Path) -> str:
    """A hash of every file outside .git and .uet, to prove a refusal wrote nothing."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts and ".uet" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def repo(project: Project) -> Project:
    project.write("calc.py", "import os\nimport sys\n\n\ndef add(a, b):\n    return a + b\n")
    project.write("test_calc.py", "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n")
    project.write(".gitignore", ".uet/\n__pycache__/\n.pytest_cache/\n.ruff_cache/\n")
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "start")
    project.write(".uet/router.yaml", f"""
        tools:
          ruff-fix:
            command: ["{PY}", -m, ruff, check, --fix, --select, F401, --no-cache, .]
            executable: "{PY}"
            capabilities: [code_edit]
          ruff-diff:
            command: ["{PY}", -m, ruff, check, --fix, --diff, --select, F401, --no-cache, .]
            executable: "{PY}"
            capabilities: [code_edit]
            diff_output: true
            success_codes: [0, 1]
    """)
    return project


def workstream(project: Project, tool: str = "ruff-fix", gate_cmd: str = "-m, pytest, -q, -p, no:cacheprovider",
               extra: str = "") -> Path:
    return project.write("ws.yaml", f"""
        name: tidy
        steps:
          - id: fix
            kind: code_edit
            tool: {tool}
            produces: patch
            gate: tests
{extra}
        gates:
          tests: [["{PY}", {gate_cmd}]]
    """)


def patches(project: Project) -> list[dict]:
    return json.loads(project.uet("patches", "--json", check=True).stdout)


def test_ruff_fix_is_proposed_gated_approved_applied_and_reverted(repo: Project) -> None:
    ws = workstream(repo)
    before = snapshot(repo.root)
    result = repo.uet("run", "--plain", str(ws))
    assert result.returncode == 0, result.stdout + result.stderr
    assert snapshot(repo.root) == before, "a patch step must not touch the working tree"
    [patch] = patches(repo)
    assert patch["state"] == "gate_passed"
    assert [f["path"] for f in patch["files"]] == ["calc.py"] and patch["removed"] == 2
    shown = repo.uet("patch", "show", patch["id"], check=True).stdout
    assert "-import os" in shown and "-import sys" in shown and "✔ round 1" in shown and "pytest" in shown
    assert Path(patch["worktree"]).is_dir()

    approved = repo.uet("patch", "approve", patch["id"][:6], "--comment", "looks right", check=True)
    assert "approved" in approved.stdout
    applied = repo.uet("patch", "apply", patch["id"], "--commit", check=True)
    assert "applied" in applied.stdout
    assert "import os" not in (repo.root / "calc.py").read_text()
    log = git(repo.root, "log", "-1", "--format=%s")
    assert "step fix" in log and patch["id"] in log and patch["run_id"] in log
    assert not Path(patch["worktree"]).exists(), "the worktree goes once the patch is decided"

    reverted = repo.uet("patch", "revert", patch["id"], "--commit", check=True)
    assert "reverted" in reverted.stdout
    assert (repo.root / "calc.py").read_text().startswith("import os\n")
    events = repo.uet("logs", patch["run_id"], "--json", check=True).stdout.splitlines()
    moves = [(json.loads(e)["data"].get("to"), json.loads(e)["data"].get("by"))
             for e in events if json.loads(e)["kind"] == "patch.state"]
    assert [m[0] for m in moves] == ["proposed", "gating", "gate_passed", "approved", "applied", "reverted"]
    assert all(by for _to, by in moves)


def test_a_failed_gate_blocks_approval_unless_overridden(repo: Project) -> None:
    repo.write("test_calc.py", "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 6\n")
    git(repo.root, "commit", "-q", "-am", "a failing test")
    result = repo.uet("run", "--plain", str(workstream(repo)))
    assert result.returncode == 1
    [patch] = patches(repo)
    assert patch["state"] == "gate_failed"
    shown = repo.uet("patch", "show", patch["id"], check=True).stdout
    assert "✘ round 1" in shown and "assert 5 == 6" in shown
    refused = repo.uet("patch", "approve", patch["id"])
    assert refused.returncode == 2 and "--override" in refused.stderr
    assert repo.uet("patch", "apply", patch["id"]).returncode == 2
    overridden = repo.uet("patch", "approve", patch["id"], "--override", "the test itself is wrong", check=True)
    assert "override: the test itself is wrong" in overridden.stdout


def test_fix_loop_feeds_the_gate_failure_back_until_it_passes(repo: Project) -> None:
    repo.script("editor.sh", """
        if [ -n "$UET_GATE_FEEDBACK" ] && grep -q "assert" "$UET_GATE_FEEDBACK"; then
            sed -i 's/a - b  # quick/a + b  # checked/' calc.py
        else
            sed -i 's/a + b/a - b  # quick/' calc.py
        fi
    """)
    git(repo.root, "add", "editor.sh")
    git(repo.root, "commit", "-q", "-m", "editor")
    repo.write(".uet/router.yaml", """
        tools:
          editor:
            command: [sh, "{root}/editor.sh"]
            capabilities: [code_edit]
    """)
    result = repo.uet("run", "--plain", str(workstream(repo, tool="editor", extra="            fix_loop: {max_rounds: 2}")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fix round 1 of 2" in result.stdout
    by_round = {p["round"]: p for p in patches(repo)}
    # The first round is superseded by the fix round's patch, linked both ways.
    assert by_round[1]["state"] == "superseded" and by_round[1]["superseded_by"] == by_round[2]["id"]
    assert by_round[2]["parent_id"] == by_round[1]["id"] and by_round[2]["round_kind"] == "fix"
    assert by_round[2]["state"] == "gate_passed"


def test_a_three_way_conflict_is_refused_and_the_tree_left_exactly_as_it_was(repo: Project) -> None:
    assert repo.uet("run", "--plain", str(workstream(repo))).returncode == 0
    [patch] = patches(repo)
    repo.uet("patch", "approve", patch["id"], check=True)
    repo.write("calc.py", "import os as operating_system\nimport sys\n\n\ndef add(a, b):\n    return a + b\n")
    git(repo.root, "commit", "-q", "-am", "someone else changed the same line")
    before = snapshot(repo.root)
    status_before = git(repo.root, "status", "--porcelain")
    refused = repo.uet("patch", "apply", patch["id"])
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "conflict" in refused.stderr
    assert snapshot(repo.root) == before and git(repo.root, "status", "--porcelain") == status_before
    assert patches(repo)[0]["state"] == "approved"


def test_a_tool_that_prints_a_diff_is_captured(repo: Project) -> None:
    result = repo.uet("run", "--plain", str(workstream(repo, tool="ruff-diff")))
    assert result.returncode == 0, result.stdout + result.stderr
    [patch] = patches(repo)
    assert patch["state"] == "gate_passed" and patch["removed"] == 2
    assert "import os" in (repo.root / "calc.py").read_text()


def test_gc_removes_worktrees_of_decided_patches(repo: Project) -> None:
    assert repo.uet("run", "--plain", str(workstream(repo))).returncode == 0
    [patch] = patches(repo)
    assert "0 worktree(s) removed; 1 kept" in repo.uet("gc", check=True).stdout
    repo.uet("patch", "reject", patch["id"], "--reason", "not now", check=True)
    assert not Path(patch["worktree"]).exists()
    assert "kept" in repo.uet("gc", check=True).stdout
