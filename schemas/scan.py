"""What the Project Scanner found in a repository: the facts the profile selector scores and
the artifact generator fills its templates with.

The report is plain data so it can be printed with ``uet bootstrap --json``, kept in a
``BootstrapReport`` and compared across runs. The full list of paths is deliberately *not*
part of it (a 100,000-file tree would make a 10 MB document); the scanner hands that over
separately as an in-memory index.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

COMMAND_KINDS = ("test", "lint", "format", "typecheck", "build", "docs", "validate")
"""Kinds of inferred commands, in the order a summary shows them."""


class ScanModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScanProgress(ScanModel):
    """A throttled progress tick while a large tree is walked (at most ten a second)."""

    files: int = Field(description="Files counted so far.")
    dirs: int = Field(description="Directories entered so far.")
    current: str = Field(description="Relative path of the directory being read.")
    elapsed_s: float = 0.0


class Skipped(ScanModel):
    """An entry the scanner could not or would not look at, and why."""

    path: str = Field(description="Path relative to the scanned root ('.' for the root).")
    reason: str


class Detected(ScanModel):
    """A tool or system found in the tree, with the signals that gave it away."""

    name: str
    evidence: list[str] = Field(
        default_factory=list,
        description="Where it was seen: a path, optionally followed by the detail that matched.",
    )


class PackageManager(ScanModel):
    name: str = Field(description="pip, uv, poetry, pipenv, pdm, conda, npm, yarn, pnpm, bun, cargo, go, ...")
    manifests: list[str] = Field(default_factory=list, description="Files that declare the dependencies.")
    lockfiles: list[str] = Field(default_factory=list, description="Lockfiles found for this manager.")


class InferredCommand(ScanModel):
    """A command the project already uses for one kind of work, and the signal it came from."""

    kind: str = Field(description="test, lint, format, typecheck, build, docs or validate.")
    argv: list[str] = Field(min_length=1)
    source: str = Field(description="The file and detail the command was inferred from.")
    cwd: str = Field(default=".", description="Directory to run it in, relative to the root.")


class GitInfo(ScanModel):
    is_repo: bool = False
    toplevel: str | None = Field(default=None, description="Absolute path of the work tree the root belongs to.")
    branch: str | None = Field(default=None, description="Current branch; null when HEAD is detached.")
    head: str | None = Field(default=None, description="Commit id of HEAD; null before the first commit.")
    dirty: bool | None = Field(default=None, description="Uncommitted changes or untracked files; null when unknown.")
    remote: str | None = Field(default=None, description="URL of origin (or the first remote), credentials removed.")
    remote_name: str | None = None
    error: str | None = Field(default=None, description="Why some of the above is unknown (git missing, timed out, ...).")


class LfsInfo(ScanModel):
    tracked_patterns: list[str] = Field(
        default_factory=list, description="Patterns with filter=lfs in .gitattributes, relative to the root."
    )
    pointer_files: list[str] = Field(
        default_factory=list, description="Files that are still LFS pointers (content never fetched); first 200."
    )
    count: int = Field(default=0, description="How many pointer files there are in all.")


class FileGroup(ScanModel):
    count: int
    paths: list[str] = Field(description="The first paths found, shallowest first.")


class ScanReport(ScanModel):
    """Everything the scanner learned about one tree, in one pass."""

    root: str = Field(description="Absolute path that was scanned.")
    files_seen: int
    dirs_seen: int
    duration_s: float
    truncated: bool = Field(default=False, description="The file limit was reached; counts are partial.")
    ignored: int = Field(default=0, description="Files and directories left out by .gitignore rules.")
    vendored: int = Field(default=0, description="Vendored, cache and build directories not entered.")
    languages: dict[str, int] = Field(default_factory=dict, description="Language -> file count.")
    extension_counts: dict[str, int] = Field(
        default_factory=dict, description="Lower-cased extension ('.py'; '' for none) -> file count."
    )
    package_managers: list[PackageManager] = Field(default_factory=list)
    test_frameworks: list[Detected] = Field(default_factory=list)
    linters: list[Detected] = Field(default_factory=list)
    formatters: list[Detected] = Field(default_factory=list)
    ci: list[Detected] = Field(default_factory=list)
    docs: list[Detected] = Field(default_factory=list)
    iac: list[Detected] = Field(default_factory=list)
    data: list[Detected] = Field(default_factory=list, description="dbt, Airflow, Dagster, ...")
    notebooks: int = 0
    git: GitInfo = Field(default_factory=GitInfo)
    lfs: LfsInfo = Field(default_factory=LfsInfo)
    commands: dict[str, InferredCommand] = Field(
        default_factory=dict, description="The best command of each kind."
    )
    command_candidates: list[InferredCommand] = Field(
        default_factory=list, description="Every command inferred, best first within each kind."
    )
    source_dirs: list[str] = Field(default_factory=list)
    test_dirs: list[str] = Field(default_factory=list)
    files: dict[str, FileGroup] = Field(
        default_factory=dict, description="Interesting files by the name or pattern that made them interesting."
    )
    skipped: list[Skipped] = Field(default_factory=list, description="The first 200 skipped entries.")
    skipped_count: int = 0
