"""A cheap fingerprint of the user's repository, taken before a patch attempt and compared after
it: the proof, attempt by attempt, that the step did not reach the repository.

The sandbox should make a change impossible; this check is what notices when it was off (the
project said ``sandbox: off``), or when a mechanism failed. It covers what a step could use to
act later, outside any sandbox (the config's fsmonitor and filters, hooks, attributes), and
what it could change now (HEAD, the index, the working tree as ``git status`` sees it).

Reading it runs git hardened: no fsmonitor, no hooks, no optional locks (``git status`` then
does not rewrite the index), so taking a fingerprint never changes what it measures.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from engine.patches.git import GIT_TIMEOUT_SECONDS, git_env

_STATUS_FLAGS = ("-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "core.untrackedCache=false",
                 "-c", "diff.external=", "-c", "status.submoduleSummary=false")


def _git(root: Path, *args: str) -> bytes:
    try:
        result = subprocess.run(["git", *_STATUS_FLAGS, "-C", str(root), *args], capture_output=True,
                                env=git_env(), timeout=GIT_TIMEOUT_SECONDS, check=False,
                                stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"<git {args[0]} failed: {exc}>".encode()
    return result.stdout + (result.stderr if result.returncode else b"")


def _digest_file(path: Path) -> str:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "absent"
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    if os.path.islink(path):
        return "link:" + os.readlink(path)
    if not os.path.isfile(path):
        return f"mode {info.st_mode:o}"
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def _digest_dir(path: Path) -> str:
    """Names, modes and contents of every file under ``path`` (the hooks directory)."""
    if not path.is_dir() or path.is_symlink():
        return _digest_file(path)
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            target = Path(folder) / name
            mode = os.lstat(target).st_mode
            digest.update(f"{target.relative_to(path)}\0{mode:o}\0{_digest_file(target)}\0".encode())
    return digest.hexdigest()


def fingerprint(root: Path) -> dict[str, str]:
    """What the check compares, by the name the error will use."""
    dirs = _git(root, "rev-parse", "--path-format=absolute", "--absolute-git-dir", "--git-common-dir").decode(
        errors="replace").split("\n")
    git_dir = Path(dirs[0].strip())
    common = Path(dirs[1].strip()) if len(dirs) > 1 and dirs[1].strip() else git_dir
    return {
        "HEAD": _digest_file(git_dir / "HEAD") + " " + _git(root, "rev-parse", "--verify", "-q", "HEAD").decode(
            errors="replace").strip(),
        "the index": _digest_file(git_dir / "index"),
        ".git/config": _digest_file(common / "config"),
        "the hooks": _digest_dir(common / "hooks"),
        ".git/info/attributes": _digest_file(common / "info" / "attributes"),
        "the working tree (git status)": hashlib.sha256(
            _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=normal", "--ignore-submodules=all")
        ).hexdigest(),
    }


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The names of what differs, in the fingerprint's order."""
    return [name for name in before if after.get(name) != before[name]]
