"""git on the user's repository for the patch steps: its HEAD, keeping ``.uet/`` out of its
status, and removing the scratch copies kept under ``.uet/worktrees/`` (see
``engine.patches.scratch`` for how they are made and read).

Every git call is an argv list run with ``git -C <dir>``, a timeout, and no terminal prompts.
"""

from __future__ import annotations

import contextlib
import os
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


def trusted_dir(work: Path) -> Path:
    """UET's own git dir for the scratch copy ``work``: beside it, never inside it."""
    return work.with_name(work.name + ".git")


def remove_worktree(root: Path, work: Path) -> None:
    """Remove a scratch copy and its trusted git dir. A worktree made by an older UET (its
    ``.git`` a file naming the user's repository) also has its entry in ``root`` pruned."""
    legacy = (work / ".git").is_file() and not (work / ".git").is_symlink()
    for path in (work, trusted_dir(work)):
        if path.is_symlink() or path.is_file():
            path.unlink(missing_ok=True)
        elif path.exists():
            make_removable(path)
            shutil.rmtree(path, ignore_errors=True)
    if legacy:
        git(root, "worktree", "prune", check=False)


def make_removable(path: Path) -> None:
    """A step may leave directories without write permission; removal needs it (a symlink is
    never followed out of the copy)."""
    for folder, dirs, _files in os.walk(path):
        for name in dirs:
            target = Path(folder) / name
            with contextlib.suppress(OSError):
                if not target.is_symlink():
                    target.chmod(0o700)
