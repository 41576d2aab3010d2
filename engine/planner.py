"""From a workstream file to a plan: load it safely, validate it against the schema, expand
matrix templates, and check the DAG (duplicate ids, unknown needs, the exact cycle, unknown
tools and gates, missing executables). Every problem names file, line, column and field.
"""

from __future__ import annotations

import difflib
import graphlib
import importlib.util
import itertools
import math
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import prompts
from engine.documents import validate_document
from engine.errors import Problem, ValidationFailed
from engine.projects import find_root
from engine.toolconfig import load_router_config, router_path
from engine.workdir import cwd_outside
from engine.yamlsafe import Loc, Located, cycle_collection_paused, load, render_loc
from schemas.placeholders import BUILT_IN_PLACEHOLDERS
from schemas.workstream import (
    MAX_STEPS,
    PLACEHOLDER,
    Step,
    Workstream,
    matrix_size,
)

if TYPE_CHECKING:
    from schemas.router import RouterConfig

_EXPANDED_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")


@dataclass(frozen=True)
class PlannedStep:
    id: str
    kind: str
    needs: list[str]
    spec: dict[str, Any]
    source_index: int


@dataclass
class Plan:
    workstream: Workstream
    source: Path | None
    root: Path
    loaded_router: RouterConfig | None  # None until asked for: no step needed it to be planned
    steps: list[PlannedStep]
    warnings: list[Problem] = field(default_factory=list)

    @property
    def router(self) -> RouterConfig:
        if self.loaded_router is None:
            self.loaded_router = load_router_config(self.root)
        return self.loaded_router

    @property
    def spec(self) -> dict[str, Any]:
        """Run-level settings stored with the run (everything but the steps)."""
        return self.workstream.model_dump(mode="json", exclude={"steps"}, exclude_none=True)


def substitute(text: str, values: dict[str, str]) -> str:
    """Replace ``{name}`` for known names only; other braces are the user's own text."""
    if "{" not in text:  # most arguments: no placeholder to look for
        return text
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def load_workstream(path: Path) -> tuple[Workstream, Located]:
    with cycle_collection_paused():
        located = load(path)
        return validate_document(located, Workstream), located


# -- expansion and DAG checks --------------------------------------------------------------


def _expand(step: Step, root: str) -> list[tuple[str, dict[str, str]]]:
    base = {"root": root}
    if step.matrix is None:
        return [(step.id, base)]
    keys = list(step.matrix)
    out = []
    for combo in itertools.product(*(step.matrix[k] for k in keys)):
        values = {**base, **{k: str(v) for k, v in zip(keys, combo, strict=True)}}
        out.append((substitute(step.id, values), values))
    return out


def _too_many_steps(workstream: Workstream) -> tuple[Loc, str] | None:
    """Where the expanded plan would pass ``MAX_STEPS``, if it would: at the template that takes
    the count past it (each template alone was checked with the schema)."""
    total = 0
    for index, step in enumerate(workstream.steps):
        sizes = [len(values) for values in step.matrix.values()] if step.matrix else [1]
        total += math.prod(sizes)
        if total > MAX_STEPS:
            made = f"its matrix makes {matrix_size(sizes)}" if step.matrix else "it is one more"
            return ((("steps", index, "matrix") if step.matrix else ("steps", index)),
                    f"the workstream would have more than {MAX_STEPS:,} steps once its templates are expanded "
                    f"({total - math.prod(sizes):,} before this step; {made})")
    return None


def _placeholder_typos(step: Step, index: int) -> Iterator[tuple[Loc, str]]:
    """``{name}``s in a step's command, environment and directory that are no placeholder of the
    step but look like one misspelt. Other braces are the command's own text (awk, jq, find) and
    pass as written, so only a near miss is worth a warning."""
    texts: list[tuple[Loc, str]] = [(("run", i), arg) for i, arg in enumerate(step.run or ()) if "{" in arg]
    texts += [(("env", name), value) for name, value in step.env.items() if "{" in value]
    texts += [(("cwd",), step.cwd)] if step.cwd and "{" in step.cwd else []
    known = [*BUILT_IN_PLACEHOLDERS, "description", *(step.matrix or ())] if texts else []
    for loc, text in texts:
        for name in dict.fromkeys(PLACEHOLDER.findall(text)):
            if name in known:
                continue
            hint = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            if hint:
                yield (("steps", index, *loc),
                       f"{{{name}}} is no placeholder of this step and is passed on as written; "
                       f"did you mean {{{hint[0]}}}?")


