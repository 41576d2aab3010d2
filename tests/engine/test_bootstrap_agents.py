"""Bootstrap and the AI coding agents: the router it writes sends plan, code_edit and review to
the agent CLIs found on PATH (a real executable named ``claude`` in a folder of the PATH given),
or keeps the profile's simulated editor and says so; the feature workstream's prompts hold the
project's facts and leave the engine's placeholders as written, and the real ``uet`` accepts
the workstream and names the agents in its summary and ``--json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.bootstrap.orchestrate import bootstrap
from engine.phases import fill_prompt
from engine.toolconfig import load_router_config
from engine.yamlsafe import parse
from schemas.bootstrap import BootstrapReport
from schemas.workstream import Workstream
from tests.conftest import Project
from tests.engine import repos

VENV_BIN = os.path.dirname(sys.executable)
NO_AGENT = ("no AI coding agent found on PATH (claude, codex, gemini, aider, opencode): plan/code_edit/review go "
            "to the simulated sim-coder; install one, e.g. npm install -g @anthropic-ai/claude-code, and run uet "
            "bootstrap again")


def agents_bin(folder: Path, *names: str) -> Path:
    """A folder of executables with these names (each prints a version and exits)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        program = folder / name
        program.write_text("#!/bin/sh\necho 9.9.9\n", encoding="utf-8")
        program.chmod(0o755)
    return folder


def search_path(*folders: Path) -> str:
    """The given folders, then the virtualenv's (ruff, python) and the system's programs, without
    any folder of this machine's PATH that holds an agent CLI."""
    return os.pathsep.join([*map(str, folders), repos.without_agents(os.pathsep.join([VENV_BIN, "/usr/bin", "/bin"]))])


