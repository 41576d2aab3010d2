"""The map in a step's prompt, through a real ``uet run``: ``context: [repo_map]`` appends it
under its heading, ``{repo_map}`` puts it in place, ``repo_map: {tokens: N}`` bounds it, and the
project's cache keeps the tags. The step's tool is a small script that prints its prompt file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from engine.repomap.render import estimate_tokens

REPO = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "platformdirs"
PY = sys.executable
ECHO_FILE = f"[{PY}, -c, \"import sys; print(open(sys.argv[1]).read())\", \"{{prompt_file}}\"]"
HEADING = "## Repository map\n\n"


def uet(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "tui.cli", *args], cwd=root, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"})


def prompts_of(root: Path) -> dict[str, str]:
    run = json.loads(uet(root, "runs", "--json").stdout)[0]["id"]
    found = {}
    for step in ("appended", "inline"):
        status = json.loads(uet(root, "status", run, step, "--json").stdout)
        found[step] = Path(status["attempts"][0]["prompt_path"]).read_text()
    return found


def test_a_step_gets_the_map_after_its_prompt_or_in_place_of_the_placeholder(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / ".uet").mkdir(parents=True)
    shutil.copytree(FIXTURE, root / "pkg")
    (root / ".uet" / "router.yaml").write_text(f"tools:\n  echo: {{command: {ECHO_FILE}}}\n")
    (root / "ws.yaml").write_text("""\
name: mapped
steps:
  - id: appended
    tool: echo
    context: [repo_map, pkg/android.py]
    repo_map: {tokens: 512}
    prompt: Fix the Android paths.
  - id: inline
    tool: echo
    prompt: "Here is the code:\\n{repo_map}\\nEnd."
""")
    done = uet(root, "run", "ws.yaml", "--plain")
    assert done.returncode == 0, done.stdout + done.stderr
    found = prompts_of(root)

    appended = found["appended"]
    assert appended.startswith("Fix the Android paths.\n\nFiles in scope:\n- pkg/android.py\n\n" + HEADING)
    assert "- repo_map" not in appended  # a section, not a file
    text = appended.split(HEADING, 1)[1]
    assert estimate_tokens(text) <= 512
    shown = [line[:-1] for line in text.splitlines() if line.startswith("pkg/")]
    assert shown[0] in {"pkg/android.py", "pkg/api.py", "pkg/_paths.py", "pkg/_android.py"}  # its focus leads
    assert "pkg/_android.py" in shown[:3]  # android.py's own helper, low in a map without focus

    inline = found["inline"]
    assert inline.startswith("Here is the code:\npkg/") and inline.endswith("\n\nEnd.")
    assert HEADING not in inline and len(inline) > len(text)  # the default budget, 2048 tokens, is larger
    assert (root / ".uet" / "cache" / "repomap" / "tags.v1.sqlite").is_file()

    again = uet(root, "map", "--json")  # the run's cache serves the command line: nothing parsed
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["stats"]["parsed"] == 0


def test_a_budget_out_of_bounds_is_refused_at_validate(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / ".uet").mkdir(parents=True)
    (root / "ws.yaml").write_text("name: bad\nsteps:\n  - id: a\n    run: [true]\n    repo_map: {tokens: 100}\n")
    done = uet(root, "validate", "ws.yaml")
    assert done.returncode == 2
    assert "ws.yaml:5" in done.stderr and "repo_map.tokens" in done.stderr and "256" in done.stderr


def test_the_focus_is_the_context_files_and_the_previous_rounds_patch(tmp_path: Path) -> None:
    from engine.repomap.section import focus_files, repo_map_text

    (tmp_path / "src").mkdir()
    for name in ("a.py", "b.py"):
        (tmp_path / "src" / name).write_text("x = 1\n")
    diff = ("diff --git a/lib/old.py b/lib/old.py\n--- a/lib/old.py\n+++ b/lib/old.py\n@@ -1 +1 @@\n-x\n+y\n"
            "diff --git a/lib/new.py b/lib/new.py\n--- /dev/null\n+++ b/lib/new.py\n@@ -0,0 +1 @@\n+z\n")
    assert focus_files(str(tmp_path), ["src/*.py", "repo_map", "memory", "docs/x.md"], diff) == [
        "src/a.py", "src/b.py", "docs/x.md", "lib/old.py", "lib/new.py"]
    gone = repo_map_text(str(tmp_path), str(tmp_path / "gone"), {"context": ["repo_map"]})
    assert gone.startswith("[no repository map:") and "no such folder" in gone  # the attempt goes on
