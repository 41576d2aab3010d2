"""Domain profiles: the built-ins are valid and fit their kind of repository, ``extends`` and
local overrides resolve as documented, and every mistake in a profile file is reported at its
file, line, column and field."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from engine.errors import NotFound, Problem, ValidationFailed
from engine.phases import fill_facts, missing_facts, render_phase
from engine.planner import build_plan
from engine.profiles import (
    available_profiles,
    builtin_dir,
    load_profile_file,
    resolve,
    resolve_chain,
    validate_profile_file,
)
from schemas.export import JSON_DIR
from schemas.profile import (
    COMMAND_FACTS,
    FACT_NAMES,
    LIST_FACTS,
    TEXT_FACTS,
    Profile,
    Signal,
    merge,
)
from schemas.router import RouterConfig
from tests.conftest import Project

BUILTINS = ["data-pipeline", "documentation", "generic", "infrastructure", "software-dev-python",
            "software-dev-typescript"]

SAMPLE_FACTS: dict[str, str | list[str]] = {
    "test_command": ["python", "-m", "pytest", "-q"],
    "lint_command": ["ruff", "check", "."],
    "format_command": ["ruff", "format", "--check", "."],
    "typecheck_command": ["mypy", "src"],
    "build_command": ["npm", "run", "build"],
    "docs_command": ["mkdocs", "build", "--strict"],
    "validate_command": ["terraform", "validate"],
    "source_dirs": ["src"],
    "test_dirs": ["tests"],
    "terraform_dirs": [".", "modules/vpc"],
    "helm_charts": ["charts/web"],
    "ansible_playbooks": ["site.yml"],
    "dockerfiles": ["Dockerfile"],
    "compose_files": ["compose.yaml"],
    "kubernetes_manifests": ["k8s/deployment.yaml"],
    "notebooks": ["analysis.ipynb"],
    "package_manager": "npm",
    "docs_dir": "docs",
}


def local(project: Project, name: str, text: str) -> Path:
    return project.write(f".uet/profiles/{name}.yaml", text)


def rendered(problems: list[Problem]) -> list[str]:
    return [problem.render() for problem in problems]


# -- the built-ins ----------------------------------------------------------------------------


def test_the_six_builtins_ship_in_the_profiles_package() -> None:
    assert sorted(available_profiles(None)) == BUILTINS
    assert all(source.builtin and source.path.parent == builtin_dir() for source in available_profiles(None).values())


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_validates(name: str) -> None:
    assert validate_profile_file(builtin_dir() / f"{name}.yaml") == []


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_names_its_schema_and_matches_it(name: str) -> None:
    path = builtin_dir() / f"{name}.yaml"
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/json/profile.v1.json"
    schema_file = (path.parent / first.split("=", 1)[1]).resolve()
    assert schema_file == (JSON_DIR / "profile.v1.json").resolve()
    validator = jsonschema.Draft202012Validator(json.loads(schema_file.read_text(encoding="utf-8")))
    assert [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))] == []


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_phase_becomes_a_plannable_workstream(name: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Filled with facts, each phase passes the same checks as ``uet validate`` (with stand-ins
    for the executables, which this machine need not have)."""
    profile = resolve(name, None)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    router = RouterConfig(tools=profile.tools, rules=profile.rules)
    assert profile.phases
    for phase in profile.phases:
        workstream = render_phase(profile, phase, SAMPLE_FACTS)
        for step in workstream.steps:
            if step.run and not (bin_dir / step.run[0]).exists():
                (bin_dir / step.run[0]).write_text("#!/bin/sh\n", encoding="utf-8")
                (bin_dir / step.run[0]).chmod(0o755)
            assert "{facts." not in json.dumps(step.model_dump(mode="json"))
        plan = build_plan(workstream, None, None, tmp_path, router)
        assert plan.steps, phase


