"""What ``uet bootstrap`` decided and wrote: the ``BootstrapReport`` (printed by ``--json``) and
the project manifest ``.uet/project.yaml`` it leaves behind.

The report answers the questions a person asks after pointing UET at a repository: which
profile, how sure, why (the evidence, signal by signal), what was written or would be, what is
wrong, and how long each stage took. The manifest is what a later bootstrap reads back: the
hash of every file it generated, so a file the user edited is never overwritten silently.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.scan import ScanReport

FactValue = str | list[str]
FileAction = Literal["create", "update", "unchanged", "conflict"]
ChosenBy = Literal["detection", "fallback", "option"]
FileRole = Literal["manifest", "router", "workstream", "gitignore"]


class BootstrapModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalMatch(BootstrapModel):
    """One place a detection signal matched."""

    path: str = Field(description="Path relative to the project root ('.' for the root itself).")
    line: int | None = Field(default=None, description="Line of the match, for content signals.")


class Evidence(BootstrapModel):
    """A profile's detection signal that matched, where, and what it added to the score."""

    signal: str = Field(description="The signal's description, e.g. 'pytest configured in pyproject.toml'.")
    kind: Literal["file", "glob", "content", "dir"]
    pattern: str = Field(description="The signal's path or glob.")
    weight: float = Field(description="Added to the profile's score; negative for a counter-signal.")
    count: int = Field(description="How many paths matched; for content, the files found holding the pattern "
                                   "(reading stops once there are enough to show).")
    matches: list[SignalMatch] = Field(default_factory=list, description="The first matches.")


class PhaseOutcome(BootstrapModel):
    """A phase template of the profile: generated into a workstream file, or skipped and why."""

    name: str
    generated: bool
    file: str | None = Field(default=None, description="The workstream file, relative to the root.")
    steps: int = 0
    reason: str | None = Field(default=None, description="Why the phase was skipped.")


class PlannedFile(BootstrapModel):
    """A file bootstrap generates, and what it does (or would do) with it."""

    path: str = Field(description="Relative to the project root.")
    role: FileRole
    action: FileAction = Field(description="conflict: the file was changed by someone else; --force overwrites it.")
    reason: str | None = None
    diff: str | None = Field(default=None, description="Unified diff from the file on disk to the generated one.")
    forced: bool = Field(default=False, description="A conflicting file that --force overwrote.")


class Issue(BootstrapModel):
    """An error (nothing is written) or a warning, located as precisely as possible."""

    severity: Literal["error", "warning"]
    stage: str = Field(description="scan, select, generate, validate or write.")
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = Field(default=None, description="Dotted path of the value in the file, e.g. steps[1].run[0].")


class StageTiming(BootstrapModel):
    name: str
    seconds: float


class SubProject(BootstrapModel):
    """A folder of a monorepo with checks of its own, and the profile it would get alone."""

    folder: str = Field(description="Relative to the project root; '.' for the root.")
    profile: str = Field(description="The profile this folder would get on its own, by its test command's ecosystem.")
    commands: dict[str, list[str]] = Field(description="Kind (test, lint) -> the argv run in `folder`.")


