"""Go, Rust, JVM and Ruby projects, task runners (make, just, pre-commit) and CI systems."""

from __future__ import annotations

import re

from engine.bootstrap.commands import AGGREGATE, CONFIGURED, DEPENDENCY, TASK_RUNNER
from engine.bootstrap.facts import Context, folder_of

CI_FILES = (
    (".github/workflows/", "github-actions"), (".gitlab-ci.yml", "gitlab-ci"), ("Jenkinsfile", "jenkins"),
    (".circleci/", "circleci"), ("azure-pipelines.yml", "azure-pipelines"), (".travis.yml", "travis"),
    ("bitbucket-pipelines.yml", "bitbucket-pipelines"), (".drone.yml", "drone"), (".buildkite/", "buildkite"),
    (".woodpecker.yml", "woodpecker"), (".woodpecker/", "woodpecker"), ("appveyor.yml", "appveyor"),
)

# Makefile / justfile target -> kind of command.
TARGETS = {"test": "test", "tests": "test", "lint": "lint", "format": "format", "fmt": "format",
           "typecheck": "typecheck", "type-check": "typecheck", "build": "build", "docs": "docs"}

_TARGET_LINE = re.compile(r"^([A-Za-z0-9][\w.-]*(?:[ \t]+[A-Za-z0-9][\w.-]*)*)[ \t]*:(?!=)(?!:=)", re.MULTILINE)
_HOOK_ID = re.compile(r"^\s*-?\s*id:\s*['\"]?([\w.-]+)", re.MULTILINE)

# pre-commit hook id -> (category, tool).
HOOKS = {
    "ruff": ("linters", "ruff"), "ruff-check": ("linters", "ruff"), "ruff-format": ("formatters", "ruff"),
    "black": ("formatters", "black"), "isort": ("formatters", "isort"), "flake8": ("linters", "flake8"),
    "mypy": ("linters", "mypy"), "prettier": ("formatters", "prettier"), "eslint": ("linters", "eslint"),
    "terraform_fmt": ("formatters", "terraform fmt"), "terraform_tflint": ("linters", "tflint"),
    "sqlfluff-lint": ("linters", "sqlfluff"), "markdownlint": ("linters", "markdownlint"),
    "markdownlint-cli2": ("linters", "markdownlint"), "yamllint": ("linters", "yamllint"),
    "shellcheck": ("linters", "shellcheck"), "hadolint": ("linters", "hadolint"),
}


def other_rules(ctx: Context) -> None:
    _go(ctx)
    _rust(ctx)
    _jvm_and_ruby(ctx)
    _task_runners(ctx)
    for key, name in CI_FILES:
        for path in ctx.paths(key)[:5]:
            ctx.add("ci", name, path)
    for path in ctx.paths(".yamllint*"):
        ctx.add("linters", "yamllint", path)
    for path in ctx.paths(".shellcheckrc"):
        ctx.add("linters", "shellcheck", path)


def _go(ctx: Context) -> None:
    modules = ctx.paths("go.mod")
    for path in ctx.paths("go.sum"):
        ctx.managers.lockfile("go", path)
    if not modules:
        return
    has_tests = any(p.endswith("_test.go") for p in ctx.index.files)
    linter = next(iter(ctx.paths(".golangci.*")), None)
    for path in modules:
        folder = folder_of(path)
        ctx.managers.manifest("go", path)
        ctx.add("formatters", "gofmt", path)
        if has_tests:
            ctx.add("test_frameworks", "go test", path)
        ctx.commands.add("test", ["go", "test", "./..."], path, folder, CONFIGURED)
        ctx.commands.add("build", ["go", "build", "./..."], path, folder, CONFIGURED)
        ctx.commands.add("lint", ["go", "vet", "./..."], path, folder, DEPENDENCY)
        ctx.commands.add("format", ["gofmt", "-l", "-w", "."], path, folder, DEPENDENCY)
    if linter:
        ctx.add("linters", "golangci-lint", linter)
        ctx.commands.add("lint", ["golangci-lint", "run"], linter, folder_of(linter), CONFIGURED)


def _rust(ctx: Context) -> None:
    for path in ctx.paths("Cargo.lock"):
        ctx.managers.lockfile("cargo", path)
    for path in ctx.paths("Cargo.toml"):
        folder = folder_of(path)
        ctx.managers.manifest("cargo", path)
        ctx.add("test_frameworks", "cargo test", path)
        ctx.add("linters", "clippy", path, configured=False)
        ctx.add("formatters", "rustfmt", path, configured=False)
        for kind, argv in (("test", ["cargo", "test"]), ("build", ["cargo", "build"]),
                           ("lint", ["cargo", "clippy"]), ("format", ["cargo", "fmt"])):
            ctx.commands.add(kind, argv, path, folder, CONFIGURED)
    for path in ctx.paths("rustfmt.toml", ".rustfmt.toml"):
        ctx.add("formatters", "rustfmt", path)


def _jvm_and_ruby(ctx: Context) -> None:
    for path in ctx.paths("pom.xml"):
        folder = folder_of(path)
        ctx.managers.manifest("maven", path)
        ctx.add("test_frameworks", "maven surefire", path)
        ctx.commands.add("test", ["mvn", "-q", "test"], path, folder, CONFIGURED)
        ctx.commands.add("build", ["mvn", "-q", "package"], path, folder, CONFIGURED)
    wrappers = {folder_of(p) for p in ctx.paths("gradlew")}
    for path in ctx.paths("build.gradle", "build.gradle.kts"):
        folder = folder_of(path)
        ctx.managers.manifest("gradle", path)
        ctx.add("test_frameworks", "gradle test", path)
        gradle = ["./gradlew"] if folder in wrappers else ["gradle"]
        ctx.commands.add("test", [*gradle, "test"], path, folder, CONFIGURED)
        ctx.commands.add("build", [*gradle, "build"], path, folder, CONFIGURED)
    for key, manager, lock in (("Gemfile", "bundler", "Gemfile.lock"), ("composer.json", "composer", "composer.lock")):
        for path in ctx.paths(key):
            ctx.managers.manifest(manager, path)
        for path in ctx.paths(lock):
            ctx.managers.lockfile(manager, path)


def make_targets(text: str) -> list[str]:
    """Target names declared in a Makefile or justfile (variable assignments excluded)."""
    targets: list[str] = []
    for match in _TARGET_LINE.finditer(text):
        for name in match.group(1).split():
            if name not in targets:
                targets.append(name)
    return targets


def _task_runners(ctx: Context) -> None:
    for path in ctx.paths("Makefile", "makefile", "GNUmakefile", "justfile", "Justfile"):
        runner = "just" if path.rpartition("/")[2].lower() == "justfile" else "make"
        for target in make_targets(ctx.text(path) or ""):
            kind = TARGETS.get(target)
            if kind:
                ctx.commands.add(kind, [runner, target], f"{path} target {target}", folder_of(path), TASK_RUNNER)
    for path in ctx.paths(".pre-commit-config.yaml"):
        ctx.add("linters", "pre-commit", path)
        for hook in sorted(set(_HOOK_ID.findall(ctx.text(path) or ""))):
            if hook in HOOKS:
                category, tool = HOOKS[hook]
                ctx.add(category, tool, path, f"hook {hook}")
        ctx.commands.add("lint", ["pre-commit", "run", "--all-files"], path, folder_of(path), AGGREGATE)