@pytest.fixture(autouse=True)
def venv_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process's PATH (which the planner's own checks read) finds ruff and python, and no agent."""
    monkeypatch.setenv("PATH", search_path())


def router_data(root: Path) -> dict:
    return parse((root / ".uet/router.yaml").read_text(encoding="utf-8"), "router.yaml").data


def rules(data: dict) -> dict[str, list[str]]:
    return {rule["kind"]: rule["tools"] for rule in data.get("rules", [])}


def warnings(report: BootstrapReport) -> list[str]:
    return [f"{i.file} {i.field}: {i.message}" for i in report.problems if i.severity == "warning"]


def feature(root: Path) -> Workstream:
    text = (root / ".uet/workstreams/feature.yaml").read_text(encoding="utf-8")
    return Workstream.model_validate(parse(text, "feature.yaml").data)


def test_a_claude_on_path_takes_plan_code_edit_and_review(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    report = bootstrap(root, exec_path=search_path(agents_bin(tmp_path / "bin", "claude")),
                       environ={"ANTHROPIC_API_KEY": "sk-test"})

    assert (report.agents, report.agent_kinds) == (["claude"], ["plan", "code_edit", "review"])
    data = router_data(root)
    assert rules(data) == {"plan": ["claude"], "code_edit": ["claude"], "review": ["claude"]}
    # claude is a built-in tool of every router: routed to, not defined; the simulated editor is gone
    assert "claude" not in data["tools"] and "sim-coder" not in data["tools"]
    assert {"ruff", "pytest", "mypy"} <= set(data["tools"])
    loaded = load_router_config(root)
    assert loaded.tools["claude"].agent == "claude"
    assert [(r.kind, r.tools) for r in loaded.rules] == [
        ("plan", ["claude"]), ("code_edit", ["claude"]), ("review", ["claude"])]
    assert not any("agent" in step for step in report.next_steps)
    assert report.next_steps[-1] == "uet run .uet/workstreams/quality.yaml"
    assert warnings(report) == []


def test_agents_found_are_routed_in_the_catalog_order(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    report = bootstrap(root, exec_path=search_path(agents_bin(tmp_path / "a", "opencode"),
                                                   agents_bin(tmp_path / "b", "aider", "claude")))
    assert report.agents == ["claude", "aider", "opencode"]
    assert rules(router_data(root))["code_edit"] == ["claude", "aider", "opencode"]


def test_a_rule_of_the_profile_that_names_a_real_tool_is_kept(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    (root / ".uet/profiles").mkdir(parents=True)
    (root / ".uet/profiles/my-python.yaml").write_text(
        "name: my-python\nextends: software-dev-python\n"
        "tools:\n  my-aider: {agent: aider, model: openai/my-model, capabilities: [code_edit]}\n"
        "rules:\n  - {kind: code_edit, tools: [my-aider, sim-coder]}\n", encoding="utf-8")
    report = bootstrap(root, profile="my-python", exec_path=search_path(agents_bin(tmp_path / "bin", "claude")),
                       environ={"ANTHROPIC_API_KEY": "sk-test"})
    assert (report.agents, report.agent_kinds) == (["claude"], ["plan", "review"])
    data = router_data(root)
    assert rules(data) == {"plan": ["claude"], "code_edit": ["my-aider", "sim-coder"], "review": ["claude"]}
    assert {"my-aider", "sim-coder"} <= set(data["tools"]), "a tool a kept rule names stays"


def test_a_kind_a_real_tool_of_the_profile_can_do_gets_no_agent_rule(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    (root / ".uet/profiles").mkdir(parents=True)
    (root / ".uet/profiles/reviewed.yaml").write_text(
        "name: reviewed\ntools:\n  reviewer: {command: [python, -c, 'print(1)'], capabilities: [review]}\n"
        "phases:\n  check:\n    steps:\n      - {id: review, kind: review}\n", encoding="utf-8")
    report = bootstrap(root, profile="reviewed", exec_path=search_path(agents_bin(tmp_path / "bin", "gemini")),
                       environ={"GEMINI_API_KEY": "k"})
    assert (report.agents, report.agent_kinds) == (["gemini"], ["plan", "code_edit"])
    assert rules(router_data(root)) == {"plan": ["gemini"], "code_edit": ["gemini"]}


def test_the_next_steps_name_a_found_agent_without_an_api_key(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    path = search_path(agents_bin(tmp_path / "bin", "claude", "codex"))
    report = bootstrap(root, exec_path=path, environ={"OPENAI_API_KEY": "sk-test", "ANTHROPIC_API_KEY": ""})
    assert report.next_steps[-1] == (
        "set an API key before uet run: claude (ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN); an agent runs with a "
        "home of its own, so a login kept in yours is not used")
    keyed = bootstrap(root, exec_path=path, environ={"OPENAI_API_KEY": "sk-test", "ANTHROPIC_AUTH_TOKEN": "t"})
    assert keyed.next_steps[-1] == "uet run .uet/workstreams/quality.yaml"


def test_without_an_agent_the_simulated_editor_keeps_the_routing_and_the_next_steps_say_so(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    report = bootstrap(root, exec_path=search_path())

    assert report.agents == []
    data = router_data(root)
    assert rules(data) == {"plan": ["sim-coder"], "code_edit": ["sim-coder"], "review": ["sim-coder"]}
    assert data["tools"]["sim-coder"]["adapter"] == "sim"
    assert report.next_steps[-1] == NO_AGENT
    assert warnings(report) == []


def test_the_generic_profile_routes_its_review_to_the_agent(tmp_path: Path) -> None:
    root = repos.build(tmp_path / "notes", {"notes.md": "# notes\n"})
    found = bootstrap(root, exec_path=search_path(agents_bin(tmp_path / "bin", "codex")), environ={})
    assert found.profile == "generic" and found.agents == ["codex"]
    data = router_data(root)
    assert rules(data)["review"] == ["codex"] and "sim-reviewer" not in data.get("tools", {})

    none = bootstrap(root, exec_path=search_path())
    assert rules(router_data(root)) == {"review": ["sim-reviewer"]}
    assert none.next_steps[-1].startswith("no AI coding agent found on PATH (claude, codex, gemini, aider, "
                                          "opencode): review goes to the simulated sim-reviewer; install one")


def test_feature_prompts_hold_the_facts_and_leave_the_engines_placeholders(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    bootstrap(root, exec_path=search_path())
    steps = {step.id: step for step in feature(root).steps}

    plan, implement, review = steps["plan"], steps["implement"], steps["review"]
    assert plan.description == "Describe the change here: what to build or fix, and why."
    assert "{description}" in (plan.prompt or "")
    assert "The sources are in src; the tests run with `python -m pytest -q` and the" in (plan.prompt or "")
    assert "{facts." not in (plan.prompt or "") + (implement.prompt or "") + (review.prompt or "")
    assert "{steps.plan.output}" in (implement.prompt or "") and "{gate.feedback}" in (implement.prompt or "")
    assert "run `ruff check .` and `python -m pytest -q`" in (implement.prompt or "")
    assert (implement.produces, implement.gate, implement.fix_loop and implement.fix_loop.max_rounds) == (
        "patch", "tests", 2)
    assert "{steps.implement.output}" in (review.prompt or "") and "APPROVE or REQUEST CHANGES" in (review.prompt or "")
    text = (root / ".uet/workstreams/feature.yaml").read_text(encoding="utf-8")
    assert "  prompt: |\n    Plan this change to the repository:\n\n    {description}\n" in text
    assert "  fix_loop:\n    max_rounds: 2\n" in text


def test_a_command_that_runs_in_a_sub_folder_is_written_with_its_cd(tmp_path: Path) -> None:
    root = repos.mixed_monorepo(tmp_path / "platform")
    report = bootstrap(root, exec_path=search_path())
    assert report.profile == "software-dev-python"
    implement = next(step for step in feature(root).steps if step.id == "implement")
    assert "`cd services/api && python -m pytest -q`" in (implement.prompt or "")


def test_fill_prompt_fills_facts_only_and_doubles_braces_in_values() -> None:
    facts = {"source_dirs": [".", "src", "odd{dir}"], "test_command": ["npm", "test"], "test_dirs": ["tests"]}
    text = ("{description} in {facts.source_dirs} by {facts.test_command}: {steps.plan.output} {gate.feedback} {{x}}"
            " {facts.test_dirs}")
    assert fill_prompt(text, facts, {"test_command": "web"}) == (
        "{description} in the project root, src and 'odd{{dir}}' by cd web && npm test: {steps.plan.output} "
        "{gate.feedback} {{x}} tests")


# ---------------------------------------------------------------------------- the real command


def uet(root: Path, path: str, *args: str) -> subprocess.CompletedProcess[str]:
    project = Project(root)
    env = {**project.env(), "PATH": path, "ANTHROPIC_API_KEY": "sk-test"}
    return subprocess.run(project.argv(*args), cwd=root, env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_uet_bootstrap_names_the_agents_and_its_feature_workstream_validates(tmp_path: Path) -> None:
    root = repos.python_package(tmp_path / "inventory")
    path = search_path(agents_bin(tmp_path / "bin", "claude"))

    dry = uet(root, path, "bootstrap", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert json.loads(dry.stdout)["agents"] == ["claude"]

    done = uet(root, path, "bootstrap")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "agents     claude: plan, code_edit and review go to it\n" in done.stdout
    assert rules(router_data(root))["code_edit"] == ["claude"]
    valid = uet(root, path, "validate", ".uet/workstreams/feature.yaml")
    assert valid.returncode == 0 and valid.stdout.startswith("✔ .uet/workstreams/feature.yaml is valid"), (
        valid.stdout + valid.stderr)

    # without the agent: the summary says none, the next steps say where the work goes
    bare = uet(root, search_path(), "bootstrap", "--dry-run")
    assert bare.returncode == 0, bare.stdout + bare.stderr
    assert "agents     none found on PATH (claude, codex, gemini, aider, opencode)\n" in bare.stdout
    assert "no AI coding agent found on PATH" in bare.stdout and "update     .uet/router.yaml" in bare.stdout
