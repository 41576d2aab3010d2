"""Bootstrap on trimmed copies of real public repositories (real/<name>.tar.gz; real/README.md
names each source, commit and licence): the profile it picks, the evidence it gives for it, and that every workstream it
writes passes ``uet validate``.

The first ten ecosystems here are the classes of mistake bootstrap used to make: a Go library
taken for documentation (its Markdown), a Gradle build taken for documentation (its
mkdocs.yml), Ansible playbooks not seen at all, a folder of notebooks taken for a Python
package.
"""

from __future__ import annotations

import os
import sys
import tarfile
from pathlib import Path

import pytest

from engine.bootstrap.orchestrate import bootstrap
from schemas.bootstrap import BootstrapReport
from tui.cli import main

REAL = Path(__file__).parent / "real"
VENV_BIN = os.path.dirname(sys.executable)

# folder -> (profile, a signal of its evidence, the quality/phase steps' commands that matter)
CASES: dict[str, tuple[str, str, dict[str, list[str]]]] = {
    "cobra": ("generic", "go.mod (Go module)", {"test": ["go", "test", "./..."]}),
    "okhttp": ("generic", "build.gradle.kts (Gradle)", {"test": ["./gradlew", "test"]}),
    "gson": ("generic", "pom.xml (Maven)", {"test": ["mvn", "-q", "test"]}),
    "anyhow": ("generic", "Cargo.toml (Rust crate)", {"lint": ["cargo", "clippy"], "test": ["cargo", "test"]}),
    "sinatra": ("generic", "Gemfile (Ruby with Bundler)", {"test": ["bundle", "exec", "rake", "test"]}),
    "MediatR": ("generic", "a .NET solution (*.sln)", {"test": ["dotnet", "test"]}),
    "fmt": ("generic", "CMakeLists.txt (CMake)", {}),
    "nvm": ("generic", "shell scripts at the root", {}),
    "ansible-examples": ("infrastructure", "Ansible plays (hosts:)", {}),
    "PythonDataScienceHandbook": ("data-pipeline", "twenty or more notebooks", {}),
    "express": ("software-dev-typescript", "package.json at the root", {"test": ["npm", "test"]}),
    "ky": ("software-dev-typescript", "tsconfig.json (TypeScript)", {"lint": ["npx", "xo"]}),
    "jaffle_shop": ("data-pipeline", "dbt_project.yml (dbt)", {}),
    "terraform-aws-vpc": ("infrastructure", "Terraform files", {}),
    "helm-charts": ("infrastructure", "a Helm chart (Chart.yaml)", {}),
    "awesome-compose": ("infrastructure", "five or more Compose projects", {}),
    "requests": ("software-dev-python", "pyproject.toml at the root", {"test": ["python", "-m", "pytest", "-q"]}),
    "seaborn": ("software-dev-python", "pytest configured in pyproject.toml", {}),
}
"""The phase each case's commands are read from: generic and the software profiles' quality."""


def copy(name: str, tmp_path: Path) -> Path:
    """The trimmed copy, unpacked. Kept packed so that it is data to this repository, not part
    of it: a bootstrap of this project would otherwise find eighteen others inside it."""
    root = tmp_path / name
    with tarfile.open(REAL / f"{name}.tar.gz") as archive:
        archive.extractall(root, filter="data")
    return root


def steps_of(root: Path, phase: str) -> dict[str, list[str]]:
    import yaml

    document = yaml.safe_load((root / ".uet" / "workstreams" / f"{phase}.yaml").read_text(encoding="utf-8"))
    return {step["id"]: step.get("run") for step in document["steps"]}


def stand_ins(report: BootstrapReport, where: Path) -> str:
    """A PATH with an empty program for each tool this machine lacks (bootstrap warned about
    it), as installing them would give: ``uet validate`` refuses a missing executable."""
    where.mkdir()
    for problem in report.problems:
        if "not found on PATH" in problem.message:
            program = where / problem.message.split("'")[1]
            program.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
            program.chmod(0o755)
    return os.pathsep.join([str(where), VENV_BIN, os.environ.get("PATH", "")])


def test_every_folder_is_a_case_and_named_in_the_readme() -> None:
    folders = sorted(p.name.removesuffix(".tar.gz") for p in REAL.glob("*.tar.gz"))
    assert folders == sorted(CASES)
    readme = (REAL / "README.md").read_text(encoding="utf-8")
    assert all(f"| {name}.tar.gz | https://github.com/" in readme for name in folders)


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_repository_gets_the_right_profile_with_its_evidence(name: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    profile, signal, commands = CASES[name]
    root = copy(name, tmp_path)
    report = bootstrap(root)
    assert (report.profile, report.chosen_by) == (profile, "detection"), (report.scores, report.runner_up)
    assert signal in [e.signal for e in report.evidence[profile]]
    assert [i.message for i in report.problems if i.severity == "error"] == []
    generated = [p.file for p in report.phases if p.generated and p.file]
    assert generated
    if commands:
        phase = "quality"
        steps = steps_of(root, phase)
        for step, argv in commands.items():
            assert steps[step] == argv, steps
    monkeypatch.setenv("PATH", stand_ins(report, tmp_path / "stand-ins"))
    monkeypatch.chdir(root)
    for file in generated:
        assert main(["validate", file]) == 0, file


def test_a_notebook_folder_is_data_work_with_a_notebooks_phase(tmp_path: Path) -> None:
    root = copy("PythonDataScienceHandbook", tmp_path)
    report = bootstrap(root, dry_run=True)
    assert report.runner_up == "software-dev-python"
    assert "many notebooks (data work) rather than a package" in [e.signal for e in
                                                                  report.evidence["software-dev-python"]]
    assert [p.name for p in report.phases if p.generated] == ["notebooks"]
    assert all(str(path).endswith(".ipynb") for path in report.facts["notebooks"])


def test_a_python_package_with_notebooks_stays_python(tmp_path: Path) -> None:
    report = bootstrap(copy("seaborn", tmp_path), dry_run=True)
    assert report.profile == "software-dev-python" and report.scan.notebooks > 0


def test_ansible_playbooks_are_found_by_their_plays_and_syntax_checked(tmp_path: Path) -> None:
    root = copy("ansible-examples", tmp_path)
    report = bootstrap(root)
    playbooks = report.facts["ansible_playbooks"]
    assert "lamp_simple/site.yml" in playbooks
    assert not any("/roles/" in p or "group_vars" in p for p in playbooks)
    steps = steps_of(root, "ansible")
    assert list(steps) == ["syntax", "lint"] and steps["syntax"][:2] == ["sh", "-c"]
    assert "lamp_simple/site.yml" in steps["syntax"]


def test_a_docs_site_inside_a_gradle_build_does_not_make_it_documentation(tmp_path: Path) -> None:
    report = bootstrap(copy("okhttp", tmp_path), dry_run=True)
    assert report.runner_up == "documentation"
    documentation = {e.signal: e.weight for e in report.evidence["documentation"]}
    assert documentation["mkdocs.yml (MkDocs)"] == 6 and documentation["a Gradle build (code) with its docs"] == -5
