"""``uet bootstrap`` as a user types it: the summary, ``--json``, exit codes, the progress line
on a terminal; and, with the real command in a subprocess, that what it writes passes
``uet validate`` and that the Python fixture's generated workstream runs with real ruff and
pytest."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from schemas.scan import ScanProgress
from tests.conftest import Project
from tests.engine import repos
from tui.cli import main
from tui.cli.bootstrap import STAGE_WORDS, progress

FIXTURES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "python": (repos.python_package, "software-dev-python"),
    "typescript": (repos.typescript_library, "software-dev-typescript"),
    "dbt": (repos.dbt_project, "data-pipeline"),
    "mkdocs": (repos.mkdocs_site, "documentation"),
    "terraform": (repos.terraform_module, "infrastructure"),
    "monorepo": (repos.mixed_monorepo, "software-dev-python"),
    "empty": (lambda root: (root.mkdir(), root)[1], "generic"),
    "not-git": (lambda root: repos.build(root, {"notes.md": "# notes\n", "run.sh": "echo hi\n"}), "generic"),
}
VENV_BIN = os.path.dirname(sys.executable)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if ".git" not in path.relative_to(root).parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + (path.read_bytes() if path.is_file() else b""))
    return digest.hexdigest()


@pytest.fixture(autouse=True)
def venv_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """ruff and python from the virtualenv; no AI coding agent of this machine is found."""
    monkeypatch.setenv("PATH", repos.without_agents(os.pathsep.join([VENV_BIN, os.environ.get("PATH", "")])))


# ---------------------------------------------------------------------------- in this process


def test_dry_run_json_prints_the_report_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = repos.python_package(tmp_path / "inventory")
    before = snapshot(root)
    code, out, err = run(capsys, "bootstrap", str(root), "--dry-run", "--json")
    assert code == 0 and err == "" and snapshot(root) == before
    report = json.loads(out)
    assert report["profile"] == "software-dev-python" and report["confidence"] == 1.0
    assert report["scores"]["software-dev-python"] == 13 and report["scores"]["generic"] == 0.1
    assert report["evidence"]["software-dev-python"][0]["matches"][0]["path"] == "pyproject.toml"
    assert {f["path"]: f["action"] for f in report["files"]}[".uet/workstreams/quality.yaml"] == "create"
    assert report["dry_run"] is True and report["written"] is False
    assert [s["name"] for s in report["stages"]] == ["scan", "select", "generate", "validate", "write"]
    assert report["scan"]["languages"]["Python"] == 3


@pytest.mark.parametrize("fixture", sorted(FIXTURES))
def test_summary_names_the_profile_and_fits_80_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       fixture: str) -> None:
    make, profile = FIXTURES[fixture]
    root = make(tmp_path / fixture)
    code, out, err = run(capsys, "bootstrap", str(root))
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].startswith("uet bootstrap ") and str(root).endswith(lines[0][len("uet bootstrap "):].lstrip("…"))
    assert any(line.startswith(f"profile    {profile} (") for line in lines)
    assert lines[-1] == f"wrote {sum(1 for line in lines if line[11:].startswith('create') or line[11:].startswith('update'))} file(s)"
    too_wide = [line for line in lines if len(line) > 80]
    assert too_wide == []
    assert any(line.startswith("next") for line in lines)


def test_python_summary_shows_evidence_facts_phases_and_what_to_run(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root = repos.python_package(tmp_path / "inventory")
    monkeypatch.chdir(root)
    code, out, _ = run(capsys, "bootstrap")
    assert code == 0
    assert "profile    software-dev-python (detected, confidence 1.00)\n" in out
    assert "scores     software-dev-python 13 · generic 0.1\n" in out
    assert "evidence   software-dev-python\n" in out
    assert "     +3  pytest configured in pyproject.toml  pyproject.toml:" in out
    assert "facts      test_command: python -m pytest -q  (pyproject.toml\n" in out
    assert "phases     quality: .uet/workstreams/quality.yaml (2 step(s))\n" in out
    assert "files      create     .uet/workstreams/quality.yaml\n" in out
    assert "next       uet validate .uet/workstreams/quality.yaml\n           uet run .uet/workstreams/quality.yaml\n" in out

    code, out, _ = run(capsys, "bootstrap")
    assert code == 0 and out.endswith("\nnothing to do: every file is up to date\n")
    assert out.count("unchanged") == 5


def test_conflict_exits_2_shows_the_diff_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = repos.python_package(tmp_path / "inventory")
    assert run(capsys, "bootstrap", str(root))[0] == 0
    router = root / ".uet/router.yaml"
    router.write_text(router.read_text(encoding="utf-8").replace("strategy: auto", "strategy: fixed"), encoding="utf-8")
    before = snapshot(root)
    code, out, _ = run(capsys, "bootstrap", str(root))
    assert code == 2 and snapshot(root) == before
    assert "           conflict   .uet/router.yaml  changed since bootstrap wrote it;\n" in out
    assert "\n--- a/.uet/router.yaml\n+++ b/.uet/router.yaml\n" in out
    assert "\n-strategy: fixed\n+strategy: auto\n" in out
    assert "rerun with --force to overwrite" in out
    assert [line for line in out.splitlines() if len(line) > 80] == [], "the generated files fit 80 columns too"

    code, out, _ = run(capsys, "bootstrap", str(root), "--dry-run", "--json")
    assert code == 2 and {f["path"]: f["action"] for f in json.loads(out)["files"]}[".uet/router.yaml"] == "conflict"

    code, out, _ = run(capsys, "bootstrap", str(root), "--force")
    assert code == 0 and "strategy: auto" in router.read_text(encoding="utf-8")


def test_profile_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = repos.mkdocs_site(tmp_path / "handbook")
    code, out, _ = run(capsys, "bootstrap", str(root), "--profile", "generic")
    assert code == 0
    assert "profile    generic (--profile; detection chose documentation, confidence 0.70)\n" in out
    assert (root / ".uet/workstreams/check.yaml").is_file() and not (root / ".uet/workstreams/docs.yaml").exists()


def test_unknown_profile_exits_2_listing_the_known_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = repos.python_package(tmp_path / "inventory")
    before = snapshot(root)
    code, out, err = run(capsys, "bootstrap", str(root), "--profile", "software-dev-pyton")
    assert code == 2 and out == "" and snapshot(root) == before
    assert err == ("uet: no profile named 'software-dev-pyton'; did you mean 'software-dev-python'?; available: "
                   "data-pipeline, documentation, generic, infrastructure, software-dev-python, "
                   "software-dev-typescript\n")


@pytest.mark.parametrize(("name", "message"), [
    ("missing", "no such directory; give the path of the project to scan"),
    ("pyproject.toml", "not a directory; give the project's folder, not a file in it"),
])
def test_a_path_that_is_not_a_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                                                message: str) -> None:
    root = repos.python_package(tmp_path / "inventory")
    before = snapshot(root)
    code, out, err = run(capsys, "bootstrap", str(root / name))
    assert code == 2 and out == "" and err == f"uet: {root / name}: {message}\n"
    assert snapshot(root) == before


# ---------------------------------------------------------------------------- the real command


def uet(root: Path, *args: str, path: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    project = Project(root)
    env = project.env()
    env["PATH"] = path or os.pathsep.join([VENV_BIN, os.environ.get("PATH", "")])
    return subprocess.run(project.argv(*args), cwd=root, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_python_fixture_bootstraps_validates_and_runs_with_real_ruff_and_pytest(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    done = uet(root, "bootstrap")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == "", "no progress line when stderr is not a terminal"
    for name in ("quality", "feature"):
        valid = uet(root, "validate", f".uet/workstreams/{name}.yaml")
        assert valid.returncode == 0 and valid.stdout.startswith(f"✔ .uet/workstreams/{name}.yaml is valid"), valid.stderr
    ran = uet(root, "run", "--plain", ".uet/workstreams/quality.yaml")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "step lint running → succeeded" in ran.stdout and "step test running → succeeded" in ran.stdout
    runs = json.loads(uet(root, "runs", "--json").stdout)
    assert [(r["workstream"], r["state"]) for r in runs] == [("quality", "succeeded")]
    status = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=root, capture_output=True, text=True,
                            check=True).stdout
    assert "!! .uet/uet.db" in status and "!! .uet/logs/" in status, "the run's state is git-ignored"
    again = uet(root, "bootstrap")
    assert again.returncode == 0 and again.stdout.endswith("nothing to do: every file is up to date\n")


@pytest.mark.slow
@pytest.mark.parametrize("fixture", sorted(FIXTURES))
def test_every_generated_workstream_passes_uet_validate(tmp_path: Path, fixture: str) -> None:
    make, profile = FIXTURES[fixture]
    root = make(tmp_path / fixture)
    done = uet(root, "bootstrap", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["profile"] == profile
    generated = [p["file"] for p in report["phases"] if p["generated"]]
    assert generated
    # Tools this machine lacks (dbt, mkdocs, lychee, ...) are warnings for bootstrap but errors for
    # `uet validate`: give it stand-ins, as installing them would.
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    path = os.pathsep.join([VENV_BIN, os.environ.get("PATH", "")])
    for problem in report["problems"]:
        if "not found on PATH" in problem["message"]:
            name = problem["message"].split("'")[1]
            (stubs / name).write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
            (stubs / name).chmod(0o755)
    for file in generated:
        valid = uet(root, "validate", file, path=os.pathsep.join([str(stubs), path]))
        assert valid.returncode == 0, f"{file}:\n{valid.stdout}{valid.stderr}"


def test_progress_line_shows_the_scan_counts_then_the_stage() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=80)
    with progress(console) as (on_progress, on_stage):
        assert on_progress is not None and on_stage is not None
        on_stage("scan")
        on_progress(ScanProgress(files=12345, dirs=678, current="services/api/tests", elapsed_s=0.4))
    assert "scanning: 12,345 files, 678 folders · services/api/tests" in screen.getvalue()
    with progress(None) as callbacks:
        assert callbacks == (None, None)


@pytest.mark.slow
def test_progress_is_drawn_on_stderr_only_when_it_is_a_terminal(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    primary, secondary = pty.openpty()
    project = Project(root)
    try:
        done = subprocess.run(project.argv("bootstrap", "--dry-run"), cwd=root, env=project.env(),
                              stdout=subprocess.PIPE, stderr=secondary, stdin=subprocess.DEVNULL, text=True, timeout=120)
        os.close(secondary)
        drawn = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal is closed and everything was read
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(primary)
    assert done.returncode == 0
    assert "profile    software-dev-python (detected" in done.stdout and "\x1b" not in done.stdout
    # which stages get a frame depends on timing; that some status was drawn there does not
    assert any(f"{word}…".encode() in drawn for word in STAGE_WORDS.values()), drawn[-300:]

