"""JavaScript and TypeScript: the package manager of each package.json, its test runner,
linter and formatter, and the scripts the project already wrote for them."""

from __future__ import annotations

from typing import Any

from engine.bootstrap.commands import CONFIGURED, DEPENDENCY
from engine.bootstrap.facts import Context, folder_of, in_folder, table

# Dependency -> (category, tool).
DEPENDENCY_TOOLS = {
    "vitest": ("test_frameworks", "vitest"),
    "jest": ("test_frameworks", "jest"),
    "mocha": ("test_frameworks", "mocha"),
    "ava": ("test_frameworks", "ava"),
    "@playwright/test": ("test_frameworks", "playwright"),
    "cypress": ("test_frameworks", "cypress"),
    "eslint": ("linters", "eslint"),
    "xo": ("linters", "xo"),
    "@biomejs/biome": ("linters", "biome"),
    "stylelint": ("linters", "stylelint"),
    "markdownlint-cli": ("linters", "markdownlint"),
    "markdownlint-cli2": ("linters", "markdownlint"),
    "prettier": ("formatters", "prettier"),
    "@docusaurus/core": ("docs", "docusaurus"),
    "vitepress": ("docs", "vitepress"),
}

CONFIG_FILES = (
    ("vitest.config.*", "test_frameworks", "vitest"), ("jest.config.*", "test_frameworks", "jest"),
    (".mocharc*", "test_frameworks", "mocha"), ("playwright.config.*", "test_frameworks", "playwright"),
    ("cypress.config.*", "test_frameworks", "cypress"), (".eslintrc*", "linters", "eslint"),
    ("eslint.config.*", "linters", "eslint"), ("biome.json", "linters", "biome"), ("biome.jsonc", "linters", "biome"),
    (".prettierrc*", "formatters", "prettier"), ("prettier.config.*", "formatters", "prettier"),
    ("biome.json", "formatters", "biome"), ("docusaurus.config.*", "docs", "docusaurus"),
)

LOCKFILES = {"package-lock.json": "npm", "yarn.lock": "yarn", "pnpm-lock.yaml": "pnpm", "bun.lockb": "bun", "bun.lock": "bun"}

# Script names, in order of preference, for each kind of command.
SCRIPTS = {
    "test": ("test",),
    "lint": ("lint",),
    "format": ("format", "fmt", "prettier"),
    "typecheck": ("typecheck", "type-check", "check-types", "types", "tsc"),
    "build": ("build",),
    "docs": ("docs:build", "docs"),
}

NPM_PLACEHOLDER = "no test specified"
"""What `npm init` writes into scripts.test: a script that always fails."""


def run_script(manager: str, script: str) -> list[str]:
    if script == "test" and manager in ("npm", "yarn", "pnpm"):
        return [manager, "test"]
    return [manager, "run", script]


def node_rules(ctx: Context) -> None:
    for key, category, tool in CONFIG_FILES:
        for path in ctx.paths(key):
            ctx.add(category, tool, path)
    locks: dict[str, str] = {}
    for key, manager in LOCKFILES.items():
        for path in ctx.paths(key):
            ctx.managers.lockfile(manager, path)
            locks.setdefault(folder_of(path), manager)
    tsconfigs = {folder_of(p) for p in ctx.paths("tsconfig.json")}
    for path in ctx.paths("package.json"):
        package = ctx.json(path)
        if package is not None:
            _package(ctx, path, package, locks, tsconfigs)


def _manager(package: dict[str, Any], folder: str, locks: dict[str, str]) -> str:
    """packageManager ("pnpm@9.1.0") wins, then a lockfile beside it, then one at the root
    (a workspace member), then npm."""
    declared = package.get("packageManager")
    if isinstance(declared, str) and declared.split("@", 1)[0] in ("npm", "yarn", "pnpm", "bun"):
        return declared.split("@", 1)[0]
    return locks.get(folder) or locks.get(".") or "npm"


def _package(ctx: Context, path: str, package: dict[str, Any], locks: dict[str, str], tsconfigs: set[str]) -> None:
    folder = folder_of(path)
    manager = _manager(package, folder, locks)
    ctx.managers.manifest(manager, path)
    dependencies: set[str] = set()
    for section in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies"):
        dependencies.update(table(package, section))
    for name in sorted(dependencies):
        if name in DEPENDENCY_TOOLS:
            category, tool = DEPENDENCY_TOOLS[name]
            ctx.add(category, tool, path, f"dependency {name}", configured=False)
    if "eslintConfig" in package:
        ctx.add("linters", "eslint", path, "eslintConfig")
    if "prettier" in package:
        ctx.add("formatters", "prettier", path, "prettier")
    scripts = {k: v for k, v in table(package, "scripts").items() if isinstance(v, str)}
    if NPM_PLACEHOLDER in scripts.get("test", ""):
        del scripts["test"]
    is_docs_site = "@docusaurus/core" in dependencies or "vitepress" in dependencies
    for kind, names in SCRIPTS.items():
        script = next((n for n in names if n in scripts), None)
        if script is not None:
            ctx.commands.add(kind, run_script(manager, script), f"{path} scripts.{script}", folder, CONFIGURED)
            if kind == "build" and is_docs_site:
                ctx.commands.add("docs", run_script(manager, script), f"{path} scripts.{script}", folder, CONFIGURED)
    for tool, kind, argv in (
        ("vitest", "test", ["npx", "vitest", "run"]), ("jest", "test", ["npx", "jest"]),
        ("mocha", "test", ["npx", "mocha"]), ("eslint", "lint", ["npx", "eslint", "."]), ("xo", "lint", ["npx", "xo"]),
        ("prettier", "format", ["npx", "prettier", "--write", "."]),
    ):
        if tool in dependencies:
            ctx.commands.add(kind, argv, f"{path} dependency {tool}", folder, DEPENDENCY)
    if "typescript" in dependencies and folder in tsconfigs:
        ctx.commands.add("typecheck", ["npx", "tsc", "--noEmit"], in_folder(folder, "tsconfig.json"), folder, DEPENDENCY)
