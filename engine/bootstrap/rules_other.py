"""Go, Rust, JVM, .NET, C/C++ (CMake), Ruby and shell projects, task runners (make, just,
task, pre-commit) and CI systems: for each, the commands that build, lint and test it, run
from its own folder."""

from __future__ import annotations

import re

from engine.bootstrap.commands import AGGREGATE, CONFIGURED, DEPENDENCY, TASK_RUNNER
from engine.bootstrap.facts import Context, folder_of, in_folder, shallowest_first

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
_TASK_NAME = re.compile(r"^  ([A-Za-z0-9][\w.-]*):\s*$", re.MULTILINE)
"""A task of a Taskfile: a key two spaces in, under ``tasks:``."""
MAX_PROJECTS = 20
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
    _dotnet(ctx)
    _cmake(ctx)
    _ruby(ctx)
    _task_runners(ctx)
    _shell(ctx)
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
    maven_wrappers = {folder_of(p) for p in ctx.paths("mvnw")}
    poms = ctx.paths("pom.xml")
    for path in poms:
        folder = folder_of(path)
        if folder != "." and "pom.xml" in poms:
            continue  # a module of the root build: `mvn test` at the root runs it
        ctx.managers.manifest("maven", path)
        ctx.add("test_frameworks", "maven surefire", path)
        maven = ["./mvnw"] if folder in maven_wrappers else ["mvn"]
        ctx.commands.add("test", [*maven, "-q", "test"], path, folder, CONFIGURED)
        ctx.commands.add("build", [*maven, "-q", "package"], path, folder, CONFIGURED)
    wrappers = {folder_of(p) for p in ctx.paths("gradlew")}
    settings = {folder_of(p) for p in ctx.paths("settings.gradle", "settings.gradle.kts")}
    for path in ctx.paths("build.gradle", "build.gradle.kts"):
        folder = folder_of(path)
        if folder != "." and "." in settings:
            continue  # a subproject of the root build: `./gradlew test` at the root runs it
        ctx.managers.manifest("gradle", path)
        ctx.add("test_frameworks", "gradle test", path)
        gradle = ["./gradlew"] if folder in wrappers else ["gradle"]
        ctx.commands.add("test", [*gradle, "test"], path, folder, CONFIGURED)
        ctx.commands.add("build", [*gradle, "build"], path, folder, CONFIGURED)
    for key, manager, lock in (("composer.json", "composer", "composer.lock"),):
        for path in ctx.paths(key):
            ctx.managers.manifest(manager, path)
        for path in ctx.paths(lock):
            ctx.managers.lockfile(manager, path)


def _with_extension(ctx: Context, ext: str) -> list[str]:
    """Files with this extension, shallowest first; a pass over all paths only when the walk
    counted some."""
    return shallowest_first([p for p in ctx.index.files if p.endswith(ext)]) if ctx.walk.extensions.get(ext) else []


def _dotnet(ctx: Context) -> None:
    """A solution at the top builds and tests every project in it; without one, each project."""
    solutions = _with_extension(ctx, ".sln")
    projects = [p for ext in (".csproj", ".fsproj", ".vbproj") for p in _with_extension(ctx, ext)]
    for path in projects[:MAX_PROJECTS]:
        ctx.managers.manifest("dotnet", path)
    targets = solutions[:1] or projects[:MAX_PROJECTS]
    tests = [p for p in projects if "test" in p.lower()]
    for path in tests[:3]:
        ctx.add("test_frameworks", "dotnet test", path)
    for path in targets:
        folder = folder_of(path)
        ctx.commands.add("test", ["dotnet", "test"], path, folder, CONFIGURED)
        ctx.commands.add("build", ["dotnet", "build"], path, folder, CONFIGURED)
        ctx.commands.add("format", ["dotnet", "format", "--verify-no-changes"], path, folder, DEPENDENCY)


