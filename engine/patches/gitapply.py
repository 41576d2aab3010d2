"""Writing an inspected patch into a working tree with git, and taking it back out, so that a
refused patch leaves the tree, the index and HEAD exactly as they were.

``apply_patch`` goes:

1. read the diff (``safety.read_patch``: size, hunk counts, names, modes, binary) before any
   git call; find the repository's top (a subdirectory would make git skip paths silently);
   check the names against the tree on disk; ask git how *it* reads the diff (paths, line
   counts, modes) and refuse when git and the inspection disagree; refuse when a touched path
   has uncommitted changes, staged or not, or exists untracked or ignored.
2. When the patch's base is HEAD, or the touched files did not change between the base and
   HEAD (or no base is given and the patch applies as it is): ``git apply --check``, then
   ``git apply``.
3. Otherwise a three-way merge, proved clean before the tree is touched: in a scratch index
   and object directory outside the repository (the repository's objects reachable as an
   alternate), ``git apply --cached --3way`` merges the patch into HEAD. ``git apply --3way
   --check`` cannot be used for that: git 2.39 answers 0 for a merge that conflicts. With a
   base, the patch is first applied to the base there and re-diffed with full blob ids, so
   diffs that carry none (``ruff --diff``) merge too. A conflict refuses the patch; a clean
   merge becomes a plain diff against HEAD, which goes through step 1 again and is written as
   in step 2. ``ApplyResult.diff`` is what was written: keep it to revert.
4. With a commit message the commit is built in a scratch index (HEAD plus exactly the patch;
   unrelated staged or dirty files stay out, no hooks run), then the tree and index are
   written, then the branch moves by compare-and-swap; if HEAD moved meanwhile, the write is
   undone and the patch refused.

``revert_patch`` applies the reverse with the same checks, never three-way: when the reverse
does not apply as it is, later changes touch the same lines, and it is refused.

Every git call is an argv list, ``git -C <repo>``, with a timeout, no terminal prompt, no
inherited ``GIT_DIR``-like variables, and literal pathspecs. ``--unsafe-paths`` and
``--reject`` are never used. Diffs go to git on stdin.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError, UetError
from engine.patches.git import message as _message
from engine.patches.git import run_git
from engine.patches.safety import (
    REGULAR_MODES,
    InspectedPatch,
    PatchFile,
    PatchRefused,
    check_against_tree,
    read_patch,
)

GIT_TIMEOUT_SECONDS = 60.0

_SUMMARY_MODES = re.compile(r"^ (?:create|delete) mode (\S+) |^ mode change (\S+) => (\S+)", re.MULTILINE)


class GitFailed(UetError):
    """git failed where it should not have (timeout, missing, a broken repository)."""


@dataclass(frozen=True)
class ApplyResult:
    """What happened: ``applied`` is False only when HEAD already had the change; ``diff`` is
    what was written (after a three-way merge, the merged diff: revert with that one)."""

    applied: bool
    three_way: bool
    commit: str | None
    files: list[PatchFile]
    diff: str = ""


def apply_patch(repo: Path, diff: str, *, base: str | None = None, allow_binary: bool = False,
                commit_message: str | None = None) -> ApplyResult:
    """Write ``diff`` into the working tree of ``repo`` (and commit exactly it when a message is
    given), or raise PatchRefused with the tree unchanged."""
    _check_message(commit_message)
    patch = read_patch(diff, allow_binary=allow_binary)
    root = _toplevel(repo)
    _check_with_git(root, patch)
    head = _head(root)
    committing = commit_message is not None
    if base is not None:
        base_commit = _resolve_base(root, base)
        direct = base_commit == head or _unchanged(root, base_commit, head, patch.paths)
    else:
        base_commit = None
        direct = _applies(root, patch, index=committing) is None
    written = patch
    if not direct:
        merged = _merge(root, patch, base_commit, head)
        if merged is None:
            return ApplyResult(applied=False, three_way=True, commit=None, files=patch.files)
        written = read_patch(merged, allow_binary=allow_binary)
        _check_with_git(root, written)
    problem = _applies(root, written, index=committing)
    if problem is not None:
        raise PatchRefused(f"the patch does not apply to HEAD: {problem}")
    commit = _write(root, written, reverse=False, message=commit_message, head=head)
    return ApplyResult(applied=True, three_way=not direct, commit=commit, files=written.files,
                       diff=written.data.decode("utf-8", errors="surrogateescape"))


def revert_patch(repo: Path, diff: str, *, commit_message: str | None = None) -> ApplyResult:
    """Take ``diff`` back out of the working tree of ``repo`` (committing the reversal when a
    message is given), or raise PatchRefused with the tree unchanged.

    Binary changes are accepted: the patch was allowed in when it was applied. Without a commit
    the touched files may be dirty (an uncommitted apply leaves them so); the reverse must still
    apply exactly, so other edits in them survive."""
    _check_message(commit_message)
    patch = read_patch(diff, allow_binary=True)
    root = _toplevel(repo)
    committing = commit_message is not None
    _check_with_git(root, patch, require_clean=committing)
    head = _head(root)
    problem = _applies(root, patch, index=committing, reverse=True)
    if problem is not None:
        raise PatchRefused(f"later changes touch the same lines; cannot revert ({problem})")
    commit = _write(root, patch, reverse=True, message=commit_message, head=head)
    return ApplyResult(applied=True, three_way=False, commit=commit, files=patch.files, diff=diff)


def _check_message(message: str | None) -> None:
    if message is not None and not message.strip():
        raise InputError("the commit message is empty")


def _check_with_git(root: Path, patch: InspectedPatch, *, require_clean: bool = True) -> None:
    check_against_tree(root, patch.files)
    _agree_with_git(root, patch)
    if require_clean:
        _require_clean(root, patch.paths)


def _agree_with_git(root: Path, patch: InspectedPatch) -> None:
    """git is what writes, so its reading of the diff must be the one inspected: the same files
    with the same line counts, and no mode but a regular file's."""
    strip = f"-p{patch.strip}"
    numstat = _git(root, "apply", "--numstat", "-z", strip, "-", input=patch.data, check=False)
    if numstat.returncode != 0:
        raise PatchRefused(f"malformed diff: {_message(numstat)}")
    seen = []
    for record in numstat.stdout.decode("utf-8", errors="surrogateescape").split("\0"):
        if record:
            added, removed, path = record.split("\t", 2)
            seen.append((path, None if added == "-" else int(added), None if removed == "-" else int(removed)))
    expected = [(f.path, None if f.binary else f.added, None if f.binary else f.removed) for f in patch.files]
    if sorted(seen, key=repr) != sorted(expected, key=repr):
        raise PatchRefused(f"git reads this diff differently from the inspection "
                           f"(git: {sorted(seen, key=repr)}; inspected: {sorted(expected, key=repr)})")
    summary = _git(root, "apply", "--summary", strip, "-", input=patch.data)
    for found in _SUMMARY_MODES.finditer(summary.stdout.decode("utf-8", errors="surrogateescape")):
        for mode in found.groups():
            if mode is not None and mode not in REGULAR_MODES:
                raise PatchRefused(f"git reads file mode {mode} in this diff; only 100644 and 100755 are allowed")