def _upstream(sid: str, graph: dict[str, list[str]], wanted: set[str]) -> set[str]:
    """The steps above ``sid`` (through ``needs``); the walk stops once every ``wanted`` one is
    found, so a prompt that names its direct needs costs little in a large DAG."""
    found: set[str] = set()
    stack = list(graph.get(sid, ()))
    while stack and not wanted <= found:
        parent = stack.pop()
        if parent in found:
            continue
        found.add(parent)
        stack.extend(graph.get(parent, ()))
    return found


def _prompt_problems(workstream: Workstream, planned: list[PlannedStep], graph: dict[str, list[str]],
                     ids: set[str], where: Any, located: Located | None) -> list[Problem]:
    """Placeholders of prompts that name nothing, or an output that will not exist when the
    step starts; each reported once per template, at the placeholder's own line and column."""
    problems: list[Problem] = []
    reported: set[tuple[int, str]] = set()
    patch_steps = {item.id for item in planned if item.spec.get("produces") == "patch"}
    for item in planned:
        text = item.spec.get("prompt")
        if text is None:
            continue
        step = workstream.steps[item.source_index]
        uses = set(item.spec.get("uses", ())) | set(item.spec.get("uses_patch", ()))
        upstream = _upstream(item.id, graph, uses) if uses else set()
        simple = [*prompts.PROMPT_NAMES, *(step.matrix or ())]
        for found in prompts.check(text, simple=simple, step_ids=ids, upstream=upstream, has_gate=step.gate is not None,
                                   patch_steps=patch_steps, produces_patch=item.spec.get("produces") == "patch"):
            key = (item.source_index, found.message)
            if key in reported:
                continue
            reported.add(key)
            loc: Loc = ("steps", item.source_index, "prompt")
            written = step.prompt or ""
            if located is not None and found.token in written:
                nth = written[: written.find(found.token)].count(found.token)
                line, column = located.position_in(loc, found.token, nth)
                problems.append(Problem(found.message, located.file, line, column, render_loc(loc)))
            else:
                problems.append(where(loc, found.message))
    return problems


def _executable_problem(argv0: str, cwd: Path, found: dict[str, str | None]) -> str | None:
    """Why ``argv0`` cannot run from ``cwd``, if it cannot; PATH lookups are kept in ``found``
    (a workstream names the same few programs thousands of times)."""
    if os.sep in argv0:
        target = Path(argv0) if os.path.isabs(argv0) else cwd / argv0
        if not target.is_file():
            return f"executable {argv0!r} does not exist"
        if not os.access(target, os.X_OK):
            return f"{argv0!r} is not executable"
        return None
    if argv0 not in found:
        found[argv0] = shutil.which(argv0)
    if found[argv0] is None:
        return f"executable {argv0!r} not found on PATH"
    return None


_NOT_IN_SPEC = frozenset({"matrix", "id", "needs"})


def _needs_tools(workstream: Workstream) -> bool:
    """Whether a step names a tool, or leaves its tool to the router (no `run`, no `call`)."""
    return any(step.tool is not None or (step.run is None and step.call is None) for step in workstream.steps)


def _specs(workstream: Workstream) -> list[dict[str, Any]]:
    """Each step's settings as stored (all but its id, needs and matrix), dumped in one call for
    the whole list rather than once per step."""
    dumped = workstream.model_dump(mode="json", include={"steps"}, exclude={"steps": {"__all__": _NOT_IN_SPEC}},
                                   exclude_none=True, exclude_defaults=True)
    return dumped["steps"]


def _needs_point_back(planned: list[PlannedStep]) -> bool:
    """Whether every step needs only steps before it: then the file's order is an order to run
    them in and there is no cycle to look for (the usual case, checked in one pass)."""
    position: dict[str, int] = {}
    for index, item in enumerate(planned):
        for need in item.needs:
            if position.get(need, index) >= index:
                return False
        position[item.id] = index
    return True


def build_plan(workstream: Workstream, located: Located | None, source: Path | None, root: Path,
               router: RouterConfig | None = None) -> Plan:
    with cycle_collection_paused():
        return _build_plan(workstream, located, source, root, router)


