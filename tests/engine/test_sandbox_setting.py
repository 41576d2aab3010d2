"""The project's ``sandbox:`` setting in ``.uet/project.yaml``: how it is read, that a wrong one
is refused before a run with file, line and field, and that bootstrap keeps a hand-added
``sandbox: off`` without taking the manifest for edited."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.bootstrap.generate import manifest_text, verified_manifest
from engine.errors import ValidationFailed
from engine.patches.policy import sandbox_setting
from schemas.bootstrap import ProjectManifest
from tests.conftest import REPO, Project


@pytest.mark.parametrize("text, expected", [
    (None, "on"), ("name: x\n", "on"), ("sandbox: off\n", "off"), ("sandbox: 'off'\n", "off"),
    ("sandbox: on\n", "on"), ("sandbox: \"on\"\n", "on"),
])
def test_the_setting_is_read_from_the_manifest(tmp_path: Path, text: str | None, expected: str) -> None:
    if text is not None:
        (tmp_path / ".uet").mkdir()
        (tmp_path / ".uet" / "project.yaml").write_text(text)
    assert sandbox_setting(tmp_path) == expected


@pytest.mark.parametrize("value", ["maybe", "0", "[off]", "null"])
def test_anything_else_is_an_error_naming_file_line_and_field(tmp_path: Path, value: str) -> None:
    (tmp_path / ".uet").mkdir()
    manifest = tmp_path / ".uet" / "project.yaml"
    manifest.write_text(f"name: x\nsandbox: {value}\n")
    with pytest.raises(ValidationFailed) as caught:
        sandbox_setting(tmp_path)
    [problem] = caught.value.problems
    assert problem.render().startswith(f"{manifest}:2:1: sandbox: ")
    assert problem.message.endswith("is not a sandbox setting: use on or off")


def test_a_wrong_setting_stops_a_run_with_patch_steps_before_anything_is_written(project: Project) -> None:
    project.write(".uet/project.yaml", "sandbox: no-thanks\n")
    workstream = project.write("ws.yaml", "name: w\nsteps:\n  - {id: a, run: [echo], produces: patch}\n")
    result = project.uet("run", "--plain", str(workstream))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{project.root}/.uet/project.yaml:1:1: sandbox: 'no-thanks' is not a sandbox setting" in result.stderr
    assert not project.db.exists()
    plain = project.write("plain.yaml", "name: p\nsteps:\n  - {id: a, run: [echo]}\n")
    assert project.uet("validate", str(plain)).returncode == 0, "only patch steps read the setting"


def manifest(**fields: object) -> ProjectManifest:
    return ProjectManifest(name="p", profile="generic", profile_source="builtin", confidence=0.5,
                           generated_at="2026-01-01T00:00:00+00:00", **fields)  # type: ignore[arg-type]


def test_a_hand_added_sandbox_off_keeps_the_manifest_verified_and_is_carried_over() -> None:
    text = manifest_text(manifest())
    assert "sandbox" not in text, "the default is said by saying nothing"
    edited = text.replace("profile: generic\n", "profile: generic\nsandbox: off\n")
    found = verified_manifest(edited)
    assert found is not None and found.sandbox == "off"
    assert verified_manifest(edited.replace("profile: generic", "profile: other")) is None, "other edits still count"
    assert "sandbox: 'off'\n" in manifest_text(manifest(sandbox="off"))


def test_bootstrap_keeps_sandbox_off(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# p\n")
    uet = [sys.executable, "-m", "tui.cli", "bootstrap"]
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    subprocess.run([*uet, str(tmp_path)], check=True, capture_output=True, env=env, timeout=120)
    path = tmp_path / ".uet" / "project.yaml"
    path.write_text(path.read_text().replace("\nprofile:", "\nsandbox: off\nprofile:", 1))
    again = subprocess.run([*uet, "--force", str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert sandbox_setting(tmp_path) == "off"
    assert verified_manifest(path.read_text()) is not None
