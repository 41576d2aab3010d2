"""Python: package managers, test runners, linters and formatters, from pyproject.toml,
setup.cfg, tox.ini, requirements files, tool config files and test modules."""

from __future__ import annotations

import re
from typing import Any

from engine.bootstrap.commands import AGGREGATE, CONFIGURED, DEPENDENCY
from engine.bootstrap.facts import Context, folder_of, in_folder, strings, table

# Dependency name -> (category, tool). Names are normalised (lower case, '-' for '_').
DEPENDENCY_TOOLS = {
    "pytest": ("test_frameworks", "pytest"),
    "tox": ("test_frameworks", "tox"),
    "nox": ("test_frameworks", "nox"),
    "ruff": ("linters", "ruff"),
    "flake8": ("linters", "flake8"),
    "pylint": ("linters", "pylint"),
    "mypy": ("linters", "mypy"),
    "pyright": ("linters", "pyright"),
    "sqlfluff": ("linters", "sqlfluff"),
    "black": ("formatters", "black"),
    "isort": ("formatters", "isort"),
    "dbt-core": ("data", "dbt"),
    "apache-airflow": ("data", "airflow"),
    "dagster": ("data", "dagster"),
    "prefect": ("data", "prefect"),
}

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_IMPORTS = re.compile(r"^\s*(?:import|from)\s+(pytest|unittest)\b", re.MULTILINE)


def _dependency(spec: str) -> str | None:
    match = _NAME.match(spec)
    return match.group(1).lower().replace("_", "-") if match else None


def _pyproject_dependencies(doc: dict[str, Any]) -> set[str]:
    project = table(doc, "project")
    specs = strings(project.get("dependencies"))
    for group in table(project, "optional-dependencies").values():
        specs += strings(group)
    for group in table(doc, "dependency-groups").values():
        specs += strings(group)
    specs += strings(table(doc, "tool", "uv").get("dev-dependencies"))
    for group in table(doc, "tool", "pdm", "dev-dependencies").values():
        specs += strings(group)
    poetry = table(doc, "tool", "poetry")
    specs += list(table(poetry, "dependencies")) + list(table(poetry, "dev-dependencies"))
    for group in table(poetry, "group").values():
        specs += list(table(group, "dependencies"))
    return {name for name in map(_dependency, specs) if name}


def _note_dependencies(ctx: Context, names: set[str], source: str) -> None:
    for name in sorted(names):
        category, tool = DEPENDENCY_TOOLS.get(name) or (("data", "dbt") if name.startswith("dbt-") else (None, None))
        if category and tool:
            ctx.add(category, tool, source, f"dependency {name}", configured=False)


def python_rules(ctx: Context) -> None:
    for path in ctx.paths("pyproject.toml"):
        doc = ctx.toml(path)
        if doc is not None:
            _pyproject(ctx, path, doc)
    for path in ctx.paths("setup.cfg", "tox.ini"):
        parser = ctx.ini(path)
        if parser is None:
            continue
        sections = set(parser.sections())
        for section, category, tool in (
            ("tool:pytest", "test_frameworks", "pytest"), ("pytest", "test_frameworks", "pytest"),
            ("flake8", "linters", "flake8"), ("mypy", "linters", "mypy"), ("isort", "formatters", "isort"),
        ):
            if section in sections:
                ctx.add(category, tool, path, f"[{section}]")
        if path.endswith("tox.ini") and ("tox" in sections or any(s.startswith("testenv") for s in sections)):
            ctx.add("test_frameworks", "tox", path)
        if path.endswith("setup.cfg") and "metadata" in sections:
            ctx.managers.manifest("pip", path)
    for key, category, tool in (
        ("pytest.ini", "test_frameworks", "pytest"), ("conftest.py", "test_frameworks", "pytest"),
        ("noxfile.py", "test_frameworks", "nox"), (".flake8", "linters", "flake8"),
        ("mypy.ini", "linters", "mypy"), (".mypy.ini", "linters", "mypy"), ("ruff.toml", "linters", "ruff"),
        (".ruff.toml", "linters", "ruff"), (".pylintrc", "linters", "pylint"), ("pylintrc", "linters", "pylint"),
        (".isort.cfg", "formatters", "isort"), ("pyrightconfig.json", "linters", "pyright"),
    ):
        for path in ctx.paths(key):
            ctx.add(category, tool, path)
    for path in ctx.paths("ruff.toml", ".ruff.toml"):
        text = ctx.text(path) or ""
        if re.search(r"^\[format\]", text, re.MULTILINE):
            ctx.add("formatters", "ruff", path, "[format]")
    for path in ctx.paths("requirements*.txt"):
        ctx.managers.manifest("pip", path)
        text = ctx.text(path) or ""
        lines = (line for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("#", "-")))
        _note_dependencies(ctx, {n for n in map(_dependency, lines) if n}, path)
    for key, manager in (("setup.py", "pip"), ("Pipfile", "pipenv"), ("environment.yml", "conda"),
                         ("environment.yaml", "conda")):
        for path in ctx.paths(key):
            ctx.managers.manifest(manager, path)
    for key, manager in (("Pipfile.lock", "pipenv"), ("poetry.lock", "poetry"), ("uv.lock", "uv"), ("pdm.lock", "pdm")):
        for path in ctx.paths(key):
            ctx.managers.lockfile(manager, path)
    _test_modules(ctx)


