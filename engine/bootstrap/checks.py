"""The checks a project already has, one set per project in the tree, for the generic
profile's ``quality`` phase.

Languages without a profile of their own (Go, Rust, Java, .NET, C/C++, Ruby, shell) still get
a workstream that runs: the scanner's best lint and test command of each folder that has a
test command. When the root has one it runs alone (a root build, ``make test`` or ``go test
./...``, covers its sub-projects); otherwise each sub-project runs its own, in its folder
(``cwd``), so a monorepo of a Go service and a Rust crate is tested as two projects.

The phase template gives the test step's shape; a project whose scan found a lint command gets
a lint step before its tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from schemas.scan import InferredCommand, ScanReport

MAX_PROJECTS = 10
"""Sub-projects checked in one workstream at most (the shallowest)."""
EXPANDED = {("generic", "quality")}
"""(profile, phase) pairs written once per project found."""
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Project:
    folder: str
    test: InferredCommand
    lint: InferredCommand | None = None

    @property
    def slug(self) -> str:
        return _NOT_ID.sub("-", self.folder).strip("-") or "root"


PROFILE_OF = {"python": "software-dev-python", "node": "software-dev-typescript", "terraform": "infrastructure",
              "dbt": "data-pipeline"}
"""The profile a sub-project would get on its own, by the ecosystem of its test command."""


def profile_of(project: Project, ecosystems: dict[str, frozenset[str]]) -> str:
    program = project.test.argv[0]
    if program == "dbt":
        return PROFILE_OF["dbt"]
    return next((PROFILE_OF[name] for name, members in ecosystems.items() if program in members), "generic")


def projects(report: ScanReport, every: bool = False) -> list[Project]:
    """The projects to check, shallowest first: the root alone when it has a test command
    (``every``: the sub-projects too, for a listing)."""
    first: dict[tuple[str, str], InferredCommand] = {}
    for command in report.command_candidates:  # best first within each kind
        first.setdefault((command.kind, command.cwd), command)
    folders = sorted({cwd for kind, cwd in first if kind == "test"}, key=lambda f: (f != ".", f.count("/"), f))
    if "." in folders and not every:
        folders = ["."]
    return [Project(folder, first[("test", folder)], first.get(("lint", folder))) for folder in folders[:MAX_PROJECTS]]


def expand(document: dict[str, Any], found: list[Project]) -> dict[str, Any]:
    """The rendered phase with its one test step replaced by each project's lint and test."""
    template = next((step for step in document["steps"] if step.get("kind") == "test"), None)
    if template is None or not found:
        return document
    steps: list[dict[str, Any]] = []
    single = len(found) == 1
    for project in found:
        prefix = "" if single else f"{project.slug}-"
        where = {} if project.folder == "." else {"cwd": project.folder}
        needs: list[str] = []
        if project.lint is not None:
            steps.append({"id": f"{prefix}lint", "kind": "lint", "run": list(project.lint.argv), **where})
            needs = [f"{prefix}lint"]
        test = {key: value for key, value in template.items() if key not in ("id", "run", "cwd", "needs")}
        steps.append({"id": f"{prefix}test", **test, **({"needs": needs} if needs else {}),
                      "run": list(project.test.argv), **where})
    return {**document, "steps": steps}
