"""From what the scanner found to the facts a profile's templates are filled with.

The fact names are ``schemas.profile.FACT_NAMES``. Commands come from the scanner's ranked
candidates, one kind each (``test`` → ``test_command``), chosen *for the profile*: in a
repository with Python and TypeScript, the Python profile runs pytest and the TypeScript one
``npm test``. The rule:

- A profile belongs to an ecosystem (``python``, ``node``, ``terraform``) when one of its
  tools runs an executable of it (``ruff``, ``python``; ``npm``, ``npx``; ``terraform``).
- A candidate whose executable belongs to that ecosystem, or is one of the profile's own tools,
  is preferred; one of *another* ecosystem is never used (a profile that belongs to none, such
  as ``documentation``, may use any); neutral ones (``make``, ``mkdocs``, ``dbt``) are used
  when nothing preferred was found.
- Within those, the scanner's order holds (nearer the root, then the stronger signal).

A command that runs in a sub-folder keeps it (``workdirs``), so the generated step gets a
``cwd``. A fact that cannot be found is left out, and the phases that require it are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.bootstrap.checks import EXPANDED, Project, projects
from engine.bootstrap.facts import folder_of, in_folder, shallowest_first
from engine.bootstrap.index import ScanIndex
from schemas.bootstrap import FactValue
from schemas.profile import Profile
from schemas.scan import COMMAND_KINDS, InferredCommand, ScanReport

ECOSYSTEMS: dict[str, frozenset[str]] = {
    "python": frozenset({
        "python", "python3", "pytest", "ruff", "mypy", "pyright", "flake8", "pylint", "black", "isort",
        "tox", "nox", "uv", "poetry", "pip", "pdm", "pipenv", "hatch", "conda",
    }),
    "node": frozenset({"node", "npm", "npx", "pnpm", "yarn", "bun", "tsc", "eslint", "prettier", "vitest", "jest"}),
    "terraform": frozenset({"terraform", "tofu", "tflint", "terragrunt"}),
}
"""Executables (and package managers, by the same name) of each ecosystem."""

MAX_LIST = 100
"""Items kept in a list fact (folders, files): an argv of thousands of paths helps nobody."""

_MKDOCS_DOCS_DIR = re.compile(r"""^docs_dir:\s*['"]?([^'"\n#]+?)['"]?\s*(?:#.*)?$""", re.MULTILINE)


@dataclass(frozen=True)
class ProjectFacts:
    values: dict[str, FactValue] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    workdirs: dict[str, str] = field(default_factory=dict)
    """Command facts to run in a sub-folder of the root: fact -> folder."""
    projects: tuple[Project, ...] = ()
    """The projects whose checks the generic profile runs, each in its folder."""


def profile_executables(profile: Profile) -> set[str]:
    """Programs the profile's tools and literal step commands run."""
    found: set[str] = set()
    for tool in profile.tools.values():
        if tool.adapter != "subprocess":
            continue
        if tool.executable:
            found.add(tool.executable)
        if tool.command:
            found.add(tool.command[0])
    for phase in profile.phases.values():
        for step in phase.steps:
            if step.run and "{" not in step.run[0]:
                found.add(step.run[0])
    return found


@dataclass(frozen=True)
class _Fit:
    """Which executables suit a profile: preferred, and forbidden (another ecosystem's)."""

    preferred: frozenset[str]
    foreign: frozenset[str]

    @classmethod
    def of(cls, profile: Profile) -> _Fit:
        own = profile_executables(profile)
        mine = [name for name, members in ECOSYSTEMS.items() if own & members]
        preferred = set(own).union(*(ECOSYSTEMS[name] for name in mine))
        foreign = set().union(*(m for n, m in ECOSYSTEMS.items() if n not in mine)) if mine else set()
        return cls(frozenset(preferred), frozenset(foreign - preferred))

    def choose(self, candidates: list[InferredCommand]) -> InferredCommand | None:
        usable = [c for c in candidates if c.argv[0] not in self.foreign]
        return next((c for c in usable if c.argv[0] in self.preferred), usable[0] if usable else None)


def _folders(paths: list[str]) -> list[str]:
    return list(dict.fromkeys(folder_of(p) for p in shallowest_first(paths)))[:MAX_LIST]


COMPOSE_NAMES = frozenset({"compose.yml", "compose.yaml", "docker-compose.yml", "docker-compose.yaml"})


def _dockerfile(name: str) -> bool:
    return name == "Dockerfile" or name.startswith("Dockerfile.") or name.endswith(".dockerfile")


def _by_name(index: ScanIndex, report: ScanReport) -> dict[str, list[str]]:
    """Terraform files, Helm charts, Dockerfiles, Compose files and notebooks. Each kind is one
    filtered pass over the paths, made only when the scan saw a file of it (its extension
    counted, or its name among the interesting files): most trees have none of most kinds."""
    def named(*keys: str) -> bool:
        return any(key in report.files for key in keys)

    def base(path: str) -> str:
        return path.rpartition("/")[2]

    files = index.files
    counts = report.extension_counts
    return {
        "terraform": [p for p in files if p.endswith(".tf")] if counts.get(".tf") else [],
        "helm": [p for p in files if p.endswith("Chart.yaml") and base(p) == "Chart.yaml"] if named("Chart.yaml") else [],
        "docker": [p for p in files if ("Dockerfile" in p or p.endswith(".dockerfile")) and _dockerfile(base(p))]
        if named("Dockerfile", "Dockerfile.*") or counts.get(".dockerfile") else [],
        "compose": [p for p in files if p.endswith(("compose.yml", "compose.yaml")) and base(p) in COMPOSE_NAMES]
        if named("compose.yml", "compose.yaml", "docker-compose*.yml", "docker-compose*.yaml") else [],
        "notebook": [p for p in files if p.endswith(".ipynb")] if counts.get(".ipynb") else [],
    }


def _group(report: ScanReport, key: str) -> list[str]:
    group = report.files.get(key)
    return list(group.paths) if group is not None else []


def _docs_dir(report: ScanReport, index: ScanIndex, docs: InferredCommand | None) -> tuple[str, str] | None:
    """The folder the documentation sources are in, and where that was seen."""
    known = set(index.dirs)
    if docs is not None:
        config = docs.source.split(" ", 1)[0]
        name, folder = config.rpartition("/")[2], folder_of(config)
        if name in ("mkdocs.yml", "mkdocs.yaml"):
            match = _MKDOCS_DOCS_DIR.search(index.read_head(config) or "")
            chosen = in_folder(folder, match.group(1).strip().strip("/") if match else "docs")
        elif name == "book.toml":
            chosen = in_folder(folder, "src")
        else:
            chosen = folder
        if chosen in known or chosen == ".":
            return chosen, config
    for folder in shallowest_first(list(index.dirs)):
        if folder.rpartition("/")[2] in ("docs", "doc"):
            return folder, f"the {folder}/ folder"
    return None


def project_facts(report: ScanReport, index: ScanIndex, profile: Profile) -> ProjectFacts:
    """Every fact that can be known for this profile in this tree."""
    fit = _Fit.of(profile)
    values: dict[str, FactValue] = {}
    sources: dict[str, str] = {}
    workdirs: dict[str, str] = {}
    for kind in COMMAND_KINDS:
        command = fit.choose([c for c in report.command_candidates if c.kind == kind])
        if command is not None:
            name = f"{kind}_command"
            values[name], sources[name] = list(command.argv), command.source
            if command.cwd != ".":
                workdirs[name] = command.cwd
    managers = [m for m in report.package_managers if m.name not in fit.foreign]
    manager = next((m for m in managers if m.name in fit.preferred), managers[0] if managers else None)
    if manager is not None:
        values["package_manager"] = manager.name
        sources["package_manager"] = ", ".join((manager.lockfiles + manager.manifests)[:2])
    named = _by_name(index, report)
    lists = {
        "source_dirs": (report.source_dirs, "folders holding most of the code"),
        "test_dirs": (report.test_dirs, "folders named like tests, or a test runner's testpaths"),
        "terraform_dirs": (_folders(named["terraform"]), "folders holding *.tf files"),
        "helm_charts": (_folders(named["helm"]), "folders holding Chart.yaml"),
        "ansible_playbooks": (_group(report, "ansible playbooks"), "YAML files holding Ansible plays"),
        "dockerfiles": (shallowest_first(named["docker"])[:MAX_LIST], "files named Dockerfile"),
        "compose_files": (shallowest_first(named["compose"])[:MAX_LIST], "Docker Compose files"),
        "kubernetes_manifests": (_group(report, "kubernetes manifests"), "YAML files with apiVersion and kind"),
        "notebooks": (shallowest_first(named["notebook"])[:MAX_LIST], "Jupyter notebooks"),
    }
    for name, (items, why) in lists.items():
        if items:
            values[name], sources[name] = list(items), why
    docs_dir = _docs_dir(report, index, fit.choose([c for c in report.command_candidates if c.kind == "docs"]))
    if docs_dir is not None:
        values["docs_dir"], sources["docs_dir"] = docs_dir
    found = tuple(projects(report)) if profile.name in {name for name, _ in EXPANDED} else ()
    return ProjectFacts(values, sources, workdirs, found)
