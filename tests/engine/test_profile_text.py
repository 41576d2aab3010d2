"""Checking a profile that is not saved yet: the text in an editor is judged as if it were the
file it will be saved as, with the same problems ``validate_profile_file`` finds there."""

from __future__ import annotations

import json
from pathlib import Path

from engine.profiles import builtin_dir, local_dir, validate_profile_file, validate_profile_text
from tests.conftest import Project

JSON_DIR = Path(__file__).resolve().parents[2] / "schemas" / "json"

SMALL = """\
# a comment the editor keeps
name: mine
extends: generic
description: Mine.
"""


def test_a_valid_text_has_no_problems(project: Project) -> None:
    assert validate_profile_text(SMALL, local_dir(project.root) / "mine.yaml", project.root) == []


def test_nothing_is_written(project: Project) -> None:
    validate_profile_text(SMALL, local_dir(project.root) / "mine.yaml", project.root)
    assert not local_dir(project.root).exists()


def test_a_schema_problem_is_located_at_its_line_and_field(project: Project) -> None:
    text = SMALL + "priority: lots\n"
    [problem] = validate_profile_text(text, local_dir(project.root) / "mine.yaml", project.root)
    assert (problem.line, problem.field) == (5, "priority")
    assert problem.file == str(local_dir(project.root) / "mine.yaml")


def test_a_syntax_error_is_located(project: Project) -> None:
    [problem] = validate_profile_text("name: mine\n  extends: [generic\n", local_dir(project.root) / "mine.yaml",
                                      project.root)
    assert problem.line is not None and problem.line >= 2


def test_the_name_must_match_the_file_it_will_be_saved_as(project: Project) -> None:
    [problem] = validate_profile_text(SMALL, local_dir(project.root) / "other.yaml", project.root)
    assert problem.field == "name" and "other.yaml" in problem.message


def test_unknown_extends_names_the_line(project: Project) -> None:
    [problem] = validate_profile_text(SMALL.replace("generic", "genric"), local_dir(project.root) / "mine.yaml",
                                      project.root)
    assert (problem.line, problem.field) == (3, "extends") and "did you mean 'generic'" in problem.message


def test_semantic_problems_need_the_extends_chain(project: Project) -> None:
    text = SMALL + "rules:\n  - {kind: review, tools: [nobody]}\n"
    [problem] = validate_profile_text(text, local_dir(project.root) / "mine.yaml", project.root)
    assert problem.line == 6 and problem.field == "rules[0].tools[0]" and "unknown tool 'nobody'" in problem.message


def test_an_unsaved_override_builds_on_the_builtin_it_replaces(project: Project) -> None:
    text = (builtin_dir() / "generic.yaml").read_text(encoding="utf-8")
    override = "name: generic\nextends: generic\ndescription: Ours.\n"
    target = local_dir(project.root) / "generic.yaml"
    assert validate_profile_text(text, target, project.root) == []
    assert validate_profile_text(override, target, project.root) == []


def test_the_same_problems_as_the_file_once_saved(project: Project) -> None:
    text = SMALL + "priority: lots\nrules:\n  - {kind: review, tools: [nobody]}\n"
    path = project.write(".uet/profiles/mine.yaml", text)
    assert validate_profile_text(text, path, project.root) == validate_profile_file(path, project.root)


def test_the_text_replaces_the_file_on_disk(project: Project) -> None:
    path = project.write(".uet/profiles/mine.yaml", SMALL + "priority: lots\n")
    assert validate_profile_text(SMALL, path, project.root) == []
    assert validate_profile_file(Path(path), project.root) != []


def test_a_project_copy_names_the_schema_by_its_url() -> None:
    from engine.profiles import SCHEMA_URL, builtin_dir, project_copy

    original = (builtin_dir() / "generic.yaml").read_text(encoding="utf-8")
    copied = project_copy(original)
    assert copied.splitlines()[0] == f"# yaml-language-server: $schema={SCHEMA_URL}"
    assert copied.splitlines()[1:] == original.splitlines()[1:]
    assert json.loads((JSON_DIR / "profile.v1.json").read_text())["$id"] == SCHEMA_URL