def _build_plan(workstream: Workstream, located: Located | None, source: Path | None, root: Path,
                router: RouterConfig | None) -> Plan:
    if router is None and (_needs_tools(workstream) or os.path.lexists(router_path(root))):
        # A project's own router file is always read (a broken one is bad input); the built-in
        # one only when a step names a tool or leaves the choice to routing.
        router = load_router_config(root)
    tools = router.tools if router is not None else {}
    rules = router.rules if router is not None else []
    problems: list[Problem] = []
    warnings: list[Problem] = []

    def where(loc: Loc, message: str) -> Problem:
        if located is not None:
            return located.problem(message, loc)
        return Problem(message, str(source) if source else None, field=render_loc(loc))

    oversized = _too_many_steps(workstream)
    if oversized is not None:  # before anything is expanded: a matrix multiplies
        raise ValidationFailed([where(*oversized)])

    expanded: list[tuple[int, str, dict[str, str]]] = []
    template_ids: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    made_by: dict[str, dict[str, str]] = {}  # the matrix values an expanded id came from
    root_text = str(root)
    for index, step in enumerate(workstream.steps):
        items = _expand(step, root_text)
        if step.matrix is not None:
            template_ids[step.id] = [sid for sid, _ in items]
        for step_id, values in items:
            if step.matrix is not None and not _EXPANDED_ID.fullmatch(step_id):
                problems.append(where(("steps", index, "id"), f"the matrix makes the id {step_id!r}, which must start "
                                      "with a letter, digit or '_' and be at most 200 characters long"))
                break  # one report per template: the others would say the same
            if step_id in seen:
                if seen[step_id] == index:
                    both = " and ".join(", ".join(f"{k}={v}" for k, v in combo.items() if k != "root")
                                        for combo in (made_by[step_id], values))
                    message = f"the matrix makes the id {step_id!r} twice (from {both})"
                else:
                    message = f"duplicate step id {step_id!r} (also steps[{seen[step_id]}])"
                problems.append(where(("steps", index, "id"), message))
                continue
            seen[step_id] = index
            if step.matrix is not None:
                made_by[step_id] = values
            expanded.append((index, step_id, values))

    known_ids = set(seen) | set(template_ids)
    specs = _specs(workstream) if any(step.matrix is None for step in workstream.steps) else []
    outside: dict[str, str | None] = {}  # per working directory: whether a link leads it out
    planned: list[PlannedStep] = []
    graph: dict[str, list[str]] = {}
    for index, step_id, values in expanded:
        step = workstream.steps[index]
        needs: list[str] = []
        for j, need in enumerate(step.needs):
            concrete = substitute(need, values)
            if concrete in seen:
                needs.append(concrete)
            elif concrete in template_ids:
                needs.extend(template_ids[concrete])
            elif need in template_ids:
                needs.extend(template_ids[need])
            else:
                hint = difflib.get_close_matches(concrete, sorted(known_ids), n=1)
                message = f"needs unknown step {concrete!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                if (("steps", index, "needs", j), message) not in {(p.field, p.message) for p in problems}:
                    problems.append(where(("steps", index, "needs", j), message))
        needs = list(dict.fromkeys(needs))
        graph[step_id] = needs
        if step.matrix is None:
            spec = specs[index]
        else:  # each step of a template gets a spec of its own
            spec = step.model_dump(mode="json", exclude=_NOT_IN_SPEC, exclude_none=True, exclude_defaults=True)
        if step.produces == "patch":
            # Its {root} is its scratch copy, known only when the attempt starts (engine.pipeline).
            values = {k: v for k, v in values.items() if k != "root"}
        if step.run is not None:
            spec["run"] = [substitute(arg, values) for arg in step.run]
        if step.env:
            spec["env"] = {k: substitute(v, values) for k, v in step.env.items()}
        if step.cwd is not None:
            cwd = spec["cwd"] = substitute(step.cwd, values)
            if cwd not in outside:
                outside[cwd] = problem = cwd_outside(str(root), cwd)
                if problem is not None:  # once per directory: a template's steps would all say it
                    problems.append(where(("steps", index, "cwd"), problem))
        if step.params:
            spec["params"] = {k: substitute(v, values) if isinstance(v, str) else v for k, v in step.params.items()}
        if step.prompt is not None:
            matrix_values = {k: v for k, v in values.items() if k != "root"}
            text = spec["prompt"] = prompts.fill_matrix(step.prompt, matrix_values)
            uses = prompts.referenced_steps(text)
            if uses:
                spec["uses"] = uses
            diffs = prompts.referenced_steps(text, prompts.STEP_PATCH)
            if diffs:
                spec["uses_patch"] = diffs
        if step.matrix is not None:
            spec["vars"] = {k: v for k, v in values.items() if k != "root"}
            spec["template"] = step.id
        planned.append(PlannedStep(step_id, step.kind, needs, spec, index))

    # tools, gates, executables: checked once per source step
    checked: set[int] = set()
    importable: dict[str, bool] = {}
    on_path: dict[str, str | None] = {}
    for item in planned:
        index = item.source_index
        if index in checked:
            continue
        checked.add(index)
        step = workstream.steps[index]
        if step.tool is not None and step.tool not in tools:
            hint = difflib.get_close_matches(step.tool, sorted(tools), n=1)
            problems.append(where(("steps", index, "tool"), f"unknown tool {step.tool!r}" + (
                f"; did you mean {hint[0]!r}?" if hint else f"; known tools: {', '.join(sorted(tools)) or 'none'}")))
        named = tools.get(step.tool) if step.tool is not None and step.run is None else None
        if named is not None and named.adapter == "subprocess":
            program = named.executable or (named.command[0] if named.command else step.tool)
            if _executable_problem(program, root, on_path) is not None:
                hint = ""
                if named.agent is not None:
                    from engine.agents.catalog import PACKAGES

                    hint = f" (install: {PACKAGES[named.agent]})"
                warnings.append(where(("steps", index, "tool"), f"tool {step.tool!r} needs {program!r}, which is not "
                                      f"on PATH{hint}: the step will fail unless it is installed first"))
        if step.tool is not None and step.tool in tools and tools[step.tool].agent is not None \
                and step.prompt is None and step.description is None and step.run is None:
            problems.append(where(("steps", index), f"step {step.id!r} goes to the agent {step.tool!r} but gives it "
                                  "no task: add a `prompt` (or a `description`)"))
        if step.gate is not None and step.gate not in workstream.gates:
            problems.append(where(("steps", index, "gate"), f"unknown gate {step.gate!r}; define it under `gates:`"))
        warnings.extend(where(loc, message) for loc, message in _placeholder_typos(step, index))
        if step.run is not None:
            cwd = root / substitute(step.cwd, {"root": str(root)}) if step.cwd else root
            issue = _executable_problem(substitute(step.run[0], {"root": str(root)}), cwd, on_path)
            if issue:
                problems.append(where(("steps", index, "run", 0), issue))
        elif step.call is not None:
            module = step.call.split(":", 1)[0]
            if module not in importable:
                try:
                    importable[module] = importlib.util.find_spec(module) is not None
                except (ImportError, ValueError):
                    importable[module] = False
            if not importable[module]:
                problems.append(where(("steps", index, "call"), f"module {module!r} cannot be imported"))
        elif step.tool is None:
            capable = [name for name, tool in tools.items() if step.kind in tool.capabilities]
            capable += [t for rule in rules if rule.kind == step.kind for t in rule.tools]
            if not capable:
                problems.append(where(("steps", index, "kind"),
                                      f"no tool can do kind {step.kind!r}: give the step `run`, `call` or `tool`, "
                                      "or add a tool with this capability to .uet/router.yaml"))

    problems.extend(_prompt_problems(workstream, planned, graph, set(seen), where, located))

    if not problems and not _needs_point_back(planned):
        sorter = graphlib.TopologicalSorter(graph)
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            cycle: list[str] = exc.args[1]
            first = cycle[0]
            index = next(p.source_index for p in planned if p.id == first)
            need_index = next(
                (j for j, n in enumerate(workstream.steps[index].needs) if n in (cycle[-2], workstream.steps[seen[cycle[-2]]].id)),
                None,
            )
            loc: Loc = ("steps", index, "needs", need_index) if need_index is not None else ("steps", index, "needs")
            problems.append(where(loc, "dependency cycle: " + " → ".join(cycle) + " (each step needs the one before it)"))

    if any(step.produces == "patch" for step in workstream.steps):
        # Patch steps read the project's sandbox setting: a wrong one is bad input now, not a
        # failed attempt later.
        from engine.patches.policy import sandbox_setting

        try:
            sandbox_setting(root)
        except ValidationFailed as exc:
            problems.extend(exc.problems)

    if problems:
        raise ValidationFailed(problems)
    return Plan(workstream, source, root, router, planned, warnings)


def plan_file(path: Path, root: Path | None = None) -> Plan:
    with cycle_collection_paused():  # one pause, and one collection once the plan is made
        workstream, located = load_workstream(path)
        resolved_root = root if root is not None else find_root(path.parent)
        return build_plan(workstream, located, path.resolve(), resolved_root)
