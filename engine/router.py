"""Routing: pick the tool for a step.

A step with ``run`` uses its executable (or its named ``tool``); a step with ``call`` uses the
python adapter; otherwise candidates come from a rule for the step's kind, else from every tool
declaring the kind as a capability, in that order (the fallback order). Candidates whose
breaker is open, whose executable is missing or that are at their parallel limit are skipped;
among the rest the strategy picks: ``fixed`` (first in order), ``round_robin`` (rotate) or
``auto``.

``auto`` learns from the store (``store.tool_totals.kind_stats``, read once per run on the first
choice it makes): once every usable candidate has ``MIN_SAMPLES`` finished attempts on steps of
this kind, it takes the one with the most accepted patches per dollar (an accepted patch is an
approved or applied one; for a step that proposes none, a success), or, when a candidate has no
cost data, the best success rate; ties go to the fallback order. Before that it takes the best
recent success rate, then speed, from the tool stats (with no stats at all: the first in order,
as ``fixed`` does). Either way the route says why (``Route.reason``, in the step's event).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.resilience import Breaker, BreakerChange, effective_policy
from engine.stats import StatsBook
from schemas.memory import KindStats
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
    reason: str | None = None  # why ``auto`` chose this tool
    breaker: bool = True  # False for an ad-hoc command: no breaker counts or holds it


@dataclass(frozen=True)
class Blocked:
    """No candidate can take the step now. ``until`` is when to look again (None: on the next
    completion); ``final`` means no candidate will ever do (e.g. none is installed)."""

    reason: str
    until: float | None = None
    final: bool = False


#: What an ad-hoc command's cached route is checked against: a breaker that stays closed.
_NO_BREAKER = Breaker("", effective_policy(RouterConfig().breaker, None))

#: Finished attempts of a kind of step each candidate needs before ``auto`` trusts what it learned.
MIN_SAMPLES = 5


class Router:
    def __init__(self, config: RouterConfig, stats: StatsBook, records: list[BreakerRecord] | None = None,
                 learned: Callable[[], list[KindStats]] | None = None) -> None:
        self.config = config
        self.stats = stats
        self._learn = learned
        self._learned: dict[tuple[str, str], KindStats] | None = None
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
            # An ad-hoc command is named by its executable for limits and stats, but it is no
            # declared tool: it has no breaker (every ``python3 …`` step is a different program).
            return "tool:" + spec["tool"] if spec.get("tool") else "run:" + os.path.basename(spec["run"][0])
        if "call" in spec:
            return "tool:" + (spec.get("tool") or "python")
        if spec.get("tool"):
            return "tool:" + spec["tool"]
        return "kind:" + spec.get("kind", "task")

    def candidates(self, key: str) -> tuple[list[str], Strategy]:
        found = self._candidates.get(key)
        if found is None:
            what, name = key.split(":", 1)
            if what in ("tool", "run"):
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
        if key.startswith("run:"):
            return self._ad_hoc(key[4:], shape), None
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
        chosen, why = self._pick(key, usable, names, strategy)
        if skipped:  # only what was passed over on the way to the chosen one is news
            before = set(names[: names.index(chosen)])
            skipped = {name: why for name, why in skipped.items() if name in before}
        breaker = self.breaker(chosen)
        _admitted, change = breaker.acquire(now)
        tool_spec = self.config.tools.get(chosen)
        adapter = "python" if "call" in spec else (tool_spec.adapter if tool_spec and "run" not in spec else "subprocess")
        probe = breaker.state is BreakerState.HALF_OPEN
        route = Route(chosen, adapter, tool_spec, probe, skipped, strategy, why)
        if len(names) == 1 and breaker.state is BreakerState.CLOSED and self.limit(chosen) is None:
            self._direct[shape] = (route, breaker)
        return route, change

    def _ad_hoc(self, name: str, shape: tuple[str, bool, bool]) -> Route | Blocked:
        limit = self.limit(name)
        if limit is not None and self.running.get(name, 0) >= limit:
            return Blocked(f"{name}: at its limit of {limit}")
        route = Route(name, "subprocess", self.config.tools.get(name), False, breaker=False)
        if limit is None:
            self._direct[shape] = (route, _NO_BREAKER)
        return route

    def _pick(self, key: str, usable: list[str], order: list[str], strategy: Strategy) -> tuple[str, str | None]:
        if strategy == "fixed" or len(usable) == 1:
            return usable[0], None
        if strategy == "round_robin":
            turn = self._turn.get(key, 0)
            self._turn[key] = turn + 1
            return usable[turn % len(usable)], None
        return self._auto(key, usable, order)

    def learned(self) -> dict[tuple[str, str], KindStats]:
        """What the store says of each (tool, kind), read once."""
        if self._learned is None:
            self._learned = {(s.tool, s.kind): s for s in (self._learn() if self._learn is not None else [])}
        return self._learned

    def _auto(self, key: str, usable: list[str], order: list[str]) -> tuple[str, str | None]:
        what, kind = key.split(":", 1)
        recent = max(usable, key=lambda name: (self.stats.score(name), -order.index(name)))
        if what != "kind" or self._learn is None:
            return recent, None
        book = self.learned()
        found = {name: book.get((name, kind)) for name in usable}
        few = {name: s.attempts if s else 0 for name, s in found.items() if s is None or s.attempts < MIN_SAMPLES}
        if few:
            counts = ", ".join(f"{name} {n}" for name, n in few.items())
            return recent, (f"auto: too few samples of {kind} steps ({counts}; {MIN_SAMPLES} needed): "
                            f"{recent} by recent success, then order")
        learned: dict[str, KindStats] = {name: s for name, s in found.items() if s is not None}
        priced = all(s.accepted_per_usd is not None for s in learned.values())

        def merit(name: str) -> tuple[float, float, int]:
            s = learned[name]
            return ((s.accepted_per_usd or 0.0) if priced else (s.success_rate or 0.0), s.success_rate or 0.0,
                    -order.index(name))

        ranked = sorted(usable, key=merit, reverse=True)
        best, second = learned[ranked[0]], learned[ranked[1]]
        if priced:
            why = (f"auto: {best.tool} {best.accepted_per_usd:.2f} accepted/$ over {second.tool} "
                   f"{second.accepted_per_usd:.2f} ({best.attempts} and {second.attempts} samples)")
        else:
            unpriced = [s.tool for s in learned.values() if s.accepted_per_usd is None]
            why = (f"auto: {best.tool} {best.success_rate or 0:.0%} success over {second.tool} "
                   f"{second.success_rate or 0:.0%} ({best.attempts} and {second.attempts} samples; "
                   f"no accepted/$ for {', '.join(unpriced)})")
        return best.tool, why

    def started(self, tool: str) -> None:
        self.running[tool] = self.running.get(tool, 0) + 1

    def finished(self, tool: str) -> None:
        self.running[tool] -= 1
