"""``uet profiles list | show | validate`` as a user types them: what they print, their JSON
shapes and their exit codes. Most cases call ``main`` in this process (fast); a few run the
real command in a subprocess, the way a user does."""

from __future__ import annotations

import json

import pytest
import yaml

from engine.profiles import builtin_dir, resolve
from schemas.profile import Profile
from tests.conftest import Project
from tui.cli import main

BUILTINS = ["data-pipeline", "documentation", "generic", "infrastructure", "software-dev-python",
            "software-dev-typescript"]

OVERRIDE = """\
    name: software-dev-python
    extends: software-dev-python
    description: Ours.
    defaults: {max_parallel: 8}
"""


@pytest.fixture
def here(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The project, as the current directory (the CLI finds the project from there)."""
    monkeypatch.chdir(project.root)
    return project


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_the_builtins(here: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "profiles", "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["NAME", "SOURCE", "EXTENDS", "DESCRIPTION"]
    assert [line.split()[0] for line in lines[1:]] == BUILTINS
    assert all(line.split()[1:3] == ["builtin", "-"] for line in lines[1:])


def test_list_marks_a_local_override(here: Project, capsys: pytest.CaptureFixture[str]) -> None:
    here.write(".uet/profiles/software-dev-python.yaml", OVERRIDE)
    code, out, _ = run(capsys, "profiles", "list")
    row = next(line for line in out.splitlines() if line.startswith("software-dev-python"))
    assert code == 0
    assert ".uet/profiles/software-dev-python.yaml (overrides builtin)" in row and "Ours." in row
    assert row.split()[4] == "software-dev-python"  # the EXTENDS column

    code, out, _ = run(capsys, "profiles", "list", "--json")
    entries = {entry["name"]: entry for entry in json.loads(out)}
    assert sorted(entries) == BUILTINS
    local = entries["software-dev-python"]
    assert local["source"] == str(here.root / ".uet/profiles/software-dev-python.yaml") == local["path"]
    assert local["overrides"] == str(builtin_dir() / "software-dev-python.yaml")
    assert (local["extends"], local["description"], local["valid"]) == ("software-dev-python", "Ours.", True)
    assert entries["generic"]["source"] == "builtin" and entries["generic"]["overrides"] is None


def test_list_shows_a_broken_file_without_failing(here: Project, capsys: pytest.CaptureFixture[str]) -> None:
    here.write(".uet/profiles/broken.yaml", "name: broken\nweight: [\n")
    code, out, _ = run(capsys, "profiles", "list")
    assert code == 0 and "invalid: see `uet profiles validate`" in out
    code, out, _ = run(capsys, "profiles", "list", "--json")
    broken = next(entry for entry in json.loads(out) if entry["name"] == "broken")
    assert broken["valid"] is False and "broken.yaml:" in broken["error"]


def test_show_prints_the_resolved_profile_as_yaml_that_reads_back(here: Project,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    here.write(".uet/profiles/software-dev-python.yaml", OVERRIDE)
    code, out, _ = run(capsys, "profiles", "show", "software-dev-python")
    assert code == 0
    assert out.startswith("# profile software-dev-python, resolved from: .uet/profiles/software-dev-python.yaml"
                          " → builtin software-dev-python\n")
    assert "run: ['{facts.test_command}']" in out  # argv lists on one line, as people write them
    shown = Profile.model_validate(yaml.safe_load(out))
    resolved = resolve("software-dev-python", here.root)
    assert shown == resolved and shown.description == "Ours." and shown.defaults.max_parallel == 8


def test_show_json_is_the_resolved_model(here: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "profiles", "show", "infrastructure", "--json")
    assert code == 0
    assert Profile.model_validate(json.loads(out)) == resolve("infrastructure", None)


def test_show_an_unknown_profile_exits_2(here: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "profiles", "show", "documentaton")
    assert (code, out) == (2, "")
    assert "uet: no profile named 'documentaton'; did you mean 'documentation'?" in err


def test_validate_everything_this_project_sees(here: Project, capsys: pytest.CaptureFixture[str]) -> None:
    here.write(".uet/profiles/software-dev-python.yaml", OVERRIDE)
    code, out, err = run(capsys, "profiles", "validate")
    assert (code, err) == (0, "")
    assert len(out.splitlines()) == 7 and all(line.startswith("✔ ") for line in out.splitlines())
    assert "✔ .uet/profiles/software-dev-python.yaml" in out


def test_validate_reports_every_problem_with_its_location(here: Project,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = here.write(".uet/profiles/mine.yaml", """\
        name: mine
        extends: generic
        detect:
          - {kind: file, path: a.txt, weight: heavy, description: a}
        phases:
          check:
            steps:
              - {id: a, run: "{facts.tset_command}"}
    """)
    code, out, err = run(capsys, "profiles", "validate")
    assert code == 2 and "✔ " in out and "mine.yaml" not in out
    assert err.splitlines() == [
        f"{bad}:8:17: phases.check.steps[0].run: unknown fact {{facts.tset_command}}; "
        "did you mean {facts.test_command}?",
        f"{bad}:4:31: detect[0].weight: a number is expected, found the string 'heavy'",
        "uet: 2 problem(s) in 1 of 7 profile file(s)",
    ]

    code, out, _ = run(capsys, "profiles", "validate", "--json", str(bad))
    document = json.loads(out)
    assert code == 2 and document["valid"] is False
    assert [(p["line"], p["field"]) for p in document["files"][0]["problems"]] == [
        (8, "phases.check.steps[0].run"), (4, "detect[0].weight")]


def test_validate_named_files(here: Project, capsys: pytest.CaptureFixture[str]) -> None:
    good = here.write("drafts/generic.yaml", "name: generic\nextends: generic\ndescription: mine\n")
    code, out, _ = run(capsys, "profiles", "validate", str(good), str(builtin_dir() / "documentation.yaml"))
    assert code == 0 and out.splitlines()[0] == "✔ drafts/generic.yaml"
    code, _, err = run(capsys, "profiles", "validate", "nowhere.yaml")
    assert code == 2 and err.startswith("nowhere.yaml: no such file")
    code, out, _ = run(capsys, "profiles", "validate", "--json", str(good))
    assert code == 0 and json.loads(out) == {"valid": True, "files": [
        {"file": str(good), "valid": True, "problems": []}]}


# -- the real command -----------------------------------------------------------------------------


@pytest.mark.slow
def test_real_cli_list_show_validate(project: Project) -> None:
    listed = project.uet("profiles", "list", "--json", check=True)
    assert [entry["name"] for entry in json.loads(listed.stdout)] == BUILTINS
    shown = project.uet("profiles", "show", "software-dev-typescript", check=True)
    assert Profile.model_validate(yaml.safe_load(shown.stdout)).name == "software-dev-typescript"
    assert project.uet("profiles", "validate", check=True).stdout.count("✔") == 6
    assert "profiles" in project.uet("--help", check=True).stdout


@pytest.mark.slow
def test_real_cli_validate_failure_exits_2_without_a_traceback(project: Project) -> None:
    bad = project.write(".uet/profiles/loop.yaml", "name: loop\nextends: loop\n")
    result = project.uet("profiles", "validate")
    assert result.returncode == 2
    assert f"{bad}:2:1: extends: the profile 'loop' extends itself" in result.stderr
    assert "Traceback" not in result.stderr
    missing = project.uet("profiles", "show", "nope")
    assert missing.returncode == 2 and "no profile named 'nope'" in missing.stderr