def _pyproject(ctx: Context, path: str, doc: dict[str, Any]) -> None:
    tool = table(doc, "tool")
    folder = folder_of(path)
    siblings = {p for key in ("uv.lock", "poetry.lock", "pdm.lock") for p in ctx.walk.interesting.get(key, ())}
    for name, lock in (("poetry", "poetry.lock"), ("uv", "uv.lock"), ("pdm", "pdm.lock"), ("hatch", None)):
        if name in tool or (lock and in_folder(folder, lock) in siblings):
            ctx.managers.manifest(name, path)
            break
    else:
        if "project" in doc or "build-system" in doc:
            ctx.managers.manifest("pip", path)
    if "ini_options" in table(tool, "pytest"):
        ctx.add("test_frameworks", "pytest", path, "[tool.pytest.ini_options]")
        ctx.test_dir_hints.extend(in_folder(folder, p) for p in strings(table(tool, "pytest", "ini_options").get("testpaths")))
    for name, category in (("ruff", "linters"), ("mypy", "linters"), ("pyright", "linters"), ("pylint", "linters"),
                           ("sqlfluff", "linters"), ("black", "formatters"), ("isort", "formatters")):
        if name in tool:
            ctx.add(category, name, path, f"[tool.{name}]")
    if "format" in table(tool, "ruff"):
        ctx.add("formatters", "ruff", path, "[tool.ruff.format]")
    if "tox" in tool:
        ctx.add("test_frameworks", "tox", path, "[tool.tox]")
    if "dagster" in tool:
        ctx.add("data", "dagster", path, "[tool.dagster]")
    _note_dependencies(ctx, _pyproject_dependencies(doc), path)
    if "build-system" in doc:  # a package, not only an application with dependencies
        manager = "uv" if "uv" in tool or in_folder(folder, "uv.lock") in siblings else (
            "poetry" if "poetry" in tool else None)
        argv = [manager, "build"] if manager else ["python", "-m", "build"]
        ctx.commands.add("build", argv, f"{path} [build-system]", folder, DEPENDENCY)


def _test_modules(ctx: Context) -> None:
    """Which framework the test modules import, for projects that configure none."""
    modules = [p for p in ctx.index.files if p.endswith(".py") and p.rpartition("/")[2].startswith("test")]
    for path in modules[:20]:
        for framework in sorted(set(_IMPORTS.findall(ctx.text(path, 64 * 1024) or ""))):
            ctx.add("test_frameworks", framework, path, f"imports {framework}", configured=False)


def _command(ctx: Context, category: str, tool: str, kind: str, argv: list[str], rank: int | None = None) -> None:
    """Add a command for a tool that was found, run where the tool was best seen."""
    origin = ctx.origin(category, tool)
    if origin is not None:
        strength = rank if rank is not None else (CONFIGURED if origin.configured else DEPENDENCY)
        ctx.commands.add(kind, argv, origin.evidence, origin.folder, strength)


def python_commands(ctx: Context) -> None:
    """Commands for the Python tools found; runs after every rule so that tools seen only in
    pre-commit hooks count too."""
    _command(ctx, "test_frameworks", "pytest", "test", ["python", "-m", "pytest", "-q"])
    unittest = ctx.origin("test_frameworks", "unittest")
    if unittest is not None:
        argv = ["python", "-m", "unittest", "discover"]
        top = unittest.folder.split("/")[0]
        if top != "." and top in ctx.index.dirs:
            argv += ["-s", top, "-t", "."]
        ctx.commands.add("test", argv, unittest.evidence, ".", DEPENDENCY)
    _command(ctx, "linters", "ruff", "lint", ["ruff", "check", "."])
    _command(ctx, "linters", "flake8", "lint", ["flake8"])
    _command(ctx, "linters", "sqlfluff", "lint", ["sqlfluff", "lint", "."])
    _command(ctx, "linters", "mypy", "typecheck", ["mypy", "."])
    _command(ctx, "linters", "pyright", "typecheck", ["pyright"])
    _command(ctx, "formatters", "black", "format", ["black", "."])
    # Only a project that chose ruff's formatter gets it: on code formatted otherwise it
    # would rewrite every file.
    _command(ctx, "formatters", "ruff", "format", ["ruff", "format", "."])
    _command(ctx, "test_frameworks", "tox", "test", ["tox"], AGGREGATE)
    _command(ctx, "test_frameworks", "nox", "test", ["nox"], AGGREGATE)
