"""``uet map`` as a person runs it: a real subprocess in a real project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "platformdirs"


def uet(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".uet").mkdir(parents=True)
    shutil.copytree(FIXTURE, root / "pkg")
    (root / "pkg" / "broken.py").write_text("class Broken(:\n    pass\n")
    return root


def test_the_map_goes_to_stdout_and_the_figures_and_skipped_files_to_stderr(project: Path) -> None:
    done = uet(project / "pkg", "map", "--tokens", "600", "--focus", "android.py")  # run from a sub-folder
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pkg/") and "│" in done.stdout and len(done.stdout) <= 600 * 4
    lines = done.stderr.splitlines()
    assert lines[0].startswith("16 files: 16 parsed, 0 from the cache, 1 skipped;")
    assert lines[1] == "  skipped pkg/broken.py: syntax error at line 1"
    warm = uet(project, "map", "--tokens", "600", "--focus", "pkg/android.py")
    assert warm.stdout == done.stdout
    assert warm.stderr.startswith("16 files: 0 parsed, 16 from the cache, 1 skipped;")


def test_json_has_the_text_files_skipped_and_figures(project: Path) -> None:
    done = uet(project, "map", "pkg", "--json", "--no-cache", "--focus", "pkg/unix.py")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["root"] == str((project / "pkg").resolve()) and found["focus"] == ["unix.py"]
    assert found["skipped"] == [{"path": "broken.py", "why": "syntax error at line 1"}]
    assert found["files"][0] + ":" == found["text"].split("\n", 1)[0]
    assert found["stats"]["parsed"] == 16 and found["stats"]["cache"] == "off" and found["stats"]["tokens"] <= 2048
    assert not (project / ".uet" / "cache").exists()  # --no-cache wrote nothing


@pytest.mark.parametrize(("args", "message"), [
    (["map", "missing"], "uet: PATH missing: no such folder"),
    (["map", "pkg/api.py"], "uet: PATH pkg/api.py: not a folder"),
    (["map", ".."], "uet: PATH ..: outside the project"),
    (["map", "--focus", "nope.py"], "uet: --focus nope.py: no such file"),
    (["map", "pkg", "--focus", "outside.py"], "uet: --focus outside.py: outside"),
    (["map", "--tokens", "10"], "uet: --tokens 10: give a number from 256 to 65536"),
    (["map", "--tokens", "many"], "uet: argument --tokens: invalid int value: 'many'"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(project: Path, args: list[str], message: str) -> None:
    (project / "outside.py").write_text("x = 1\n")
    done = uet(project, *args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines()[-1].startswith(message)
    assert not (project / ".uet" / "cache").exists()