def _score(profile: Profile, root: Path) -> float:
    """The documented meaning of a signal (see ``schemas.profile.Signal``), as a reference."""
    total = 0.0
    for signal in profile.detect:
        if signal.kind == "file":
            hit = (root / signal.path).is_file()
        elif signal.kind == "dir":
            hit = (root / signal.path).is_dir()
        elif signal.kind == "glob":
            hit = sum(1 for p in root.glob(signal.path) if p.is_file()) >= signal.min_count
        else:
            assert signal.contains is not None
            pattern = re.compile(signal.contains)
            found = [p for p in root.glob(signal.path) if p.is_file()]
            hit = sum(1 for p in found if pattern.search(p.read_bytes()[:262_144].decode("utf-8", "replace"))) \
                >= signal.min_count
        total += signal.weight if hit else 0
    return total


TYPICAL: dict[str, dict[str, str]] = {
    "software-dev-python": {
        "pyproject.toml": "[project]\nname='pkg'\n[tool.pytest.ini_options]\naddopts='-q'\n[tool.ruff]\nline-length=100\n",
        "uv.lock": "", "README.md": "# pkg\n", "Dockerfile": "FROM python\n",
        **{f"src/pkg/m{i}.py": "x = 1\n" for i in range(12)},
        "tests/conftest.py": "", "tests/test_m.py": "def test(): pass\n",
    },
    "software-dev-typescript": {
        "package.json": '{"devDependencies": {"vitest": "^1", "typescript": "^5"}}', "tsconfig.json": "{}",
        "package-lock.json": "{}", "vitest.config.ts": "", "eslint.config.js": "", "README.md": "# lib\n",
        **{f"src/m{i}.ts": "export const x = 1\n" for i in range(12)},
    },
    "data-pipeline": {
        "dbt_project.yml": "name: shop\n", "requirements.txt": "dbt-duckdb\n", "README.md": "# shop\n",
        **{f"models/m{i}.sql": "select 1\n" for i in range(6)},
    },
    "documentation": {
        "mkdocs.yml": "site_name: Site\n", "requirements.txt": "mkdocs\n",
        **{f"docs/page{i}.md": f"# Page {i}\n" for i in range(12)},
    },
    "infrastructure": {
        "main.tf": 'resource "null_resource" "x" {}\n', "variables.tf": "", "outputs.tf": "",
        "versions.tf": "", ".terraform.lock.hcl": "", "README.md": "# module\n",
        "examples/basic/main.tf": 'module "m" { source = "../.." }\n',
    },
    "generic": {},
}


@pytest.mark.parametrize("kind", sorted(TYPICAL))
def test_a_typical_repository_of_each_kind_clearly_prefers_its_profile(kind: str, tmp_path: Path) -> None:
    for name, text in TYPICAL[kind].items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    scores = {name: _score(resolve(name, None), tmp_path) for name in BUILTINS}
    best = max(scores, key=lambda n: (scores[n], resolve(n, None).priority))
    runner_up = max(score for name, score in scores.items() if name != best)
    assert best == kind, scores
    if kind != "generic":
        assert scores[best] >= 2 * max(runner_up, 1) and scores[best] - runner_up >= 4, scores


# -- facts --------------------------------------------------------------------------------------


def test_fact_names_are_the_three_kinds_without_repeats() -> None:
    assert FACT_NAMES == COMMAND_FACTS + LIST_FACTS + TEXT_FACTS
    assert len(set(FACT_NAMES)) == len(FACT_NAMES)
    assert set(SAMPLE_FACTS) == set(FACT_NAMES)


def test_fill_facts_splices_lists_and_quotes_them_inside_text() -> None:
    facts = {"test_command": ["uv", "run", "pytest", "-k", "a b"], "source_dirs": ["src", "lib"],
             "package_manager": "pnpm"}
    assert fill_facts(["{facts.test_command}"], facts) == ["uv", "run", "pytest", "-k", "a b"]
    assert fill_facts(["lint", "{facts.source_dirs}", "--x"], facts) == ["lint", "src", "lib", "--x"]
    assert fill_facts(["{facts.package_manager}", "install"], facts) == ["pnpm", "install"]
    assert fill_facts("run {facts.test_command} in {facts.source_dirs}", facts) == \
        "run uv run pytest -k 'a b' in src lib"
    assert fill_facts({"matrix": {"dir": ["{facts.source_dirs}"]}, "n": 3}, facts) == \
        {"matrix": {"dir": ["src", "lib"]}, "n": 3}
    with pytest.raises(KeyError):
        fill_facts("{facts.lint_command}", facts)


