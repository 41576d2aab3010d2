"""The built-in agent tools: one definition per agent family, in every project's router.

A project's ``.uet/router.yaml`` (or the built-in router) is read with these added: a tool of
the same name in the file replaces the built-in one whole, and a file's tool can name
``agent: claude`` to reuse a family with its own model, address or arguments. Whether a
tool's executable is on PATH is decided when a step is routed (a missing one is skipped, and
``uet tools`` says so); bootstrap writes rules that send plan, code_edit and review to the
agents it finds.

Each family's module (``engine.agents.<family>``) holds its ``DRIVER`` (command line,
environment, config files, stream parser); it is imported only when a step runs that agent.
The definitions here are plain data, so reading a router costs no agent module.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from engine.agents.base import Driver

FAMILIES = ("claude", "codex", "gemini", "aider", "opencode")
#: What every built-in agent tool says unless its family says otherwise.
COMMON: dict[str, Any] = {
    "capabilities": ["plan", "code_edit", "review"],
    "network": True,  # it calls its model's API
    "timeout": "30m",
    "max_parallel": 4,
    # A refused API key or an edit the agent could not make is the tool failing; a breaker
    # that opens stops a run from paying for the same failure on every step.
    "breaker": {"consecutive_failures": 3, "open_for": "60s"},
}
#: The executable each family's CLI installs, and the package it comes from (for messages).
EXECUTABLES = {"claude": "claude", "codex": "codex", "gemini": "gemini", "aider": "aider", "opencode": "opencode"}
#: The variables each family's CLI reads its key (and address) from: passed through, masked in logs.
PASSTHROUGH = {
    "claude": ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"],
    "codex": ["OPENAI_API_KEY", "CODEX_API_KEY"],
    "gemini": ["GEMINI_API_KEY", "GOOGLE_API_KEY"],
    "aider": ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY", "DEEPSEEK_API_KEY"],
    "opencode": ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY"],
}
PACKAGES = {
    "claude": "npm install -g @anthropic-ai/claude-code",
    "codex": "npm install -g @openai/codex",
    "gemini": "npm install -g @google/gemini-cli",
    "aider": "pipx install aider-chat",
    "opencode": "npm install -g opencode-ai",
}


def _module(family: str) -> Any:
    if family not in FAMILIES:
        raise KeyError(f"no agent family {family!r}; known: {', '.join(FAMILIES)}")
    return importlib.import_module(f"engine.agents.{family}")


@cache
def driver(family: str) -> Driver:
    return _module(family).DRIVER


@cache
def definitions() -> dict[str, dict[str, Any]]:
    """Tool name -> the built-in tool's fields, as a router file would spell them."""
    return {family: {**COMMON, "agent": family, "executable": EXECUTABLES[family],
                     "env_passthrough": list(PASSTHROUGH[family])} for family in FAMILIES}


def with_catalog(data: Any) -> Any:
    """A router document's data with the built-in agent tools added where the file names no
    tool of the same name; anything that is not a mapping is left for validation to report."""
    if not isinstance(data, dict):
        return data
    tools = data.get("tools", {})
    if tools is None:
        tools = {}
    if not isinstance(tools, dict):
        return data
    # The file's tools first: where a kind is routed by capability, they come before the agents.
    # A tool of the file's that names an agent family takes what the family's built-in tool says
    # and it does not (its executable, network, keys, timeout, capabilities, breaker).
    merged = {name: _inherit(spec) for name, spec in tools.items()}
    merged.update((name, spec) for name, spec in definitions().items() if name not in tools)
    return {**data, "tools": merged}


def _inherit(spec: Any) -> Any:
    if not isinstance(spec, dict) or spec.get("agent") not in FAMILIES:
        return spec
    family = definitions()[spec["agent"]]
    # A tool with its own command runs that program, not the family's CLI.
    skip = {"agent", "executable"} if "command" in spec else {"agent"}
    return {**{key: value for key, value in family.items() if key not in skip}, **spec}


def builtin_names(data: Any) -> set[str]:
    """The built-in agent tools a router document does not replace."""
    tools = data.get("tools") if isinstance(data, dict) else None
    own = set(tools) if isinstance(tools, dict) else set()
    return set(definitions()) - own
