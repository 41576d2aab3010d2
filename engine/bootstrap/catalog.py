"""What the scanner knows about repositories, as data: folders it never enters, the files
worth a closer look, and which extension belongs to which language.

Kept apart from the walker so a new tool is one line here, not a change to the hot loop.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

# Folders that hold other people's code, caches or build output. They are never entered,
# whatever .gitignore says: they can be huge (node_modules, .venv), they say nothing about
# the project itself, and counting them would drown its real languages.
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn",                                        # version control internals
    "node_modules", "bower_components", ".pnpm-store", ".yarn",    # JavaScript dependencies
    ".venv", "venv", "site-packages", ".eggs", "__pypackages__",   # Python environments
    "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache",  # Python caches
    ".tox", ".nox", ".hypothesis", ".ipynb_checkpoints",
    "vendor", "third_party", "Pods",                               # vendored code
    "dist", "build", "target", "_build", "out",                    # build output
    ".next", ".nuxt", ".svelte-kit", ".turbo", ".parcel-cache", ".cache", ".gradle", ".dart_tool",
    "coverage", "htmlcov",                                         # coverage reports
    ".terraform", ".terragrunt-cache", ".serverless", ".aws-sam",  # infrastructure tool state
    ".uet",                                                        # our own state
    ".direnv", ".idea",
})

# Config files recognised by their exact name, anywhere in the tree. The value is the key the
# report files them under (the name itself).
INTERESTING_NAMES = frozenset({
    # Python
    "pyproject.toml", "setup.py", "setup.cfg", "Pipfile", "Pipfile.lock", "poetry.lock", "uv.lock",
    "pdm.lock", "tox.ini", "noxfile.py", "pytest.ini", "conftest.py", ".flake8", "mypy.ini",
    ".mypy.ini", "ruff.toml", ".ruff.toml", ".pylintrc", "pylintrc", ".isort.cfg",
    "pyrightconfig.json", "environment.yml", "environment.yaml",
    # JavaScript / TypeScript
    "package.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "pnpm-workspace.yaml",
    "bun.lockb", "bun.lock", "tsconfig.json", "biome.json", "biome.jsonc",
    # other languages
    "go.mod", "go.sum", "Cargo.toml", "Cargo.lock", "pom.xml", "build.gradle", "build.gradle.kts",
    "gradlew", "Gemfile", "Gemfile.lock", "composer.json", "composer.lock", "rustfmt.toml",
    ".rustfmt.toml",
    # data
    "dbt_project.yml", ".sqlfluff", "airflow.cfg", "dagster.yaml", "prefect.yaml",
    # docs
    "mkdocs.yml", "mkdocs.yaml", "conf.py", "book.toml", ".readthedocs.yaml", ".readthedocs.yml",
    # infrastructure
    "Dockerfile", "compose.yml", "compose.yaml", ".terraform.lock.hcl", ".tflint.hcl",
    "terragrunt.hcl", "ansible.cfg", ".ansible-lint", "Chart.yaml", "kustomization.yaml",
    "kustomization.yml", "Pulumi.yaml", "serverless.yml", "Vagrantfile", ".hadolint.yaml",
    # CI
    ".gitlab-ci.yml", "Jenkinsfile", "azure-pipelines.yml", ".travis.yml",
    "bitbucket-pipelines.yml", ".drone.yml", ".woodpecker.yml", "appveyor.yml",
    # task runners and repository plumbing
    "Makefile", "makefile", "GNUmakefile", "justfile", "Justfile", ".pre-commit-config.yaml",
    ".gitattributes", ".shellcheckrc", ".editorconfig", "Taskfile.yml", "Taskfile.yaml",
    # C and C++, .NET, JVM wrappers, Ruby
    "CMakeLists.txt", "Directory.Build.props", "mvnw", "settings.gradle", "settings.gradle.kts",
    "Rakefile", ".rspec", ".rubocop.yml",
    # Ansible
    "site.yml", "site.yaml", "requirements.yml",
})

# Config files recognised by a name pattern; the pattern is the key in the report.
INTERESTING_PATTERNS = (
    "requirements*.txt", "playbook*.yml", "playbook*.yaml", "Dockerfile.*", "docker-compose*.yml",
    "docker-compose*.yaml", ".eslintrc*", "eslint.config.*", ".prettierrc*", "prettier.config.*",
    "jest.config.*", "vitest.config.*", ".mocharc*", "playwright.config.*", "cypress.config.*",
    "docusaurus.config.*", ".markdownlint*", ".yamllint*", ".golangci.*",
)

# The literal start of each pattern: one C-level ``str.startswith`` per file in the hot loop,
# the exact pattern is only tried on the few names that pass it.
INTERESTING_PREFIXES = tuple(sorted({p.split("*", 1)[0] for p in INTERESTING_PATTERNS}))

# Directories (relative to the root) whose every file is interesting: CI definitions.
INTERESTING_DIRS = {
    ".github/workflows/": ".github/workflows/",
    ".circleci/": ".circleci/",
    ".buildkite/": ".buildkite/",
    ".woodpecker/": ".woodpecker/",
}


def pattern_key(name: str) -> str | None:
    """The INTERESTING_PATTERNS entry a file name matches, if any (only called on names that
    start like one)."""
    for pattern in INTERESTING_PATTERNS:
        if fnmatchcase(name, pattern):
            return pattern
    return None


LANGUAGES: dict[str, str] = {
    ".py": "Python", ".pyi": "Python", ".pyx": "Python",
    ".ts": "TypeScript", ".tsx": "TypeScript", ".mts": "TypeScript", ".cts": "TypeScript",
    ".js": "JavaScript", ".jsx": "JavaScript", ".mjs": "JavaScript", ".cjs": "JavaScript",
    ".go": "Go", ".rs": "Rust", ".java": "Java", ".kt": "Kotlin", ".kts": "Kotlin",
    ".scala": "Scala", ".rb": "Ruby", ".php": "PHP", ".c": "C", ".h": "C",
    ".cc": "C++", ".cpp": "C++", ".cxx": "C++", ".hpp": "C++", ".hh": "C++", ".cs": "C#",
    ".swift": "Swift", ".m": "Objective-C", ".dart": "Dart", ".lua": "Lua", ".r": "R",
    ".jl": "Julia", ".ex": "Elixir", ".exs": "Elixir", ".erl": "Erlang", ".hs": "Haskell",
    ".ml": "OCaml", ".clj": "Clojure", ".zig": "Zig", ".vue": "Vue", ".svelte": "Svelte",
    ".sql": "SQL", ".tf": "HCL/Terraform", ".tfvars": "HCL/Terraform", ".hcl": "HCL/Terraform",
    ".yml": "YAML", ".yaml": "YAML", ".json": "JSON", ".toml": "TOML", ".xml": "XML",
    ".md": "Markdown", ".markdown": "Markdown", ".mdx": "Markdown", ".rst": "reStructuredText",
    ".ipynb": "Jupyter", ".sh": "Shell", ".bash": "Shell", ".zsh": "Shell", ".ps1": "PowerShell",
    ".dockerfile": "Dockerfile", ".html": "HTML", ".htm": "HTML", ".css": "CSS", ".scss": "CSS",
    ".sass": "CSS", ".less": "CSS", ".proto": "Protocol Buffers", ".j2": "Jinja",
    ".jinja": "Jinja", ".graphql": "GraphQL",
}

# Languages whose files make a folder a source folder (data and prose do not).
CODE_LANGUAGES = frozenset({
    "Python", "TypeScript", "JavaScript", "Go", "Rust", "Java", "Kotlin", "Scala", "Ruby", "PHP",
    "C", "C++", "C#", "Swift", "Objective-C", "Dart", "Lua", "R", "Julia", "Elixir", "Erlang",
    "Haskell", "OCaml", "Clojure", "Zig", "Vue", "Svelte", "SQL", "HCL/Terraform", "Shell",
})

TEST_DIR_NAMES = frozenset({"tests", "test", "__tests__", "spec", "specs", "testing", "e2e"})

# Top-level folders that hold code but are not the project's source.
NOT_SOURCE_DIRS = TEST_DIR_NAMES | {"docs", "doc", "examples", "example", "scripts", "tools", "benchmarks"}
