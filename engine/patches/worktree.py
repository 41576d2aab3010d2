"""Scratch git worktrees: where patch-producing steps edit and where gates test a patch, so the
user's working tree is never touched behind their back.

Every git call is an argv list run with ``git -C <dir>``, a timeout, and no terminal prompts.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path

from engine.errors import InputError
from engine.patches.git import GIT_TIMEOUT_SECONDS, run_git


class GitError(InputError):
    """A git command failed; the message carries git's own words."""


def git(repo: Path, *args: str, input: bytes | None = None, check: bool = True,
        timeout: float = GIT_TIMEOUT_SECONDS) -> subprocess.CompletedProcess[bytes]:
    return run_git(repo, *args, error=GitError, input=input, check=check, timeout=timeout)


def head_commit(root: Path) -> str | None:
    """HEAD of the repository at ``root``, or None when it is not a git repository with a commit."""
    result = git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    if result.returncode != 0:
        return None
    return result.stdout.decode().strip() or None


def exclude_uet(root: Path) -> None:
    """Keep ``.uet/`` (database, logs, worktrees) out of ``git status`` without touching any
    tracked file: a line in this clone's own ``info/exclude``."""
    result = git(root, "rev-parse", "--git-path", "info/exclude", check=False)
    if result.returncode != 0:
        return
    path = Path(result.stdout.decode().strip())
    if not path.is_absolute():
        path = root / path
    with contextlib.suppress(OSError):
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if not any(line.strip() in (".uet/", "/.uet/", ".uet") for line in text.splitlines()):
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(("" if text.endswith("\n") or not text else "\n") + "/.uet/\n")


def add_worktree(root: Path, path: Path, base: str) -> Path:
    """A detached worktree of ``root`` at ``base``; an old one at the same place is replaced."""
    if path.exists():
        remove_worktree(root, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    exclude_uet(root)
    git(root, "worktree", "add", "--detach", "--force", str(path), base)
    return path


def remove_worktree(root: Path, path: Path) -> None:
    """Remove a worktree and its administrative entry; a half-removed one is cleaned up too."""
    if path.exists():
        result = git(root, "worktree", "remove", "--force", "--force", str(path), check=False)
        if result.returncode != 0 and path.exists():
            shutil.rmtree(path, ignore_errors=True)
    git(root, "worktree", "prune", check=False)


def apply_in_worktree(worktree: Path, diff: str) -> None:
    """Apply an already-inspected patch inside a scratch worktree (never the user's tree)."""
    git(worktree, "apply", "--whitespace=nowarn", "-", input=diff.encode("utf-8", errors="surrogateescape"))


def capture_diff(worktree: Path, base: str) -> str:
    """Everything the attempt changed in its worktree, against ``base``, as one unified diff:
    edits, new files, deletions, renames and mode changes (binary files as binary patches)."""
    git(worktree, "add", "--all")
    result = git(worktree, "diff", "--cached", "--binary", "--full-index", "-M", "--no-color", "--no-ext-diff",
                 "--src-prefix=a/", "--dst-prefix=b/", "--no-relative", base)
    return result.stdout.decode("utf-8", errors="surrogateescape")