def _require_clean(root: Path, paths: Sequence[str]) -> None:
    status = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=matching",
                  "--no-renames", "--", *paths)
    dirty = sorted({entry[3:] for entry in status.stdout.decode("utf-8", errors="surrogateescape").split("\0")
                    if len(entry) > 3})
    if dirty:
        raise PatchRefused(f"uncommitted changes to {', '.join(dirty)}; commit or stash them first", path=dirty[0])


def _applies(root: Path, patch: InspectedPatch, *, index: bool, reverse: bool = False) -> str | None:
    """None when the patch applies to the tree (and index) as it is, else git's reason."""
    flags = [*_apply_flags(patch, reverse), *(["--index"] if index else [])]
    result = _git(root, "apply", "--check", *flags, "-", input=patch.data, check=False)
    return None if result.returncode == 0 else _message(result)


def _merge(root: Path, patch: InspectedPatch, base: str | None, head: str) -> str | None:
    """The patch merged into HEAD as a diff against HEAD (None when HEAD already has it), worked
    out in a scratch index and object store; PatchRefused on a conflict."""
    with _scratch(root, own_objects=True) as env:
        data, flags = patch.data, _apply_flags(patch, reverse=False)
        if base is not None:
            _git(root, "read-tree", base, env=env)
            applied = _git(root, "apply", "--cached", *flags, "-", input=data, env=env, check=False)
            if applied.returncode != 0:
                raise PatchRefused(f"the patch does not apply to its base {base[:12]}: {_message(applied)}")
            theirs = _git(root, "write-tree", env=env).stdout.decode().strip()
            data, flags = _tree_diff(root, base, theirs, env), ["--whitespace=nowarn", "-p1"]
        _git(root, "read-tree", head, env=env)
        merged = _git(root, "apply", "--cached", "--3way", *flags, "-", input=data, env=env, check=False)
        unmerged = _git(root, "ls-files", "--unmerged", "-z", env=env).stdout.decode("utf-8", errors="surrogateescape")
        conflicts = sorted({entry.split("\t", 1)[1] for entry in unmerged.split("\0") if "\t" in entry})
        if conflicts:
            raise PatchRefused(f"conflict in {', '.join(conflicts)}; the tree is unchanged", path=conflicts[0])
        if merged.returncode != 0:
            raise PatchRefused(f"the patch does not apply to HEAD and cannot be merged: {_message(merged)}")
        tree = _git(root, "write-tree", env=env).stdout.decode().strip()
        result = _tree_diff(root, head, tree, env)
    return result.decode("utf-8", errors="surrogateescape") or None


def _tree_diff(root: Path, old: str, new: str, env: dict[str, str]) -> bytes:
    return _git(root, "diff-tree", "-r", "-p", "--binary", "--full-index", "-M", "--no-color",
                "--src-prefix=a/", "--dst-prefix=b/", old, new, env=env).stdout