def test_render_phase_refuses_missing_and_misshapen_facts() -> None:
    profile = resolve("software-dev-python", None)
    assert missing_facts(profile, "quality", {"lint_command": ["ruff"]}) == ["test_command"]
    with pytest.raises(ValidationFailed, match="facts not found: test_command"):
        render_phase(profile, "quality", {"lint_command": ["ruff", "check"]})
    with pytest.raises(ValidationFailed, match="test_command must be a list of strings"):
        render_phase(profile, "quality", {"lint_command": ["ruff"], "test_command": "pytest -q"})
    with pytest.raises(ValidationFailed, match="lint_command is an empty command"):
        render_phase(profile, "quality", {"lint_command": [], "test_command": ["pytest"]})


def test_render_phase_carries_defaults_and_only_the_gates_it_uses() -> None:
    profile = resolve("software-dev-python", None)
    feature = render_phase(profile, "feature", SAMPLE_FACTS)
    assert feature.name == "feature" and feature.gates == {"tests": [["python", "-m", "pytest", "-q"]]}
    assert feature.max_parallel == 2 and feature.retry == profile.defaults.retry and feature.budget is not None
    quality = render_phase(profile, "quality", SAMPLE_FACTS)
    assert quality.gates == {}
    assert [(s.id, s.run, s.tool) for s in quality.steps] == [
        ("lint", ["ruff", "check", "."], None), ("test", ["python", "-m", "pytest", "-q"], "pytest")]


# -- merge (extends) ---------------------------------------------------------------------------


def _profile(**data: object) -> Profile:
    return Profile.model_validate(data)


SIM = {"adapter": "sim", "sim": {"seed": 1}, "capabilities": ["review"]}


def test_merge_child_wins_per_key_and_inherits_the_rest() -> None:
    base = _profile(
        name="base", description="base words", priority=3,
        detect=[{"kind": "file", "path": "a.txt", "weight": 2, "description": "a"}],
        tools={"lint": {"command": ["lint"]}, "rev": SIM},
        rules=[{"kind": "review", "tools": ["rev"]}, {"kind": "lint", "tools": ["lint"]}],
        phases={"quality": {"steps": [{"id": "lint", "run": "lint"}]},
                "check": {"steps": [{"id": "review", "kind": "review"}]}},
        gates={"tests": [["pytest"]], "style": [["lint"]]},
        defaults={"max_parallel": 2, "budget": {"usd": 1}},
    )
    child = _profile(
        name="child", extends="base",
        detect=[{"kind": "file", "path": "b.txt", "weight": -3, "description": "b"}],
        tools={"lint": {"command": ["lint", "--strict"]}, "fmt": {"command": ["fmt"]}},
        rules=[{"kind": "review", "tools": ["rev", "lint"]}],
        phases={"quality": {"steps": [{"id": "fmt", "run": "fmt"}]}},
        gates={"tests": [["pytest", "-x"]]},
        defaults={"max_parallel": 4},
    )
    merged = merge(base, child)
    assert merged.name == "child" and merged.extends is None
    assert merged.description == "base words" and merged.priority == 3
    assert [s.path for s in merged.detect] == ["a.txt", "b.txt"]
    assert merged.tools["lint"].command == ["lint", "--strict"] and set(merged.tools) == {"lint", "rev", "fmt"}
    assert [(r.kind, r.tools) for r in merged.rules] == [("review", ["rev", "lint"]), ("lint", ["lint"])]
    assert [s.id for s in merged.phases["quality"].steps] == ["fmt"]  # replaced whole, not merged
    assert [s.id for s in merged.phases["check"].steps] == ["review"]
    assert merged.gates == {"tests": [["pytest", "-x"]], "style": [["lint"]]}
    assert merged.defaults.max_parallel == 4 and merged.defaults.budget is not None


