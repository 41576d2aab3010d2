"""Which AI coding agents bootstrap finds on PATH, and the router it writes for them.

The agent CLIs (``engine.agents.catalog``: claude, codex, gemini, aider, opencode) are
built-in tools of every router, so the written ``router.yaml`` does not define them; it only
routes to them. When at least one agent's executable is on PATH, the rules for ``plan``,
``code_edit`` and ``review`` name the found agents in the catalog's order (the fallback order),
replacing the profile's simulated routing for those kinds (a rule naming a real tool of the
profile's own stays), and the profile's simulated stand-ins for them
(``sim-coder``) are left out of the file: a fake editor beside real ones would only be a place
for a step to "succeed" without doing anything. When none is found, the profile's simulated
routing is kept, so the phases still run offline, and the next steps say how to get a real one.
A found agent none of whose API-key variables is set is named in the next steps too.

The router then depends on PATH as well as on the tree: installing an agent and running
``uet bootstrap`` again regenerates the router (when it was not edited since).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.agents.catalog import EXECUTABLES, FAMILIES, PACKAGES, PASSTHROUGH
from schemas.profile import Profile
from schemas.router import RoutingRule, ToolSpec

AGENT_KINDS = ("plan", "code_edit", "review")
"""The step kinds an AI coding agent takes."""


def agents_on_path(path: str | None = None) -> list[str]:
    """The agent families whose executable is on ``path`` (a PATH string; None: this
    process's PATH), in the catalog's order."""
    return [family for family in FAMILIES if shutil.which(EXECUTABLES[family], path=path) is not None]


def _named_by_steps(profile: Profile) -> set[str]:
    return {step.tool for phase in profile.phases.values() for step in phase.steps if step.tool}


@dataclass(frozen=True)
class Routing:
    """What the router file holds: the profile's tools and rules, with ``kinds`` sent to the agents."""

    tools: dict[str, ToolSpec]
    rules: list[RoutingRule]
    kinds: list[str] = field(default_factory=list)


def routed_to_agents(profile: Profile, agents: list[str]) -> Routing:
    """The profile's own tools and rules with ``plan``, ``code_edit`` and ``review`` sent to
    ``agents``; with no agents, the profile's as they are.

    Only the profile's simulated routing is replaced: a rule for one of these kinds that names
    only simulated tools, and a kind with no rule that no real tool of the profile can do. A
    rule that names a real tool (a project's own agent tool, a CLI of its own) is the profile's
    choice and stays as it is.
    """
    if not agents:
        return Routing(dict(profile.tools), list(profile.rules))

    def simulated_only(names: list[str]) -> bool:
        return all(name in profile.tools and profile.tools[name].adapter == "sim" for name in names)

    def real_tool_can(kind: str) -> bool:
        return any(spec.adapter != "sim" and kind in spec.capabilities for spec in profile.tools.values())

    rules: list[RoutingRule] = []
    kinds: list[str] = []
    for rule in profile.rules:
        if rule.kind in AGENT_KINDS and simulated_only(rule.tools):
            rules.append(rule.model_copy(update={"tools": list(agents)}))
            kinds.append(rule.kind)
        else:
            rules.append(rule)
    written = {rule.kind for rule in rules}
    for kind in AGENT_KINDS:
        if kind not in written and not real_tool_can(kind):
            rules.append(RoutingRule(kind=kind, tools=list(agents)))
            kinds.append(kind)
    still_routed = {tool for rule in rules for tool in rule.tools} | _named_by_steps(profile)
    tools = {name: spec for name, spec in profile.tools.items()
             if name in still_routed or not _stand_in(spec)}
    return Routing(tools, rules, [kind for kind in AGENT_KINDS if kind in kinds])


def _stand_in(spec: ToolSpec) -> bool:
    """A simulated tool that does only what agents do: the profile's placeholder for one."""
    return spec.adapter == "sim" and bool(spec.capabilities) and set(spec.capabilities) <= set(AGENT_KINDS)


def simulated(tools: dict[str, ToolSpec], rules: list[RoutingRule]) -> dict[str, list[str]]:
    """Simulated tool -> the agent kinds the rules send to it (kinds in AGENT_KINDS order)."""
    out: dict[str, list[str]] = {}
    for kind in AGENT_KINDS:
        rule = next((r for r in rules if r.kind == kind), None)
        for name in rule.tools if rule is not None else ():
            spec = tools.get(name)
            if spec is not None and spec.adapter == "sim":
                out.setdefault(name, []).append(kind)
    return out


def missing_keys_note(agents: list[str], environ: Mapping[str, str]) -> str | None:
    """The next step that names the found agents with none of their API-key variables set, or
    None. An agent runs with an empty home of its own and only these variables of UET's
    environment (``env_passthrough``), so a login kept in the user's home is not seen."""
    lacking = [f"{family} ({' or '.join(PASSTHROUGH[family])})" for family in agents
               if not any(environ.get(name) for name in PASSTHROUGH[family])]
    if not lacking:
        return None
    return (f"set an API key before uet run: {'; '.join(lacking)}; an agent runs with a home of its own, "
            "so a login kept in yours is not used")


def no_agent_note(tools: dict[str, ToolSpec], rules: list[RoutingRule]) -> str | None:
    """The next step that says the agent kinds go to a simulated tool, or None when none does."""
    sims = simulated(tools, rules)
    if not sims:
        return None
    kinds = list(dict.fromkeys(kind for found in sims.values() for kind in found))
    where = " and ".join(f"the simulated {name}" for name in sims)
    return (f"no AI coding agent found on PATH ({', '.join(FAMILIES)}): {'/'.join(kinds)} "
            f"{'goes' if len(kinds) == 1 else 'go'} to {where}; install one, e.g. {PACKAGES['claude']}, "
            "and run uet bootstrap again")

