"""The built-in agent tools in every router, and what a project's own agent tool takes from its
family."""

from __future__ import annotations

from pathlib import Path

from engine.agents.catalog import FAMILIES, with_catalog
from engine.toolconfig import load_router_config


def router(tmp_path: Path, text: str) -> Path:
    (tmp_path / ".uet").mkdir()
    (tmp_path / ".uet" / "router.yaml").write_text(text)
    return tmp_path


def test_every_router_has_the_agents_after_its_own_tools(tmp_path: Path) -> None:
    config = load_router_config(router(tmp_path, "tools:\n  mine: {command: [echo], capabilities: [review]}\n"))
    assert list(config.tools) == ["mine", *FAMILIES]
    claude = config.tools["claude"]
    assert (claude.agent, claude.executable, claude.network) == ("claude", "claude", True)
    assert {"plan", "code_edit", "review"} <= set(claude.capabilities)
    assert "ANTHROPIC_API_KEY" in claude.env_passthrough


def test_a_project_agent_tool_takes_its_family_s_settings_unless_it_says_otherwise(tmp_path: Path) -> None:
    config = load_router_config(router(tmp_path, """\
tools:
  fast: {agent: claude, model: m1, base_url: "http://127.0.0.1:9", capabilities: [review]}
  standin: {agent: codex, command: [python3, standin.py]}
  claude: {command: [my-claude], capabilities: [plan]}
"""))
    fast = config.tools["fast"]
    assert (fast.executable, fast.network, fast.model, fast.capabilities) == ("claude", True, "m1", ["review"])
    assert fast.timeout == 1800 and "ANTHROPIC_API_KEY" in fast.env_passthrough
    standin = config.tools["standin"]
    assert standin.executable is None and standin.command == ["python3", "standin.py"]  # runs its own program
    assert config.tools["claude"].agent is None and config.tools["claude"].capabilities == ["plan"]  # replaced whole


def test_a_router_document_that_is_not_a_mapping_is_left_for_validation() -> None:
    assert with_catalog(["not", "a", "mapping"]) == ["not", "a", "mapping"]
    assert with_catalog({"tools": "nope"}) == {"tools": "nope"}
