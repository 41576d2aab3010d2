"""The Validation Engine: the generated files checked before anything is written.

Each workstream goes through what ``uet validate`` does — parse, schema, matrix expansion,
DAG (duplicate ids, unknown needs, cycles), tools known to the generated router, gates that
exist — against the generated ``router.yaml``, from the text that would be written. The router
file is read back the same way.

One difference: a program missing from PATH is a *warning* here, an error in ``uet validate``.
Bootstrap writes files for the tools a project should use, and a fresh machine may not have
all of them yet; the warning names the file, the field and the executable, and the
workstream is still written. The same goes for gate commands and for the executables of the
router tools the workstreams use (by name, or routed by kind).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

from engine.agents.catalog import with_catalog
from engine.bootstrap.generate import ROUTER, Artifact, Generated
from engine.bootstrap.issues import from_problem
from engine.documents import validate_document
from engine.errors import Problem, ValidationFailed
from engine.planner import build_plan
from engine.yamlsafe import Located, parse
from schemas.bootstrap import Issue
from schemas.router import RouterConfig
from schemas.workstream import Workstream

_RUN_ZERO = re.compile(r"^steps\[(\d+)\]\.run\[0\]$")
"""The field of the one problem ``build_plan`` reports for a missing executable."""


def _on_path(executable: str, root: Path, path: str | None = None) -> bool:
    if "/" in executable:
        target = Path(executable) if Path(executable).is_absolute() else root / executable
        return target.is_file()
    return shutil.which(executable, path=path) is not None


def _missing(executable: str) -> str:
    return f"executable {executable!r} not found on PATH; install it before running this, or change the command"


class _Checker:
    def __init__(self, root: Path, router: RouterConfig, path: str | None) -> None:
        self.root = root
        self.path = path
        self.router = router
        self.issues: list[Issue] = []
        self.warned: set[str] = set()
        self.router_located: Located | None = None

    def warn_missing(self, executable: str, file: str, field: str, located: Located | None = None) -> None:
        if executable in self.warned or _on_path(executable, self.root, self.path):
            return
        self.warned.add(executable)
        if located is not None:
            problem = located.problem(_missing(executable), _loc(field))
        else:
            problem = Problem(_missing(executable), file, field=field)
        self.issues.append(from_problem(problem, "warning", "validate"))

    def workstream(self, artifact: Artifact) -> None:
        try:
            located = parse(artifact.text, artifact.path)
            workstream: Workstream = validate_document(located, Workstream)
        except ValidationFailed as exc:
            self.issues.extend(from_problem(p, "error", "validate") for p in exc.problems)
            return
        try:
            build_plan(workstream, located, self.root / artifact.path, self.root, self.router)
        except ValidationFailed as exc:
            for problem in exc.problems:
                step = _RUN_ZERO.match(problem.field or "")
                if step is None:
                    self.issues.append(from_problem(problem, "error", "validate"))
                else:
                    run = workstream.steps[int(step.group(1))].run or [""]
                    if run[0] not in self.warned:
                        self.warned.add(run[0])
                        self.issues.append(from_problem(problem, "warning", "validate"))
        for step in workstream.steps:
            if step.run is None and step.call is None:
                self._routable(self._tools_for(step.tool, step.kind))
        for gate, commands in workstream.gates.items():
            for index, argv in enumerate(commands):
                self.warn_missing(argv[0], artifact.path, f"gates.{gate}[{index}][0]", located)

    def _tools_for(self, tool: str | None, kind: str) -> list[str]:
        """The step's candidates, as the router finds them: its tool, else the rule for its
        kind, else every tool capable of the kind."""
        if tool is not None:
            return [tool] if tool in self.router.tools else []
        rule = next((r for r in self.router.rules if r.kind == kind), None)
        if rule is not None:
            return [name for name in rule.tools if name in self.router.tools]
        return [name for name, spec in self.router.tools.items() if kind in spec.capabilities]

    def _program(self, name: str) -> tuple[str, str] | None:
        """The program a subprocess tool needs on PATH, and the field that names it."""
        spec = self.router.tools[name]
        if spec.adapter != "subprocess":
            return None
        if spec.executable:
            return spec.executable, f"tools.{name}.executable"
        if spec.command:
            return spec.command[0], f"tools.{name}.command[0]"
        return None

    def _routable(self, names: list[str]) -> None:
        """Warn about the candidates' missing programs when none of them can take the step
        (a missing fallback is skipped by the router, not a problem)."""
        programs = [self._program(name) for name in names]
        if not names or any(p is None or _on_path(p[0], self.root, self.path) for p in programs):
            return
        for program in programs:
            if program is not None:
                self.warn_missing(program[0], ROUTER, program[1], self.router_located)

    def router_file(self, artifact: Artifact) -> None:
        try:
            self.router_located = parse(artifact.text, artifact.path)
            # read as every router is: with the built-in agent tools the file may route to
            validate_document(dataclasses.replace(self.router_located, data=with_catalog(self.router_located.data)),
                              RouterConfig)
        except ValidationFailed as exc:
            self.issues.extend(from_problem(p, "error", "validate") for p in exc.problems)


def _loc(field: str) -> tuple[str | int, ...]:
    """``gates.tests[0][0]`` as the location tuple ``("gates", "tests", 0, 0)``."""
    out: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", field):
        out.append(int(index) if index else name)
    return tuple(out)


def check(generated: Generated, root: Path, path: str | None = None) -> list[Issue]:
    """Errors and warnings of the generated files, each with its file and field; executables
    are looked for on ``path`` (a PATH string; None: this process's PATH)."""
    if generated.router is None or generated.router_config is None:
        return []
    checker = _Checker(root, generated.router_config, path)
    checker.router_file(generated.router)
    for artifact in generated.workstreams:
        checker.workstream(artifact)
    return checker.issues