class BootstrapReport(BootstrapModel):
    """Everything one ``uet bootstrap`` run found, chose, generated, checked and wrote."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="UET bootstrap report")

    root: str = Field(description="Absolute path of the project.")
    profile: str = Field(description="The profile the files were generated from.")
    profile_source: str = Field(description="builtin, or the project-local file it came from.")
    chosen_by: ChosenBy = Field(
        description="detection: the best score; fallback: no profile found evidence (generic); option: --profile.")
    detected: str = Field(description="What detection alone would choose (differs from profile after --profile).")
    confidence: float = Field(ge=0, le=1, description="How sure detection is of `detected`, from 0 to 1.")
    ambiguous: bool = Field(description="The runner-up scored too close to the best to tell them apart.")
    runner_up: str | None = Field(default=None, description="The second best profile with evidence.")
    margin: float | None = Field(default=None, description="Best score minus the runner-up's.")
    scores: dict[str, float] = Field(description="Every profile's score: the sum of its matched signals' weights.")
    evidence: dict[str, list[Evidence]] = Field(description="Profile -> the signals of it that matched.")
    facts: dict[str, FactValue] = Field(default_factory=dict, description="Facts the templates were filled with.")
    fact_sources: dict[str, str] = Field(default_factory=dict, description="Where each fact was found.")
    phases: list[PhaseOutcome] = Field(default_factory=list)
    files: list[PlannedFile] = Field(default_factory=list)
    problems: list[Issue] = Field(default_factory=list)
    stages: list[StageTiming] = Field(default_factory=list)
    agents: list[str] = Field(
        default_factory=list, description="AI coding agents found on PATH, in the order the router tries them.")
    agent_kinds: list[str] = Field(
        default_factory=list, description="The kinds (of plan, code_edit, review) the router sends to `agents`: all "
                                          "three unless the profile's own rules send one to a real tool of its own.")
    dry_run: bool = False
    written: bool = Field(default=False, description="Files were written by this run.")
    next_steps: list[str] = Field(default_factory=list, description="Commands to try next.")
    projects: list[SubProject] = Field(
        default_factory=list, description="With checks in more than one folder: each folder, its profile and commands.")
    scan: ScanReport


class McpSettings(BootstrapModel):
    """The ``mcp:`` key of a project's ``.uet/project.yaml``: what ``uet mcp`` may offer."""

    allow_approve: bool = Field(
        False, description="Offer patch_approve and patch_apply to MCP clients. Off: they are not listed and a call "
                           "to them is refused, so a person approves every patch.")


class ProjectManifest(BootstrapModel):
    """``.uet/project.yaml``: what bootstrap chose for this project and the files it wrote.

    ``files`` holds the SHA-256 of each generated file as written, so the next bootstrap can
    tell a file it may update from one the user edited. ``checksum`` covers the rest of this
    document the same way.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, title="UET project manifest")

    version: Literal[1] = 1
    name: str = Field(description="The project folder's name.")
    profile: str
    profile_source: str = Field(description="builtin, or the project-local profile file.")
    confidence: float = Field(ge=0, le=1)
    generated_at: str = Field(description="When these files were generated (UTC, ISO 8601).")
    languages: dict[str, int] = Field(default_factory=dict, description="Language -> file count at that time.")
    facts: dict[str, FactValue] = Field(default_factory=dict)
    fact_sources: dict[str, str] = Field(default_factory=dict)
    workdirs: dict[str, str] = Field(
        default_factory=dict, description="Command facts that run in a sub-folder: fact -> folder.")
    phases: dict[str, str] = Field(default_factory=dict, description="Phase -> its file, or why it was skipped.")
    files: dict[str, str] = Field(default_factory=dict, description="Generated file -> sha256:<hex> of its content.")
    sandbox: Literal["off"] | None = Field(
        default=None, description="off: patch steps run without the OS sandbox (bubblewrap), in their scratch copy "
                                  "only; each such attempt says so. Absent: they run sandboxed, and refuse to run "
                                  "where no sandbox is available. Kept by bootstrap, and outside the checksum.")
    mcp: McpSettings | None = Field(
        default=None, description="What `uet mcp` may offer, written on one line: `mcp: {allow_approve: true}`. "
                                  "Kept by bootstrap, and outside the checksum.")
    checksum: str | None = Field(default=None, description="sha256:<hex> of this file's text above this line.")

    @field_validator("sandbox", mode="before")
    @classmethod
    def _off(cls, value: object) -> object:
        """YAML 1.1 reads an unquoted ``off`` as false; ``on`` (or true) is the default, said as absent."""
        if value is False:
            return "off"
        if value in (True, "on"):
            return None
        return value