def test_merge_chains_and_keeps_what_a_middle_profile_set() -> None:
    grand = _profile(name="a", description="from a", priority=1)
    middle = _profile(name="b", priority=0)  # an explicit 0 overrides, it is not "unset"
    child = _profile(name="c", description="from c")
    merged = merge(merge(grand, middle), child)
    assert (merged.description, merged.priority) == ("from c", 0)
    assert merge(grand, _profile(name="d")).priority == 1


# -- finding and resolving ---------------------------------------------------------------------


OVERRIDE = """\
    # yaml-language-server: $schema=../../schemas/json/profile.v1.json
    name: software-dev-python
    extends: software-dev-python
    description: Ours, with a pre-commit step.
    detect:
      - {kind: file, path: .pre-commit-config.yaml, weight: 2, description: pre-commit configured}
    phases:
      quality:
        requires: [test_command]
        steps:
          - id: pre-commit
            run: [pre-commit, run, --all-files]
          - id: test
            needs: [pre-commit]
            tool: pytest
            run: "{facts.test_command}"
"""


def test_a_local_profile_shadows_the_builtin_and_can_build_on_it(project: Project) -> None:
    path = local(project, "software-dev-python", OVERRIDE)
    sources = available_profiles(project.root)
    source = sources["software-dev-python"]
    assert (source.builtin, source.path, source.origin) == (False, path, str(path))
    assert source.overrides == builtin_dir() / "software-dev-python.yaml"
    assert sources["generic"].builtin

    resolved = resolve_chain("software-dev-python", project.root)
    assert [item.source.builtin for item in resolved.chain] == [False, True]
    profile = resolved.profile
    assert profile.description == "Ours, with a pre-commit step."
    assert [s.id for s in profile.phases["quality"].steps] == ["pre-commit", "test"]
    assert "feature" in profile.phases and "pytest" in profile.tools  # inherited
    assert profile.detect[-1].path == ".pre-commit-config.yaml"
    assert len(profile.detect) == len(resolve("software-dev-python", None).detect) + 1
    assert validate_profile_file(path, project.root) == []


def test_a_local_profile_that_does_not_extend_replaces_the_builtin_whole(project: Project) -> None:
    local(project, "generic", """\
        name: generic
        tools:
          echo: {command: [echo, hi], capabilities: [review]}
        phases:
          check:
            steps: [{id: hello, kind: review}]
    """)
    profile = resolve("generic", project.root)
    assert set(profile.tools) == {"echo"} and profile.description is None and profile.detect == []


def test_extends_another_local_profile(project: Project) -> None:
    local(project, "team-python", """\
        name: team-python
        extends: software-dev-python
        defaults: {max_parallel: 8}
    """)
    local(project, "service", """\
        name: service
        extends: team-python
        description: one service
    """)
    profile = resolve("service", project.root)
    assert profile.defaults.max_parallel == 8 and profile.defaults.budget is not None
    assert "quality" in profile.phases and profile.description == "one service"


def test_unknown_profile_name_is_not_found_with_a_hint() -> None:
    with pytest.raises(NotFound, match="no profile named 'generc'; did you mean 'generic'"):
        resolve("generc", None)


def test_extends_cycle_names_the_file_line_and_field(project: Project) -> None:
    local(project, "a", "name: a\nextends: b\n")
    b = local(project, "b", "description: b\nname: b\nextends: a\n")
    with pytest.raises(ValidationFailed) as caught:
        resolve("a", project.root)
    assert rendered(caught.value.problems) == [f"{b}:3:1: extends: extends cycle: a → b → a"]


def test_extending_itself_without_a_builtin_is_an_error(project: Project) -> None:
    path = local(project, "mine", "name: mine\nextends: mine\n")
    assert rendered(validate_profile_file(path, project.root)) == [
        f"{path}:2:1: extends: the profile 'mine' extends itself"]


