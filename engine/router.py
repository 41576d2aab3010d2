"""Routing: pick the tool for a step.

A step with ``run`` uses its executable (or its named ``tool``); a step with ``call`` uses the
python adapter; otherwise candidates come from a rule for the step's kind, else from every tool
declaring the kind as a capability, in that order (the fallback order). Candidates whose
breaker is open, whose executable is missing or that are at their parallel limit are skipped;
among the rest the strategy picks: ``fixed`` (first in order), ``round_robin`` (rotate) or
``auto`` (best recent success rate, then speed, from tool stats).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import Any

from engine.resilience import Breaker, BreakerChange, effective_policy
from engine.stats import StatsBook
from schemas.records import BreakerRecord
from schemas.router import RouterConfig, Strategy, ToolSpec
from schemas.states import BreakerState


@dataclass(frozen=True)
class Route:
    tool: str
    adapter: str
    spec: ToolSpec | None
    probe: bool
    skipped: dict[str, str] = field(default_factory=dict)
    strategy: str = "fixed"


@dataclass(frozen=True)
class Blocked:
    """No candidate can take the step now. ``until`` is when to look again (None: on the next
    completion); ``final`` means no candidate will ever do (e.g. none is installed)."""

    reason: str
    until: float | None = None
    final: bool = False


class Router:
    def __init__(self, config: RouterConfig, stats: StatsBook, records: list[BreakerRecord] | None = None) -> None:
        self.config = config
        self.stats = stats
        self.breakers: dict[str, Breaker] = {}
        self.running: dict[str, int] = {}
        self._records = {r.tool: r for r in records or []}
        self._which: dict[str, bool] = {}
        self._turn: dict[str, int] = {}
        self._candidates: dict[str, tuple[list[str], Strategy]] = {}
        self._direct: dict[tuple[str, bool, bool], tuple[Route, Breaker]] = {}

    def breaker(self, tool: str) -> Breaker:
        found = self.breakers.get(tool)
        if found is None:
            spec = self.config.tools.get(tool)
            policy = effective_policy(self.config.breaker, spec.breaker if spec else None)
            found = self.breakers[tool] = Breaker(tool, policy, self._records.get(tool))
        return found

    def limit(self, tool: str) -> int | None:
        spec = self.config.tools.get(tool)
        return spec.max_parallel if spec else None

    def installed(self, tool: str) -> bool:
        spec = self.config.tools.get(tool)
        if spec is None or spec.adapter != "subprocess":
            return True
        program = spec.executable or (spec.command[0] if spec.command else tool)
        if program not in self._which:
            self._which[program] = (os.path.isabs(program) and os.access(program, os.X_OK)) or shutil.which(program) is not None
        return self._which[program]

    def _missing(self, tool: str) -> str:
        spec = self.config.tools.get(tool)
        if spec is not None and spec.agent is not None:
            from engine.agents.catalog import PACKAGES

            return f"not installed ({PACKAGES[spec.agent]})"
        return "not installed"

    def key(self, spec: dict[str, Any]) -> str:
        """Steps with the same key route the same way (used to queue ready steps)."""
        if "run" in spec:
            return "tool:" + (spec.get("tool") or os.path.basename(spec["run"][0]))
        if "call" in spec:
            return "tool:" + (spec.get("tool") or "python")
        if spec.get("tool"):
            return "tool:" + spec["tool"]
        return "kind:" + spec.get("kind", "task")

    def candidates(self, key: str) -> tuple[list[str], Strategy]:
        found = self._candidates.get(key)
        if found is None:
            what, name = key.split(":", 1)
            if what == "tool":
                found = ([name], "fixed")
            else:
                rule = next((r for r in self.config.rules if r.kind == name), None)
                if rule is not None:
                    found = (list(rule.tools), rule.strategy or self.config.strategy)
                else:
                    found = ([t for t, s in self.config.tools.items() if name in s.capabilities], self.config.strategy)
            self._candidates[key] = found
        return found

    def route(self, key: str, spec: dict[str, Any], now: float) -> tuple[Route | Blocked, BreakerChange | None]:
        # Most steps name their tool (``run`` or ``call``): with one candidate, no parallel limit
        # and a closed breaker, the answer is the same every time, so it is kept.
        shape = (key, "call" in spec, "run" in spec)
        direct = self._direct.get(shape)
        if direct is not None and direct[1].state is BreakerState.CLOSED:
            return direct[0], None
        names, strategy = self.candidates(key)
        if not names:
            return Blocked(f"no tool can do kind {key.split(':', 1)[1]!r}", final=True), None
        skipped: dict[str, str] = {}
        usable: list[str] = []
        wake: list[float] = []
        busy = False
        for name in names:
            if not self.installed(name):
                skipped[name] = self._missing(name)
                continue
            limit = self.limit(name)
            if limit is not None and self.running.get(name, 0) >= limit:
                skipped[name] = f"at its limit of {limit}"
                busy = True
                continue
            breaker = self.breaker(name)
            if not breaker.available(now):
                skipped[name] = f"breaker {breaker.state.value}"
                at = breaker.next_probe_at()
                if at is not None:
                    wake.append(at)
                continue
            usable.append(name)
        if not usable:
            reason = "; ".join(f"{n}: {why}" for n, why in skipped.items())
            if busy:
                return Blocked(reason, until=min(wake) if wake else None), None
            if wake:
                return Blocked(reason, until=min(wake)), None
            return Blocked(f"no usable tool ({reason})", final=True), None
        chosen = self._pick(key, usable, names, strategy)
        if skipped:  # only what was passed over on the way to the chosen one is news
            before = set(names[: names.index(chosen)])
            skipped = {name: why for name, why in skipped.items() if name in before}
        breaker = self.breaker(chosen)
        _admitted, change = breaker.acquire(now)
        tool_spec = self.config.tools.get(chosen)
        adapter = "python" if "call" in spec else (tool_spec.adapter if tool_spec and "run" not in spec else "subprocess")
        probe = breaker.state is BreakerState.HALF_OPEN
        route = Route(chosen, adapter, tool_spec, probe, skipped, strategy)
        if len(names) == 1 and breaker.state is BreakerState.CLOSED and self.limit(chosen) is None:
            self._direct[shape] = (route, breaker)
        return route, change

    def _pick(self, key: str, usable: list[str], order: list[str], strategy: Strategy) -> str:
        if strategy == "fixed" or len(usable) == 1:
            return usable[0]
        if strategy == "round_robin":
            turn = self._turn.get(key, 0)
            self._turn[key] = turn + 1
            return usable[turn % len(usable)]
        return max(usable, key=lambda name: (self.stats.score(name), -order.index(name)))

    def started(self, tool: str) -> None:
        self.running[tool] = self.running.get(tool, 0) + 1

    def finished(self, tool: str) -> None:
        self.running[tool] -= 1