def _write(root: Path, patch: InspectedPatch, *, reverse: bool, message: str | None, head: str) -> str | None:
    """Write the (checked) patch; with a message, commit exactly it on top of ``head``."""
    flags = _apply_flags(patch, reverse)
    if message is None:
        _git(root, "apply", *flags, "-", input=patch.data)
        return None
    with _scratch(root, own_objects=False) as env:
        _git(root, "read-tree", head, env=env)
        _git(root, "apply", "--cached", *flags, "-", input=patch.data, env=env)
        tree = _git(root, "write-tree", env=env).stdout.decode().strip()
    text = message.strip("\n") + "\n"
    commit = _git(root, *_identity(root), "commit-tree", tree, "-p", head,
                  input=text.encode("utf-8", errors="surrogateescape")).stdout.decode().strip()
    _git(root, "apply", "--index", *flags, "-", input=patch.data)
    moved = _git(root, "update-ref", "-m", f"uet: {text.splitlines()[0]}", "HEAD", commit, head, check=False)
    if moved.returncode != 0:
        _git(root, "apply", "--index", *_apply_flags(patch, not reverse), "-", input=patch.data, check=False)
        raise PatchRefused(f"HEAD moved while the patch was being committed; the tree is unchanged "
                           f"({_message(moved)})")
    return commit


def _apply_flags(patch: InspectedPatch, reverse: bool) -> list[str]:
    # --whitespace pinned so a user's apply.whitespace=fix|error cannot change or block the write.
    return ["--whitespace=nowarn", f"-p{patch.strip}", *(["-R"] if reverse else [])]


def _identity(root: Path) -> list[str]:
    """``-c`` options naming the OS user for whatever identity git has not been given."""
    try:
        user = re.sub(r"[^A-Za-z0-9._-]", "", getpass.getuser()) or "uet"
    except (OSError, KeyError):
        user = "uet"
    options = []
    for key, fallback in (("user.name", user), ("user.email", f"{user}@localhost")):
        if not _git(root, "config", "--get", key, check=False).stdout.strip():
            options += ["-c", f"{key}={fallback}"]
    return options


@contextlib.contextmanager
def _scratch(root: Path, *, own_objects: bool) -> Iterator[dict[str, str]]:
    """Environment for git work in a temporary index outside the repository; with
    ``own_objects``, new objects go to a temporary store too, the repository's read through
    an alternate, so a refused merge leaves no trace at all."""
    objects = _git(root, "rev-parse", "--git-path", "objects").stdout.decode("utf-8", errors="surrogateescape")
    objects = os.path.join(root, objects.rstrip("\n"))
    with tempfile.TemporaryDirectory(prefix="uet-patch-") as scratch:
        env = {"GIT_INDEX_FILE": os.path.join(scratch, "index")}
        if own_objects:
            os.mkdir(os.path.join(scratch, "objects"))
            env["GIT_OBJECT_DIRECTORY"] = os.path.join(scratch, "objects")
            env["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = _quote_alternate(objects)
        yield env


def _quote_alternate(path: str) -> str:
    """Alternates are ':'-separated; a path holding ':' (or starting with '"') is C-quoted."""
    if ":" not in path and not path.startswith('"'):
        return path
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toplevel(repo: Path) -> Path:
    """The repository's root, which ``repo`` must be: from a subdirectory git apply silently
    skips paths outside it."""
    result = _git(repo, "rev-parse", "--show-toplevel", check=False)
    if result.returncode != 0:
        raise InputError(f"{repo} is not a git working tree: {_message(result)}")
    top = os.path.realpath(result.stdout.decode("utf-8", errors="surrogateescape").rstrip("\n"))
    if top != os.path.realpath(repo):
        raise InputError(f"{repo} is not the top of its git working tree ({top} is)")
    return Path(top)


def _head(root: Path) -> str:
    result = _git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    if result.returncode != 0:
        raise InputError(f"the repository at {root} has no commit yet")
    return result.stdout.decode().strip()


def _resolve_base(root: Path, base: str) -> str:
    refused = PatchRefused(f"the patch's base {base!r} is not a commit in this repository")
    if not base or base.startswith("-"):
        raise refused
    result = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{base}^{{commit}}", check=False)
    if result.returncode != 0:
        raise refused
    return result.stdout.decode().strip()


def _unchanged(root: Path, base: str, head: str, paths: Sequence[str]) -> bool:
    """Whether none of ``paths`` differs between the two commits."""
    result = _git(root, "diff-tree", "--quiet", "-r", base, head, "--", *paths, check=False)
    if result.returncode not in (0, 1):
        raise GitFailed(f"git diff-tree failed in {root}: {_message(result)}")
    return result.returncode == 0


def _git(repo: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return run_git(repo, *args, error=GitFailed, input=input, env=env, check=check, timeout=GIT_TIMEOUT_SECONDS)
