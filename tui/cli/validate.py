"""``uet validate``: a workstream file checked (schema, DAG, prompts, tools), and what it
would run. It imports the planner and nothing of what runs: a check is quick to start.
"""

from __future__ import annotations

import argparse
import json
import sys

from engine.errors import Problem, ValidationFailed
from engine.planner import plan_file
from tui.cli.exits import EXIT_INPUT, EXIT_OK
from tui.project import project_root


def cmd_validate(args: argparse.Namespace) -> int:
    root = project_root(args, args.file)
    try:
        plan = plan_file(args.file, root)
    except ValidationFailed as exc:
        if args.json:
            print(json.dumps({"valid": False, "problems": [_fields(p) for p in exc.problems]}, indent=2))
            return EXIT_INPUT
        raise
    _warn(plan)
    tools = sorted({s.spec.get("tool") or (s.spec["run"][0] if "run" in s.spec else None) or
                    ("python" if "call" in s.spec else f"<{s.kind}>") for s in plan.steps})
    depth = _depth(plan)
    templates = sum(1 for s in plan.workstream.steps if s.matrix)
    if args.json:
        print(json.dumps({"valid": True, "file": str(args.file), "workstream": plan.workstream.name,
                          "warnings": [_fields(p) for p in plan.warnings],
                          "steps": len(plan.steps), "templates": templates, "depth": depth,
                          "max_parallel": plan.workstream.max_parallel, "tools": tools, "root": str(plan.root)},
                         indent=2))
        return EXIT_OK
    print(f"✔ {args.file} is valid")
    print(f"  workstream   {plan.workstream.name}")
    print(f"  steps        {len(plan.steps)}" + (f" ({templates} matrix template(s) expanded)" if templates else ""))
    print(f"  depth        {depth} layer(s); max_parallel {plan.workstream.max_parallel}")
    print(f"  tools        {', '.join(tools)}")
    print(f"  project root {plan.root}")
    if plan.workstream.budget:
        print(f"  budget       {plan.workstream.budget.model_dump(exclude_none=True)}")
    return EXIT_OK


def _fields(problem: Problem) -> dict[str, object]:
    return {"message": problem.message, "file": problem.file, "line": problem.line, "column": problem.column,
            "field": problem.field}


def _warn(plan) -> None:  # noqa: ANN001
    """What is allowed but probably not meant, on stderr, before anything runs."""
    for problem in plan.warnings:
        print(f"uet: warning: {problem.render()}", file=sys.stderr)


def _depth(plan) -> int:  # noqa: ANN001
    level: dict[str, int] = {}
    index = {s.id: s for s in plan.steps}
    import graphlib

    for sid in graphlib.TopologicalSorter({s.id: s.needs for s in plan.steps}).static_order():
        level[sid] = 1 + max((level[n] for n in index[sid].needs), default=0)
    return max(level.values(), default=0)
