"""Deciding what may be written, and writing it safely.

Each generated file gets an action:

    create     it does not exist
    unchanged  it already holds exactly the generated text
    update     bootstrap wrote it and nobody changed it since (its hash is the one the manifest
               recorded), or it is .gitignore (only appended to, the user's lines kept)
    conflict   it was changed by someone, or not written by bootstrap: the diff is shown and
               nothing at all is written unless --force (then it is updated, marked forced)

Paths are checked before anything is written: relative, no '..', no symbolic link on the way
(a link could point out of the project), no folder where a file should be. Each write goes to
a temporary file beside the target, is flushed to disk and renamed over it, so a crash leaves
the old file or the new one, never half of one.
"""

from __future__ import annotations

import difflib
import errno
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from engine.bootstrap.generate import Artifact, digest
from schemas.bootstrap import FileAction, Issue, PlannedFile

MAX_EXISTING = 5 * 1024 * 1024
"""A file bigger than this where bootstrap writes is not read for a diff (it cannot be ours)."""


@dataclass(frozen=True)
class Existing:
    """What is on disk where an artifact goes."""

    text: str | None = None
    unreadable: str | None = None
    """Why the file cannot be read at all (permission): an error, --force does not help."""
    not_text: str | None = None
    """Why the file is not text we can compare (binary, huge): a conflict without a diff."""


@dataclass(frozen=True)
class Plan:
    artifact: Artifact
    path: Path | None
    planned: PlannedFile


def safe_target(root: Path, relpath: str) -> tuple[Path | None, str | None]:
    """The absolute path of ``relpath`` below ``root``, or why bootstrap must not write there."""
    parts = relpath.split("/")
    if relpath.startswith("/") or any(part in ("", ".", "..") for part in parts):
        return None, f"{relpath}: not a plain path inside the project"
    current = root
    for position, part in enumerate(parts):
        current = current / part
        shown = "/".join(parts[: position + 1])
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return root.joinpath(*parts), None
        except OSError as exc:
            return None, f"{shown}: cannot be checked ({exc.strerror or exc})"
        if stat.S_ISLNK(info.st_mode):
            return None, f"{shown} is a symbolic link; bootstrap writes only real files inside the project"
        last = position == len(parts) - 1
        if not last and not stat.S_ISDIR(info.st_mode):
            return None, f"{shown} is not a folder, so {relpath} cannot be written"
        if last and not stat.S_ISREG(info.st_mode):
            return None, f"{relpath} exists and is not a regular file"
    return current, None


def read_existing(path: Path) -> Existing:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_EXISTING + 1)
    except FileNotFoundError:
        return Existing()
    except OSError as exc:
        return Existing(unreadable=f"cannot be read ({exc.strerror or exc})")
    if len(raw) > MAX_EXISTING:
        return Existing(not_text=f"it is larger than {MAX_EXISTING // 1_048_576} MiB")
    if b"\0" in raw[:8192]:
        return Existing(not_text="it is a binary file")
    try:
        return Existing(text=raw.decode("utf-8"))
    except UnicodeDecodeError:
        return Existing(not_text="it is not UTF-8 text")


def unified_diff(old: str, new: str, path: str) -> str:
    out = []
    for line in difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                     f"a/{path}", f"b/{path}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def plan_one(root: Path, artifact: Artifact, ours: bool | None, force: bool) -> tuple[Plan, list[Issue]]:
    """The action for one artifact. ``ours``: whether bootstrap wrote what is on disk now
    (None: judge by the file's content hash against ``recorded`` in the caller)."""

    def planned(action: FileAction, reason: str | None = None, diff: str | None = None,
                forced: bool = False) -> PlannedFile:
        return PlannedFile(path=artifact.path, role=artifact.role, action=action,
                           reason=reason, diff=diff, forced=forced)

    path, refused = safe_target(root, artifact.path)
    if path is None:
        issue = Issue(severity="error", stage="write", file=artifact.path, message=refused or "refused")
        return Plan(artifact, None, planned("conflict", refused)), [issue]
    existing = read_existing(path)
    if existing.unreadable:
        issue = Issue(severity="error", stage="write", file=artifact.path, message=existing.unreadable)
        return Plan(artifact, path, planned("conflict", existing.unreadable)), [issue]
    if existing.not_text:
        reason = f"{artifact.path} is in the way: {existing.not_text}"
        if force:
            return Plan(artifact, path, planned("update", reason + "; replaced (--force)", forced=True)), []
        return Plan(artifact, path, planned("conflict", reason + "; --force replaces it")), []
    if existing.text is None:
        # The diff from nothing: a preview shows the whole new file the same way as a change.
        return Plan(artifact, path, planned("create", diff=unified_diff("", artifact.text, artifact.path))), []
    if existing.text == artifact.text:
        return Plan(artifact, path, planned("unchanged")), []
    diff = unified_diff(existing.text, artifact.text, artifact.path)
    if artifact.role == "gitignore":
        return Plan(artifact, path, planned("update", "entries appended", diff)), []
    if ours:
        return Plan(artifact, path, planned("update", "regenerated; you had not changed it", diff)), []
    why = "changed since bootstrap wrote it" if ours is False else "not written by bootstrap"
    if force:
        return Plan(artifact, path, planned("update", f"{why}; overwritten (--force)", diff, forced=True)), []
    return Plan(artifact, path, planned("conflict", f"{why}; --force overwrites it", diff)), []


def plan_files(root: Path, artifacts: list[Artifact], recorded: dict[str, str], manifest_ours: bool,
               force: bool) -> tuple[list[Plan], list[Issue]]:
    """Actions for every artifact. ``recorded``: path -> hash from a manifest bootstrap wrote;
    ``manifest_ours``: the manifest on disk (if any) is one bootstrap wrote, unedited."""
    plans: list[Plan] = []
    issues: list[Issue] = []
    for artifact in artifacts:
        if artifact.role == "manifest":
            ours: bool | None = manifest_ours
        elif artifact.path in recorded:
            path, _ = safe_target(root, artifact.path)
            existing = read_existing(path) if path is not None else Existing()
            ours = existing.text is not None and digest(existing.text) == recorded[artifact.path]
        else:
            ours = None
        plan, found = plan_one(root, artifact, ours, force)
        plans.append(plan)
        issues.extend(found)
    return plans, issues


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename; keep an existing mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(temporary, flags, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise
        raise


def apply(plans: list[Plan]) -> tuple[list[str], list[Issue]]:
    """Write every create and update, in order; stop at the first failure."""
    written: list[str] = []
    for plan in plans:
        if plan.planned.action not in ("create", "update") or plan.path is None:
            continue
        try:
            write_atomic(plan.path, plan.artifact.text)
        except OSError as exc:
            return written, [Issue(severity="error", stage="write", file=plan.artifact.path,
                                   message=f"cannot write: {exc.strerror or exc}")]
        written.append(plan.artifact.path)
    return written, []
