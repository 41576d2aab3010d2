"""Scratch copies: where a patch step edits and where a gate tests a patch, with no path back to
the user's repository.

A scratch copy is a ``git clone --shared`` of the user's repository at the run's base commit:
its own ``.git`` (config, hooks, index, refs), objects borrowed read-only through
``objects/info/alternates``, the ``origin`` remote removed so nothing is pushed back. Whatever a
step does to that ``.git`` stays there. (A ``git worktree`` kept index, refs, config and hooks in
the user's ``.git``; a plain local clone hard-links objects a step could rewrite.)

UET never runs git on what the step left behind with the step's configuration. Its own reading
of a scratch copy (applying a round's patch, capturing the change) goes through a *trusted* git
dir beside it, ``<copy>.git``, which the sandbox never shows the step, with ``--git-dir`` and
``--work-tree`` given (git discovers nothing), a scrubbed environment (no system or global
config, no home) and every command that git could run switched off: hooks, fsmonitor, external
diff, textconv, pager, signing. A ``.gitattributes`` filter the step writes names a driver the
trusted config does not define, so nothing runs. Every call is bounded by the caller's deadline
(the step's timeout).

The copy's path is what the ledger stores as the patch's worktree; when a patch is kept for
review, the copy's ``.git`` is replaced by the trusted one (HEAD at the base, the change
staged), so ``git diff --cached`` there shows the patch and nothing the step planted runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from engine.patches.git import GIT_TIMEOUT_SECONDS, run_argv, verb
from engine.patches.safety import check_against_tree, read_patch
from engine.patches.worktree import GitError, exclude_uet, git, make_removable, trusted_dir
from engine.patches.worktree import remove_worktree as remove_scratch

HARDENED_FLAGS = (
    "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "core.untrackedCache=false",
    "-c", "commit.gpgSign=false", "-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "diff.external=",
    "-c", "core.pager=cat", "-c", "core.bare=false", "-c", "core.quotePath=true",
)


@dataclass(frozen=True)
class Scratch:
    """A scratch copy: the checkout the step works in, UET's own git dir for it, and the user's
    object store it borrows from (shown read-only in the sandbox)."""

    work: Path
    git_dir: Path
    objects: Path
    repository: Path
    prefix: str = ""

    @property
    def root(self) -> Path:
        """The project root inside the copy (the project may be a folder of its repository)."""
        return self.work / self.prefix if self.prefix else self.work


@dataclass(frozen=True)
class Repository:
    """Where the user's repository is: its top folder, its object store (of the common git dir:
    the top may itself be a worktree), and the project root's place in it."""

    top: Path
    objects: Path
    prefix: str


def locate(root: Path) -> Repository:
    result = git(root, "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir",
                 "--show-prefix")
    top, common, prefix = [*result.stdout.decode().split("\n"), "", ""][:3]
    return Repository(Path(top.strip()), Path(common.strip()) / "objects", prefix.strip().rstrip("/"))


def make_scratch(root: Path, work: Path, base: str) -> Scratch:
    """A scratch copy of the repository holding ``root``, at ``base``, in ``work``; an old one at
    the same place goes first."""
    remove_scratch(root, work)
    work.parent.mkdir(parents=True, exist_ok=True)
    exclude_uet(root)
    repo = locate(root)
    objects = repo.objects
    git(root, "clone", "-q", "--shared", "--no-checkout", "--", str(repo.top), str(work))
    git(work, "remote", "remove", "origin")
    git(work, "checkout", "-q", "--detach", base)
    trusted = trusted_dir(work)
    git(work.parent, "init", "-q", "--bare", str(trusted))
    (trusted / "objects" / "info").mkdir(parents=True, exist_ok=True)
    (trusted / "objects" / "info" / "alternates").write_text(f"{objects}\n", encoding="utf-8")
    scratch = Scratch(work, trusted, objects, repo.top, repo.prefix)
    hardened(scratch, "read-tree", base)
    return scratch


def hardened_env() -> dict[str, str]:
    """Nothing of the user's or the step's configuration: only PATH is inherited."""
    return {
        "PATH": os.environ.get("PATH", os.defpath), "HOME": "/nonexistent", "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_TERMINAL_PROMPT": "0",
        "GIT_OPTIONAL_LOCKS": "0", "GIT_LITERAL_PATHSPECS": "1", "GIT_ATTR_NOSYSTEM": "1",
    }


def hardened(scratch: Scratch, *args: str, input: bytes | None = None, deadline: float | None = None,
             check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """git on the scratch copy through the trusted git dir; ``deadline`` (a ``time.monotonic``
    instant) bounds it, else git's usual timeout."""
    timeout = GIT_TIMEOUT_SECONDS if deadline is None else max(0.0, deadline - time.monotonic())
    argv = ["git", "--no-pager", *HARDENED_FLAGS, f"--git-dir={scratch.git_dir}", f"--work-tree={scratch.work}",
            *args]
    return run_argv(argv, args, where=str(scratch.work), error=GitError, env=hardened_env(), input=input,
                    cwd=scratch.work, check=check, timeout=timeout,
                    too_long=f"git {verb(args)} on the scratch copy did not finish within the step's timeout")


def apply_to_scratch(scratch: Scratch, diff: str, deadline: float | None = None) -> None:
    """Apply an already-inspected patch to the copy's files (never the user's tree)."""
    hardened(scratch, "apply", "--whitespace=nowarn", "-", input=diff.encode("utf-8", errors="surrogateescape"),
             deadline=deadline)


def apply_printed(scratch: Scratch, diff: str, *, allow_binary: bool = False, deadline: float | None = None) -> None:
    """Apply a diff a tool printed (relative to the project root) to the copy, inspected first
    like any untrusted patch and checked against the copy's tree as the step left it."""
    patch = read_patch(diff, allow_binary=allow_binary)
    check_against_tree(scratch.root, patch.files)
    args = ["apply", "--whitespace=nowarn", f"-p{patch.strip}"]
    if scratch.prefix:
        args.append(f"--directory={scratch.prefix}")
    hardened(scratch, *args, "-", input=patch.data, deadline=deadline)


def capture_diff(scratch: Scratch, base: str, deadline: float | None = None) -> str:
    """Everything changed in the copy against ``base``, as one unified diff: edits, new files,
    deletions, renames and mode changes (binary files as binary patches). A nested repository
    shows as a gitlink (mode 160000), which the inspection refuses."""
    hardened(scratch, "read-tree", base, deadline=deadline)
    hardened(scratch, "add", "--all", deadline=deadline)
    result = hardened(scratch, "diff", "--cached", "--binary", "--full-index", "-M", "--no-color", "--no-ext-diff",
                      "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/", "--no-relative", base,
                      deadline=deadline)
    return result.stdout.decode("utf-8", errors="surrogateescape")


def keep_for_review(scratch: Scratch, base: str) -> None:
    """The copy stays for a reviewer: its ``.git`` becomes the trusted one, HEAD at ``base``
    and the change staged, so a ``git`` run there reads no configuration the step wrote."""
    hardened(scratch, "update-ref", "--no-deref", "HEAD", base)
    hardened(scratch, "config", "core.bare", "false")
    planted = scratch.work / ".git"
    if planted.is_symlink() or planted.is_file():
        planted.unlink()
    elif planted.exists():
        make_removable(planted)
        shutil.rmtree(planted)
    scratch.git_dir.rename(planted)