def test_missing_parent_names_the_file_line_and_field(project: Project) -> None:
    path = local(project, "mine", "name: mine\n\nextends: software-dev-pyton\n")
    problems = validate_profile_file(path, project.root)
    assert len(problems) == 1
    assert problems[0].render().startswith(
        f"{path}:3:1: extends: extends unknown profile 'software-dev-pyton'; did you mean 'software-dev-python'?")


def test_name_must_match_the_file_name(project: Project) -> None:
    path = local(project, "mine", "name: yours\n")
    assert rendered(validate_profile_file(path, project.root)) == [
        f"{path}:1:1: name: the profile is named 'yours' but its file is 'mine.yaml': profiles are found by "
        "file name, so rename the file to yours.yaml or set name: mine"]


# -- mistakes, located -------------------------------------------------------------------------


def test_unknown_fact_is_reported_at_its_string(project: Project) -> None:
    path = local(project, "mine", """\
        name: mine
        phases:
          quality:
            requires: [test_command]
            steps:
              - id: test
                run: [python, "{facts.tset_command}"]
    """)
    assert rendered(validate_profile_file(path, project.root)) == [
        f"{path}:7:23: phases.quality.steps[0].run[1]: unknown fact {{facts.tset_command}}; "
        "did you mean {facts.test_command}?"]
    with pytest.raises(ValidationFailed):
        load_profile_file(path)


def test_fact_slips_and_facts_outside_phases_and_gates(project: Project) -> None:
    path = local(project, "mine", """\
        name: mine
        tools:
          t: {command: ["{facts.lint_command}"]}
        gates:
          tests:
            - ["{fact.test_command}"]
    """)
    assert rendered(validate_profile_file(path, project.root)) == [
        f"{path}:3:17: tools.t.command[0]: {{facts.lint_command}} is not filled here: placeholders work in "
        "`phases` and `gates` only",
        f"{path}:6:8: gates.tests[0][0]: write {{facts.test_command}} (with an s), not {{fact.test_command}}"]


def test_the_model_refuses_unknown_facts_without_a_file() -> None:
    with pytest.raises(ValidationError, match=r"steps\[0\]\.run\[0\]: unknown fact \{facts\.nope\}"):
        Profile.model_validate({"name": "x", "phases": {"p": {"steps": [{"id": "a", "run": "{facts.nope}"}]}}})
    with pytest.raises(ValidationError, match=r"description: unknown fact \{facts\.nope\}"):
        Profile.model_validate({"name": "x", "phases": {"p": {"description": "{facts.nope}", "steps": [{"id": "a"}]}}})
    with pytest.raises(ValidationError, match="unknown fact 'tests'"):
        Profile.model_validate({"name": "x", "phases": {"p": {"requires": ["tests"], "steps": [{"id": "a"}]}}})


def test_a_fact_used_but_not_required_is_reported(project: Project) -> None:
    path = local(project, "mine", """\
        name: mine
        phases:
          quality:
            steps:
              - id: lint
                description: "lint {facts.source_dirs}"
                run: "{facts.lint_command}"
    """)
    assert rendered(validate_profile_file(path, project.root)) == [
        f"{path}:7:9: phases.quality.steps[0].run: uses {{facts.lint_command}}, which the phase does not "
        "require: add lint_command to `requires`",
        f"{path}:6:9: phases.quality.steps[0].description: uses {{facts.source_dirs}}, which the phase does "
        "not require: add source_dirs to `requires`"]


def test_a_fact_in_the_phase_description_must_be_required_too(project: Project) -> None:
    path = local(project, "mine", """\
        name: mine
        phases:
          docs:
            description: "Build the site in {facts.docs_dir}"
            steps: [{id: build, run: [make]}]
    """)
    assert rendered(validate_profile_file(path, project.root)) == [
        f"{path}:4:5: phases.docs.description: uses {{facts.docs_dir}}, which the phase does not require: "
        "add docs_dir to `requires`"]


