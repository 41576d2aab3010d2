"""Bootstrap end to end, in this process: realistic repositories built in the test are
scanned, scored, generated, validated and written, and the report is checked against what a
person would expect — the profile, the evidence, the workstreams, and the files on disk.

Running the generated workstreams with the real ``uet`` is in tests/tui/test_bootstrap_cli.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import jsonschema
import pytest

from engine.bootstrap.generate import GITIGNORE_HEADER, verified_manifest
from engine.bootstrap.orchestrate import bootstrap
from engine.bootstrap.select import confidence, is_ambiguous
from engine.bootstrap.write import safe_target
from engine.errors import InputError, NotFound
from engine.yamlsafe import parse
from schemas.bootstrap import BootstrapReport
from schemas.export import render
from schemas.workstream import Workstream
from tests.engine import repos

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(autouse=True)
def venv_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """ruff and python resolve as in an activated virtualenv, so warnings do not depend on
    how the tests were started; no AI coding agent of this machine is found."""
    monkeypatch.setenv("PATH", repos.without_agents(os.pathsep.join([os.path.dirname(sys.executable),
                                                                     os.environ.get("PATH", "")])))


def snapshot(root: Path) -> str:
    """A hash of every path and file content below ``root`` except .git: proves nothing was written."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if ".git" in path.relative_to(root).parts:
            continue
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        if path.is_file() and not path.is_symlink():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def files(report: BootstrapReport) -> dict[str, str]:
    return {f.path: f.action for f in report.files}


def evidence(report: BootstrapReport, profile: str) -> dict[str, list[str]]:
    """Signal -> the places it matched ('path' or 'path:line')."""
    return {e.signal: [f"{m.path}:{m.line}" if m.line else m.path for m in e.matches]
            for e in report.evidence.get(profile, [])}


def line_of(root: Path, text: str, name: str = "pyproject.toml") -> int:
    lines = (root / name).read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.startswith(text))


def workstream(root: Path, relpath: str) -> Workstream:
    text = (root / relpath).read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=https://uet.dev/schemas/workstream.v1.json\n")
    return Workstream.model_validate(parse(text, relpath).data)


def warnings(report: BootstrapReport) -> list[str]:
    return [f"{i.file} {i.field}: {i.message}" for i in report.problems if i.severity == "warning"]


def unread_files(report: BootstrapReport) -> list[str]:
    return [i.file or "" for i in report.problems if i.stage == "select"]


def errors(report: BootstrapReport) -> list[str]:
    return [f"{i.file} {i.field}: {i.message}" for i in report.problems if i.severity == "error"]


# ---------------------------------------------------------------------------- realistic repositories