CMAKE_TEST = "cmake -S . -B build && cmake --build build --parallel && ctest --test-dir build --output-on-failure"
"""Configure, build and run CTest in a build/ folder of the project's own (build/ is never scanned)."""
_ENABLE_TESTING = re.compile(r"^\s*(enable_testing|add_test|include\s*\(\s*CTest)\b", re.MULTILINE | re.IGNORECASE)


def _cmake(ctx: Context) -> None:
    lists = ctx.paths("CMakeLists.txt")
    if not lists:
        return
    path = lists[0]  # the shallowest: the top of the build, which adds the others
    folder = folder_of(path)
    ctx.managers.manifest("cmake", path)
    tested = any(_ENABLE_TESTING.search(ctx.text(p, 64 * 1024) or "") for p in lists[:20])
    if tested:
        ctx.add("test_frameworks", "ctest", path)
        ctx.commands.add("test", ["sh", "-c", CMAKE_TEST], path, folder, CONFIGURED)
    ctx.commands.add("build", ["sh", "-c", "cmake -S . -B build && cmake --build build --parallel"], path, folder,
                     CONFIGURED)
    for config in ctx.paths(".clang-format")[:1]:
        ctx.add("formatters", "clang-format", config)


def _ruby(ctx: Context) -> None:
    for path in ctx.paths("Gemfile.lock"):
        ctx.managers.lockfile("bundler", path)
    rakefiles = {folder_of(p) for p in ctx.paths("Rakefile")}
    rspec = {folder_of(p) for p in ctx.paths(".rspec")}
    rubocop = {folder_of(p): p for p in ctx.paths(".rubocop.yml")}
    for path in ctx.paths("Gemfile")[:MAX_PROJECTS]:
        folder = folder_of(path)
        ctx.managers.manifest("bundler", path)
        if folder in rspec:
            ctx.add("test_frameworks", "rspec", in_folder(folder, ".rspec"))
            ctx.commands.add("test", ["bundle", "exec", "rspec"], in_folder(folder, ".rspec"), folder, CONFIGURED)
        if folder in rakefiles:
            ctx.add("test_frameworks", "rake", in_folder(folder, "Rakefile"), configured=False)
            ctx.commands.add("test", ["bundle", "exec", "rake", "test"], in_folder(folder, "Rakefile"), folder,
                             DEPENDENCY)
        if folder in rubocop:
            ctx.add("linters", "rubocop", rubocop[folder])
            ctx.commands.add("lint", ["bundle", "exec", "rubocop"], rubocop[folder], folder, CONFIGURED)


MAX_SHELL_FILES = 20
"""Shell scripts handed to shellcheck at most (the shallowest)."""


def _shell(ctx: Context) -> None:
    """Shell scripts are checked with shellcheck, as one command over the shallowest of them;
    it ranks below every other linter of the root, so a stray script does not take over."""
    scripts = [p for ext in (".sh", ".bash") for p in _with_extension(ctx, ext)]
    if not scripts:
        return
    scripts = shallowest_first(scripts)[:MAX_SHELL_FILES]
    ctx.add("linters", "shellcheck", scripts[0], configured=False)
    ctx.commands.add("lint", ["shellcheck", *scripts], scripts[0], ".", TASK_RUNNER)


def make_targets(text: str) -> list[str]:
    """Target names declared in a Makefile or justfile (variable assignments excluded)."""
    targets: list[str] = []
    for match in _TARGET_LINE.finditer(text):
        for name in match.group(1).split():
            if name not in targets:
                targets.append(name)
    return targets


def _task_runners(ctx: Context) -> None:
    for path in ctx.paths("Makefile", "makefile", "GNUmakefile", "justfile", "Justfile", "Taskfile.yml",
                          "Taskfile.yaml"):
        name = path.rpartition("/")[2].lower()
        runner = "just" if name == "justfile" else "task" if name.startswith("taskfile") else "make"
        if runner == "task":
            for target in _TASK_NAME.findall(ctx.text(path) or ""):
                if target in TARGETS:
                    ctx.commands.add(TARGETS[target], ["task", target], f"{path} task {target}", folder_of(path),
                                     TASK_RUNNER)
            continue
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