@pytest.mark.parametrize("value, expected", [
    ("heavy", "a number is expected, found the string 'heavy'"),
    ('"5"', "a number is expected, found the string '5'"),
    ("true", "a number is expected, found the boolean true"),
    (".nan", "a finite number is expected, found the number nan"),
    ("1000", "Input should be less than or equal to 100"),
])
def test_bad_weight(project: Project, value: str, expected: str) -> None:
    path = local(project, "mine", f"""\
        name: mine
        detect:
          - kind: file
            path: a.txt
            weight: {value}
            description: a
    """)
    assert rendered(validate_profile_file(path, project.root)) == [f"{path}:5:5: detect[0].weight: {expected}"]


@pytest.mark.parametrize("signal, message", [
    ({"kind": "glob", "path": "pyproject.toml"}, "has no * ? or [: use kind file or dir"),
    ({"kind": "file", "path": "*.py"}, "is a pattern: use kind glob"),
    ({"kind": "file", "path": "a", "contains": "x"}, "`contains` is for kind content"),
    ({"kind": "content", "path": "a"}, "a content signal needs `contains:`"),
    ({"kind": "content", "path": "a", "contains": "("}, "not a valid regular expression"),
    ({"kind": "file", "path": "/etc/passwd"}, "is absolute"),
    ({"kind": "dir", "path": "a/../../b"}, "leaves the project"),
    ({"kind": "dir", "path": "a", "min_count": 2}, "a dir signal matches once"),
])
def test_signal_shapes(signal: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Signal.model_validate({"weight": 1, "description": "d", **signal})


def test_cross_references_are_checked_after_extends(project: Project) -> None:
    path = local(project, "mine", """\
        name: mine
        extends: generic
        rules:
          - {kind: code_edit, tools: [sim-reviewr]}
        phases:
          check:
            steps:
              - {id: a, tool: nope}
              - {id: b, kind: deploy}
              - {id: c, kind: review, produces: patch, gate: tests}
              - {id: d, run: [x], needs: [e]}
              - {id: a, run: [x]}
    """)
    assert rendered(validate_profile_file(path, project.root)) == [
        f"{path}:4:31: rules[0].tools[0]: unknown tool 'sim-reviewr'; did you mean 'sim-reviewer'?",
        f"{path}:12:10: phases.check.steps[4].id: duplicate step id 'a' (also steps[0])",
        f"{path}:8:17: phases.check.steps[0].tool: unknown tool 'nope'; the profile's tools: sim-reviewer",
        f"{path}:9:17: phases.check.steps[1].kind: no tool of the profile can do kind 'deploy': give the step "
        "`run` or `tool`, add the kind to a tool's capabilities, or add a rule for it",
        f"{path}:10:48: phases.check.steps[2].gate: unknown gate 'tests'; the profile's gates: none",
        f"{path}:11:35: phases.check.steps[3].needs[0]: needs unknown step 'e'; the phase's steps: a, b, c, d",
    ]


def test_a_dependency_cycle_in_a_phase(project: Project) -> None:
    path = local(project, "mine", """\
        name: mine
        phases:
          loop:
            steps:
              - {id: a, run: [x], needs: [b]}
              - {id: b, run: [x], needs: [a]}
    """)
    problems = validate_profile_file(path, project.root)
    assert len(problems) == 1 and re.fullmatch(
        rf"{re.escape(str(path))}:\d+:\d+: phases\.loop\.steps\[\d\]\.needs: dependency cycle: (a → b → a|b → a → b)",
        problems[0].render())


def test_problems_in_a_parent_are_located_in_the_parent(project: Project) -> None:
    parent = local(project, "parent", """\
        name: parent
        phases:
          check:
            steps: [{id: a, tool: ghost}]
    """)
    child = local(project, "child", "name: child\nextends: parent\n")
    assert rendered(validate_profile_file(child, project.root)) == [
        f"{parent}:4:21: phases.check.steps[0].tool: unknown tool 'ghost'; the profile's tools: none"]


def test_a_broken_file_is_listed_but_reported_when_loaded(project: Project) -> None:
    path = local(project, "broken", "name: broken\nphases: [\n")
    assert "broken" in available_profiles(project.root)
    problems = validate_profile_file(path, project.root)
    assert len(problems) == 1 and problems[0].file == str(path) and problems[0].line is not None