def test_python_package_gets_the_python_profile_and_runnable_workstreams(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    report = bootstrap(root)

    assert (report.profile, report.chosen_by, report.confidence, report.ambiguous) == (
        "software-dev-python", "detection", 1.0, False)
    assert report.scores["software-dev-python"] == 13
    assert all(score < 1 for name, score in report.scores.items() if name != "software-dev-python")
    found = evidence(report, "software-dev-python")
    assert found["pyproject.toml at the root"] == ["pyproject.toml"]
    assert found["pytest configured in pyproject.toml"] == [f"pyproject.toml:{line_of(root, '[tool.pytest.')}"]
    assert found["ruff configured in pyproject.toml"] == [f"pyproject.toml:{line_of(root, '[tool.ruff]')}"]
    assert found["a tests/ folder"] == ["tests"]
    assert report.facts["test_command"] == ["python", "-m", "pytest", "-q"]
    assert report.facts["lint_command"] == ["ruff", "check", "."]
    assert report.facts["source_dirs"] == ["src"]
    assert report.fact_sources["test_command"] == "pyproject.toml [tool.pytest.ini_options]"

    assert [(p.name, p.generated, p.steps) for p in report.phases] == [("quality", True, 2), ("feature", True, 5)]
    assert files(report) == {
        ".uet/workstreams/quality.yaml": "create", ".uet/workstreams/feature.yaml": "create",
        ".uet/router.yaml": "create", ".gitignore": "update", ".uet/project.yaml": "create",
    }
    assert report.written and errors(report) == [] and warnings(report) == []
    assert [s.name for s in report.stages] == ["scan", "select", "generate", "validate", "write"]
    assert report.next_steps[1] == "uet run .uet/workstreams/quality.yaml"

    quality = workstream(root, ".uet/workstreams/quality.yaml")
    assert [(s.id, s.run, s.needs) for s in quality.steps] == [
        ("lint", ["ruff", "check", "."], []), ("test", ["python", "-m", "pytest", "-q"], ["lint"])]
    feature = workstream(root, ".uet/workstreams/feature.yaml")
    assert feature.gates == {"tests": [["python", "-m", "pytest", "-q"]]}
    assert next(s for s in feature.steps if s.id == "implement").gate == "tests"
    router = (root / ".uet/router.yaml").read_text(encoding="utf-8")
    assert router.startswith("# yaml-language-server: $schema=https://uet.dev/schemas/router.v1.json\n")
    assert {"ruff", "pytest", "mypy", "sim-coder"} <= set(parse(router, "router.yaml").data["tools"])

    ignore = (root / ".gitignore").read_text(encoding="utf-8")
    assert ignore.startswith("__pycache__/\n.ruff_cache/\n*.egg-info/\n")  # the user's lines, untouched
    assert ignore.endswith(f"\n{GITIGNORE_HEADER}\n.uet/uet.db*\n.uet/logs/\n.uet/worktrees/\n")

    manifest = verified_manifest((root / ".uet/project.yaml").read_text(encoding="utf-8"))
    assert manifest is not None and manifest.profile == "software-dev-python" and manifest.confidence == 1.0
    assert manifest.phases == {"quality": ".uet/workstreams/quality.yaml", "feature": ".uet/workstreams/feature.yaml"}
    for path, digest in manifest.files.items():
        assert digest == "sha256:" + hashlib.sha256((root / path).read_bytes()).hexdigest()


def test_typescript_library(tmp_path: Path) -> None:
    root = repos.typescript_library(tmp_path / "dates")
    report = bootstrap(root)
    assert (report.profile, report.confidence, report.ambiguous) == ("software-dev-typescript", 1.0, False)
    found = evidence(report, "software-dev-typescript")
    assert found["package.json at the root"] == ["package.json"]
    assert found["tsconfig.json (TypeScript)"] == ["tsconfig.json"]
    assert found["vitest configured"] == ["vitest.config.ts"]
    assert found["a test runner among the package's dependencies"][0].startswith("package.json:")
    assert report.facts["package_manager"] == "npm"
    assert report.facts["test_command"] == ["npm", "test"]
    assert report.facts["lint_command"] == ["npm", "run", "lint"]
    assert [(p.name, p.generated) for p in report.phases] == [("quality", True), ("build", True), ("feature", True)]
    quality = workstream(root, ".uet/workstreams/quality.yaml")
    assert [(s.id, s.run) for s in quality.steps] == [
        ("install", ["npm", "install"]), ("lint", ["npm", "run", "lint"]), ("test", ["npm", "test"])]
    assert "python" not in json.dumps(report.facts), "a TypeScript profile never runs Python tools"


def test_dbt_project(tmp_path: Path) -> None:
    root = repos.dbt_project(tmp_path / "shop")
    report = bootstrap(root)
    assert (report.profile, report.confidence) == ("data-pipeline", 1.0)
    found = evidence(report, "data-pipeline")
    assert found["dbt_project.yml (dbt)"] == ["dbt_project.yml"]
    assert "models/marts/customers.sql" in found["five or more SQL files"]
    assert found["sqlfluff configured"] == [".sqlfluff"]
    pipeline = workstream(root, ".uet/workstreams/pipeline.yaml")
    assert [(s.id, s.run) for s in pipeline.steps] == [("build", ["dbt", "build"]), ("test", ["dbt", "test"])]
    assert workstream(root, ".uet/workstreams/lint.yaml").steps[0].run == ["sqlfluff", "lint", "."]
    # dbt and sqlfluff are not installed here: warnings with file and field; the files are still written
    for tool, file in (("dbt", ".uet/workstreams/pipeline.yaml"), ("sqlfluff", ".uet/workstreams/lint.yaml")):
        if not any(Path(d, tool).exists() for d in os.environ["PATH"].split(os.pathsep)):
            assert f"{file} steps[0].run[0]: executable {tool!r} not found on PATH" in " ".join(warnings(report))
    assert report.written and errors(report) == []


def test_mkdocs_site(tmp_path: Path) -> None:
    root = repos.mkdocs_site(tmp_path / "handbook")
    report = bootstrap(root)
    assert report.profile == "documentation" and not report.ambiguous
    assert report.runner_up == "software-dev-python"  # requirements.txt is a Python signal
    assert evidence(report, "documentation")["mkdocs.yml (MkDocs)"] == ["mkdocs.yml"]
    assert report.facts["docs_command"] == ["mkdocs", "build", "--strict"]
    assert report.facts["docs_dir"] == "docs"
    docs = workstream(root, ".uet/workstreams/docs.yaml")
    assert [(s.id, s.run) for s in docs.steps] == [
        ("build", ["mkdocs", "build", "--strict"]), ("link-check", ["lychee", "--offline", "--no-progress", "docs"])]


def test_terraform_module(tmp_path: Path) -> None:
    root = repos.terraform_module(tmp_path / "bucket")
    report = bootstrap(root)
    assert report.profile == "infrastructure"
    assert evidence(report, "infrastructure")["Terraform files"] == [
        "main.tf", "outputs.tf", "variables.tf", "versions.tf", "examples/basic/main.tf"]
    assert report.facts["terraform_dirs"] == [".", "examples/basic"]
    assert {p.name: p.reason for p in report.phases if not p.generated} == {
        "ansible": "needs ansible_playbooks, which the scan did not find",
        "helm": "needs helm_charts, which the scan did not find",
        "docker": "needs dockerfiles, which the scan did not find",
        "compose": "needs compose_files, which the scan did not find",
        "kubernetes": "needs kubernetes_manifests, which the scan did not find",
    }
    steps = workstream(root, ".uet/workstreams/terraform.yaml").steps
    assert [s.id for s in steps] == ["fmt", "validate", "plan"]
    assert steps[1].run[-2:] == [".", "examples/basic"]  # the folders come as arguments of the loop
    assert not (root / ".uet/workstreams/docker.yaml").exists()


def test_mixed_monorepo_runs_the_python_tests_in_their_folder(tmp_path: Path) -> None:
    root = repos.mixed_monorepo(tmp_path / "platform")
    report = bootstrap(root)
    assert report.profile == "software-dev-python" and report.runner_up == "software-dev-typescript"
    assert report.scores["infrastructure"] == 5 and report.scores["software-dev-typescript"] == 7
    assert evidence(report, "software-dev-typescript")["package.json of a sub-project (monorepo)"] == ["web/package.json"]
    assert evidence(report, "infrastructure")["Terraform files"] == ["infra/main.tf", "infra/network.tf"]
    assert report.facts["test_command"] == ["python", "-m", "pytest", "-q"]
    assert report.fact_sources["test_command"] == (
        "services/api/pyproject.toml [tool.pytest.ini_options] (runs in services/api/)")
    assert "format_command" not in report.facts, "terraform fmt is not a Python project's formatter"
    quality = workstream(root, ".uet/workstreams/quality.yaml")
    assert [(s.id, s.cwd) for s in quality.steps] == [("lint", None), ("test", "services/api")]
    feature = workstream(root, ".uet/workstreams/feature.yaml")
    assert feature.gates["tests"] == [["sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", "services/api",
                                       "python", "-m", "pytest", "-q"]]
    manifest = verified_manifest((root / ".uet/project.yaml").read_text(encoding="utf-8"))
    assert manifest is not None and manifest.workdirs == {"test_command": "services/api"}


def test_empty_directory_gets_the_fallback(tmp_path: Path) -> None:
    report = bootstrap(tmp_path)
    assert (report.profile, report.chosen_by, report.confidence, report.runner_up) == ("generic", "fallback", 0.0, None)
    assert report.scores["generic"] == 0.1 and report.scan.files_seen == 0
    assert [p.name for p in report.phases if p.generated] == ["check"]
    assert workstream(tmp_path, ".uet/workstreams/check.yaml").steps[0].kind == "review"
    assert files(report)[".gitignore"] == "create"


def test_non_git_directory(tmp_path: Path) -> None:
    repos.build(tmp_path, {"notes.md": "# notes\n", "backup.sh": "#!/bin/sh\ncp -r a b\n"})
    report = bootstrap(tmp_path)
    assert report.scan.git.is_repo is False and report.scan.git.error is None
    assert report.profile == "generic" and report.written


def test_close_scores_are_ambiguous_and_name_the_runner_up(tmp_path: Path) -> None:
    repos.build(tmp_path, {
        "pyproject.toml": "[project]\nname = 'tool'\n",
        "tool.py": "print('hi')\n",
        "package.json": '{"name": "tool"}\n',
        "package-lock.json": "{}\n",
    })
    report = bootstrap(tmp_path, dry_run=True)
    assert report.scores["software-dev-python"] == report.scores["software-dev-typescript"] == 6
    # a tie is no confidence at all: the generic profile, with the better of the two named (ties: by name)
    assert report.ambiguous and report.margin is None and report.confidence == 0
    assert (report.profile, report.chosen_by, report.runner_up) == ("generic", "fallback", "software-dev-python")
    assert any("software-dev-python scored only 6, software-dev-typescript 6" in w for w in warnings(report))
    assert "uet bootstrap --profile software-dev-python" in report.next_steps


@pytest.mark.parametrize(("best", "second", "ambiguous", "sure"), [
    (13, None, False, 1.0),     # alone
    (10, 8.5, True, 0.3),       # within 2 points
    (20, 16.5, True, 0.35),     # within 20 % of the best
    (20, 15, False, 0.5),
    (12, 6, False, 1.0),        # the runner-up has half the best: full separation
    (5, 0, False, 0.5),         # strong evidence scores 10 or more
])
def test_ambiguity_margin_and_confidence(best: float, second: float | None, ambiguous: bool, sure: float) -> None:
    assert is_ambiguous(best, second) is ambiguous
    assert confidence(best, second) == sure


# ---------------------------------------------------------------------------- options and re-runs


def test_profile_option_overrides_detection(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    report = bootstrap(root, profile="documentation")
    assert (report.profile, report.chosen_by, report.detected) == ("documentation", "option", "software-dev-python")
    assert report.confidence == 1.0  # detection's confidence in what it detected
    assert [(p.name, p.generated, p.reason) for p in report.phases] == [
        ("docs", False, "needs docs_command, docs_dir, which the scan did not find")]
    assert parse((root / ".uet/project.yaml").read_text(encoding="utf-8"), "m").data["profile"] == "documentation"


def test_unknown_profile_is_an_input_error_naming_the_known_ones(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    before = snapshot(root)
    with pytest.raises(NotFound) as caught:
        bootstrap(root, profile="pyhton")
    assert "no profile named 'pyhton'" in str(caught.value)
    assert "software-dev-python" in str(caught.value) and "data-pipeline" in str(caught.value)
    assert caught.value.exit_code == 2 and snapshot(root) == before


@pytest.mark.parametrize("what", ["missing", "file"])
def test_a_path_that_is_not_a_directory_is_an_input_error(tmp_path: Path, what: str) -> None:
    target = tmp_path / "nothing"
    if what == "file":
        target.write_text("x\n", encoding="utf-8")
    with pytest.raises(InputError, match="no such directory" if what == "missing" else "not a directory"):
        bootstrap(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if what == "missing" else ["nothing"])


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    before = snapshot(root)
    report = bootstrap(root, dry_run=True)
    assert snapshot(root) == before and not (root / ".uet").exists()
    assert report.dry_run and not report.written
    assert set(files(report).values()) == {"create", "update"}
    assert report.next_steps[0].startswith("uet bootstrap ")


def test_second_run_is_a_no_op(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    bootstrap(root)
    manifest = (root / ".uet/project.yaml").read_text(encoding="utf-8")
    before = snapshot(root)
    again = bootstrap(root)
    assert set(files(again).values()) == {"unchanged"} and not again.written
    assert snapshot(root) == before
    assert (root / ".uet/project.yaml").read_text(encoding="utf-8") == manifest  # the date too
    assert (root / ".gitignore").read_text(encoding="utf-8").count(".uet/logs/") == 1


def test_a_file_the_user_edited_is_a_conflict_with_a_diff_and_nothing_is_written(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    bootstrap(root)
    quality = root / ".uet/workstreams/quality.yaml"
    quality.write_text(quality.read_text(encoding="utf-8").replace("max_parallel: 2", "max_parallel: 1"),
                       encoding="utf-8")
    (root / "src/inventory/extra.py").write_text("VALUE = 1\n", encoding="utf-8")  # enough to change the manifest
    (root / "setup.cfg").write_text("[metadata]\nname = inventory\n", encoding="utf-8")
    before = snapshot(root)

    report = bootstrap(root)
    planned = {f.path: f for f in report.files}
    assert planned[".uet/workstreams/quality.yaml"].action == "conflict"
    assert planned[".uet/workstreams/quality.yaml"].reason == "changed since bootstrap wrote it; --force overwrites it"
    diff = planned[".uet/workstreams/quality.yaml"].diff or ""
    assert diff.startswith("--- a/.uet/workstreams/quality.yaml\n+++ b/.uet/workstreams/quality.yaml\n")
    assert "-max_parallel: 1\n+max_parallel: 2\n" in diff
    assert planned[".uet/project.yaml"].action == "update"
    assert not report.written and snapshot(root) == before
    assert report.next_steps == ["uet bootstrap --force   # overwrite the files in conflict"]

    forced = bootstrap(root, force=True)
    planned = {f.path: f for f in forced.files}
    assert planned[".uet/workstreams/quality.yaml"].action == "update" and planned[".uet/workstreams/quality.yaml"].forced
    assert "max_parallel: 2" in quality.read_text(encoding="utf-8")
    assert set(files(bootstrap(root)).values()) == {"unchanged"}


def test_a_file_bootstrap_did_not_write_is_a_conflict(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    mine = "# my own router\ntools: {}\n"
    repos.build(root, {".uet/router.yaml": mine})
    report = bootstrap(root)
    planned = {f.path: f for f in report.files}
    assert planned[".uet/router.yaml"].action == "conflict"
    assert planned[".uet/router.yaml"].reason == "not written by bootstrap; --force overwrites it"
    assert (root / ".uet/router.yaml").read_text(encoding="utf-8") == mine
    assert not (root / ".uet/workstreams").exists()


def test_an_edited_manifest_is_a_conflict_and_its_hashes_are_not_trusted(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    bootstrap(root)
    manifest = root / ".uet/project.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("name: inventory", "name: stock"),
                        encoding="utf-8")
    (root / "setup.cfg").write_text("[metadata]\nname = inventory\n", encoding="utf-8")
    report = bootstrap(root)
    assert files(report)[".uet/project.yaml"] == "conflict" and not report.written


def test_gitignore_that_already_covers_the_state_is_left_alone(tmp_path: Path) -> None:
    repos.build(tmp_path, {".gitignore": "# everything of uet\n.uet/*\n!.uet/workstreams/\n", "a.py": "A = 1\n"})
    report = bootstrap(tmp_path)
    assert files(report)[".gitignore"] == "unchanged"
    assert (tmp_path / ".gitignore").read_text(encoding="utf-8") == "# everything of uet\n.uet/*\n!.uet/workstreams/\n"


def test_gitignore_without_a_final_newline_gets_the_entries_once(tmp_path: Path) -> None:
    repos.build(tmp_path, {"a.py": "A = 1\n"})
    (tmp_path / ".gitignore").write_text("*.tmp", encoding="utf-8")
    bootstrap(tmp_path)
    bootstrap(tmp_path, force=True)
    assert (tmp_path / ".gitignore").read_text(encoding="utf-8") == (
        f"*.tmp\n\n{GITIGNORE_HEADER}\n.uet/uet.db*\n.uet/logs/\n.uet/worktrees/\n")


def test_project_local_profile_overrides_the_builtin(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    repos.build(root, {".uet/profiles/software-dev-python.yaml": """
        name: software-dev-python
        extends: software-dev-python
        description: Ours, with a stricter test run.
        detect:
          - {kind: file, path: README.md, weight: 1, description: a README}
    """, ".uet/profiles/broken.yaml": "name: broken\ndetect: 3\n"})
    report = bootstrap(root)
    assert report.profile == "software-dev-python"
    assert report.profile_source == ".uet/profiles/software-dev-python.yaml"
    assert report.scores["software-dev-python"] == 14
    assert evidence(report, "software-dev-python")["a README"] == ["README.md"]
    assert "broken" not in report.scores
    assert any(i.file == ".uet/profiles/broken.yaml" and i.field == "detect" for i in report.problems)
    assert errors(report) == []


CUSTOM = """
    name: reviewed
    description: Changes reviewed by a command-line reviewer, checked by a script.
    detect:
      - {kind: file, path: REVIEW.md, weight: 6, description: a REVIEW.md}
    tools:
      reviewer:
        command: [no-such-reviewer, --diff]
        capabilities: [review]
      editor:
        adapter: sim
        capabilities: [code_edit]
        sim: {seed: 1}
    phases:
      change:
        steps:
          - {id: edit, kind: code_edit, produces: patch, gate: checks}
          - {id: review, kind: review, needs: [edit]}
    gates:
      checks:
        - [no-such-checker, --strict]
"""


def test_missing_executables_of_tools_and_gates_are_warnings_with_file_line_and_field(tmp_path: Path) -> None:
    repos.build(tmp_path, {"REVIEW.md": "# how we review\n", ".uet/profiles/reviewed.yaml": CUSTOM})
    report = bootstrap(tmp_path)
    assert report.profile == "reviewed" and report.profile_source == ".uet/profiles/reviewed.yaml"
    assert report.written and errors(report) == []
    found = {(i.file, i.field): (i.line, i.message) for i in report.problems if i.stage == "validate"}
    line, message = found[(".uet/workstreams/change.yaml", "gates.checks[0][0]")]
    assert message.startswith("executable 'no-such-checker' not found on PATH")
    assert (tmp_path / ".uet/workstreams/change.yaml").read_text(encoding="utf-8").splitlines()[line - 1] == (
        "  - [no-such-checker, --strict]")
    line, message = found[(".uet/router.yaml", "tools.reviewer.command[0]")]
    assert message.startswith("executable 'no-such-reviewer' not found on PATH")
    assert "no-such-reviewer" in (tmp_path / ".uet/router.yaml").read_text(encoding="utf-8").splitlines()[line - 1]


def test_a_profile_template_with_errors_is_reported_where_it_is_written_and_nothing_is_written(tmp_path: Path) -> None:
    broken = CUSTOM.replace("gate: checks}", "gate: chekcs}")
    repos.build(tmp_path, {"REVIEW.md": "# how we review\n", ".uet/profiles/reviewed.yaml": broken})
    before = snapshot(tmp_path)
    report = bootstrap(tmp_path)
    assert report.profile == "reviewed" and not report.written and snapshot(tmp_path) == before
    problem = next(i for i in report.problems if i.severity == "error")
    assert (problem.file, problem.field) == (".uet/profiles/reviewed.yaml", "phases.change.steps[0].gate")
    assert "unknown gate 'chekcs'; did you mean 'checks'?" in problem.message and problem.line is not None
    assert "gate: chekcs" in (tmp_path / ".uet/profiles/reviewed.yaml").read_text(encoding="utf-8").splitlines()[
        problem.line - 1]
    assert [(p.name, p.generated, p.reason) for p in report.phases] == [
        ("change", False, "its template has errors (see the errors)")]


# ---------------------------------------------------------------------------- bad trees and unsafe paths


def test_bad_entries_in_the_tree_are_skipped_with_reasons_never_a_crash(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    (root / "loop").symlink_to(root / "loop")
    (root / "ring").mkdir()
    (root / "ring" / "back").symlink_to(root / "ring")
    (root / "dangling").symlink_to(root / "gone")
    (root / "deploy").mkdir()
    (root / "deploy" / "huge.yaml").write_text("- item\n" * 2_000_000, encoding="utf-8")  # 14 MB, probed by a content signal
    (root / "deploy" / "app.yaml").write_bytes(b"apiVersion: v1\x00\x01kind: Pod\n" * 10)
    (root / "tests" / "data.bin").write_bytes(bytes(range(256)) * 64)
    secret = root / "secret.toml"
    secret.write_text("token = 1\n", encoding="utf-8")
    secret.chmod(0)
    try:
        report = bootstrap(root)
    finally:
        secret.chmod(0o644)
    assert report.profile == "software-dev-python" and report.written and errors(report) == []
    reasons = {s.path: s.reason for s in report.scan.skipped}
    assert reasons["loop"] == "symlink loop"
    assert reasons["dangling"].startswith("broken symlink")
    assert "deploy/huge.yaml" not in reasons and "deploy/huge.yaml" not in unread_files(report), (
        "a huge file is read up to the content limit, not whole, and not reported")
    unread = {i.file: i.message for i in report.problems if i.stage == "select"}
    assert unread["deploy/app.yaml"] == "not read for content signals: binary file"
    if not AS_ROOT:
        assert report.scan.skipped_count >= 3


def test_a_symlinked_uet_folder_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / ".uet").symlink_to(outside)
    before = snapshot(root)
    report = bootstrap(root)
    assert not report.written and snapshot(root) == before and list(outside.iterdir()) == []
    assert ".uet is a symbolic link; bootstrap writes only real files inside the project" in errors(report)[0]


@pytest.mark.parametrize(("relpath", "why"), [
    ("../x.yaml", "not a plain path inside the project"),
    ("/etc/x.yaml", "not a plain path inside the project"),
    ("a.py/x.yaml", "a.py is not a folder"),
])
def test_safe_target_refuses_paths_that_leave_the_project(tmp_path: Path, relpath: str, why: str) -> None:
    (tmp_path / "a.py").write_text("A = 1\n", encoding="utf-8")
    path, reason = safe_target(tmp_path, relpath)
    assert path is None and reason is not None and why in reason


def test_report_and_manifest_match_their_json_schemas(tmp_path: Path) -> None:
    root = repos.mixed_monorepo(tmp_path / "platform")
    report = bootstrap(root)
    jsonschema.Draft202012Validator(json.loads(render("bootstrap"))).validate(json.loads(report.model_dump_json()))
    data = parse((root / ".uet/project.yaml").read_text(encoding="utf-8"), "project.yaml").data
    jsonschema.Draft202012Validator(json.loads(render("project"))).validate(data)


def test_a_monorepo_without_a_root_project_is_reported_as_ambiguous(tmp_path: Path) -> None:
    root = repos.build(tmp_path / "mono", {
        "services/api/pyproject.toml": "[project]\nname = 'api'\n\n[tool.pytest.ini_options]\ntestpaths = ['tests']\n",
        "services/api/tests/test_api.py": "def test_ok():\n    assert True\n",
        "web/package.json": '{"name": "web", "devDependencies": {"vitest": "1"}}',
        "web/tsconfig.json": "{}\n",
        "web/src/index.ts": "export const a = 1;\n",
        "infra/main.tf": 'variable "x" {}\n',
    })
    report = bootstrap(root)
    assert (report.profile, report.chosen_by, report.runner_up) == ("generic", "fallback", "software-dev-typescript")
    assert report.confidence == 0
    # each sub-project runs its own tests in its own folder
    steps = workstream(root, ".uet/workstreams/quality.yaml").steps
    assert [(s.id, s.cwd, s.run) for s in steps] == [
        ("web-test", "web", ["npx", "vitest", "run"]),
        ("services-api-test", "services/api", ["python", "-m", "pytest", "-q"])]
    assert evidence(report, "software-dev-python")["pyproject.toml of a sub-project (monorepo)"] == [
        "services/api/pyproject.toml"]
