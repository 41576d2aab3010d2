"""A project's profile files as the profile editor sees them: which exist (built-in, the
project's own, drafts), what checking each says, and what bootstrap would generate from an
unsaved profile text. No Textual here."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.bootstrap.generate import generate
from engine.bootstrap.project_facts import project_facts
from engine.bootstrap.scanner import scan
from engine.errors import Problem, ValidationFailed
from engine.profiles import (
    available_profiles,
    builtin_dir,
    load_profile_file,
    local_dir,
    resolve_source,
    semantic_problems,
    source_for,
    validate_profile_file,
    validate_profile_text,
)

DRAFT = ".draft"


@dataclass(frozen=True)
class Entry:
    """One row of the list: a profile file and what it is to this project."""

    name: str
    path: Path
    kind: Literal["builtin", "local", "draft"]
    overrides: bool = False

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def target(self) -> Path:
        """Where saving writes: the project file of this name (a built-in has none)."""
        return self.path.with_name(f"{self.name}.yaml") if self.kind == "draft" else self.path

    @property
    def read_only(self) -> bool:
        return self.kind == "builtin"


@dataclass(frozen=True)
class Checked:
    """What ``uet profiles list`` and ``validate`` say about one file."""

    extends: str | None
    description: str | None
    problems: tuple[Problem, ...]


def check_entry(entry: Entry, root: Path) -> Checked:
    if entry.kind == "draft":
        text = entry.path.read_text(encoding="utf-8")
        problems = validate_profile_text(text, entry.target, root)
    else:
        problems = validate_profile_file(entry.path, root)
    try:
        profile = load_profile_file(entry.path) if entry.kind != "draft" else None
    except ValidationFailed:
        profile = None
    return Checked(profile.extends if profile else None, profile.description if profile else None, tuple(problems))


@dataclass(frozen=True)
class PreviewFile:
    path: str
    action: Literal["new", "changed", "unchanged"]
    text: str
    diff: str


def list_entries(root: Path) -> list[Entry]:
    """Built-ins, then the project's files and drafts, each by name."""
    local = local_dir(root)
    builtins = sorted(builtin_dir().glob("*.yaml"))
    locals_ = sorted(local.glob("*.yaml"))
    replaced = {path.stem for path in locals_}
    known = {path.stem for path in builtins}
    entries = [Entry(path.stem, path, "builtin", path.stem in replaced) for path in builtins]
    entries += [Entry(path.stem, path, "local", path.stem in known) for path in locals_]
    entries += [Entry(path.name.removesuffix(".yaml" + DRAFT), path, "draft", path.name.removesuffix(".yaml" + DRAFT)
                      in known) for path in sorted(local.glob("*.yaml" + DRAFT))]
    return entries


def preview(root: Path, text: str, target: Path) -> tuple[list[PreviewFile], list[str]]:
    """The workstream files bootstrap would write for ``root`` from ``text`` saved as
    ``target``, and the problems that would stop it; nothing is written."""
    available = available_profiles(root)
    try:
        resolved = resolve_source(source_for(target, available), available, text)
    except ValidationFailed as exc:
        return [], [problem.render() for problem in exc.problems]
    broken_problems = semantic_problems(resolved)
    scanned = scan(root)
    facts = project_facts(scanned.report, scanned.index, resolved.profile)
    broken = frozenset(name for name in resolved.profile.phases for p in broken_problems
                       if f"{p.field}.".startswith(f"phases.{name}."))
    generated = generate(resolved.profile, facts, broken)
    notes = [p.render() for p in broken_problems]
    notes += [f"{i.severity}: {i.message}" + (f" ({i.file})" if i.file else "") for i in generated.issues]
    notes += [f"phase {p.name} skipped: {p.reason}" for p in generated.phases if not p.generated]
    files: list[PreviewFile] = []
    for artifact in [*generated.workstreams, *([generated.router] if generated.router else [])]:
        on_disk = root / artifact.path
        old = on_disk.read_text(encoding="utf-8") if on_disk.is_file() else None
        action: Literal["new", "changed", "unchanged"] = (
            "new" if old is None else "unchanged" if old == artifact.text else "changed")
        diff = "".join(difflib.unified_diff((old or "").splitlines(keepends=True), artifact.text.splitlines(keepends=True),
                                            f"a/{artifact.path}", f"b/{artifact.path}")) if action == "changed" else ""
        files.append(PreviewFile(artifact.path, action, artifact.text, diff))
    return files, notes


def preview_text(files: list[PreviewFile], notes: list[str]) -> str:
    """Problems first, then each file: in full when new, as a diff when changed."""
    out = [f"! {note}" for note in notes] + ([""] if notes else [])
    for file in files:
        out.append(f"=== {file.path} ({file.action})")
        if file.action != "unchanged":
            out.append(file.diff.rstrip("\n") if file.action == "changed" else file.text.rstrip("\n"))
        out.append("")
    return "\n".join(out) if out else "nothing would be generated"
