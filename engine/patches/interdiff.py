"""What changed between two rounds of a patch: round n-1's result against round n's result.

Every round's patch is stored as a diff against the run's base commit, so showing round n
against the base shows everything again, also what the reviewer already read. Here both diffs
are applied to the base in a scratch index, each written as a tree, and the two trees are
compared: the answer is a unified diff from round n-1's files (``a/``) to round n's (``b/``),
only of the files and lines that differ between the rounds.

The work happens outside the repository's own index and object store: a temporary index, new
objects in a temporary directory, the repository's objects read through an alternate (as
``engine.patches.gitapply`` merges), so nothing of the user's repository changes and nothing
is left behind. Both diffs are read as untrusted patches first (``safety.read_patch``: size,
names, modes) and the answer is bounded by the same size limit.

    UetError (engine.errors)
    └── InterdiffError      a round's diff does not apply to the base, git failed, or the
                            answer is too large to show
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from engine.errors import UetError
from engine.patches.git import run_git
from engine.patches.gitapply import _quote_alternate
from engine.patches.safety import MAX_PATCH_BYTES, read_patch

INTERDIFF_TIMEOUT_SECONDS = 60.0


class InterdiffError(UetError):
    """The change between two rounds could not be worked out; the message says why."""


def between_rounds(root: Path, base: str, old_diff: str, new_diff: str, *, max_bytes: int = MAX_PATCH_BYTES) -> str:
    """A unified diff from the files as round n-1 (``old_diff``) left them to the files as round
    n (``new_diff``) leaves them, both diffs taken against ``base`` in the repository holding
    ``root``. Empty when the two rounds leave the same files."""
    top = _toplevel(root)
    with _scratch(top) as env:
        old = _tree(top, base, old_diff, env, "the previous round")
        new = _tree(top, base, new_diff, env, "this round")
        if old == new:
            return ""
        result = _git(top, "diff-tree", "-r", "-p", "-M", "--no-color", "--no-ext-diff", "--no-textconv",
                      "--src-prefix=a/", "--dst-prefix=b/", old, new, env=env)
    if len(result.stdout) > max_bytes:
        raise InterdiffError(f"the change between the rounds is {len(result.stdout):,} bytes, more than the "
                             f"{max_bytes:,} shown; compare each round against the base instead")
    return result.stdout.decode("utf-8", errors="surrogateescape")


def _tree(top: Path, base: str, diff: str, env: dict[str, str], which: str) -> str:
    """The tree of ``base`` with ``diff`` applied, written to the scratch object store."""
    _git(top, "read-tree", "--end-of-options", f"{base}^{{tree}}", env=env)
    if diff.strip():
        patch = read_patch(diff, allow_binary=True)
        applied = _git(top, "apply", "--cached", "--whitespace=nowarn", f"-p{patch.strip}", "-", input=patch.data,
                       env=env, check=False)
        if applied.returncode != 0:
            words = applied.stderr.decode("utf-8", errors="replace").strip().splitlines()[-1:] or ["git apply failed"]
            raise InterdiffError(f"the diff of {which} does not apply to its base {base[:12]}: {words[0]}")
    return _git(top, "write-tree", env=env).stdout.decode().strip()


def _toplevel(root: Path) -> Path:
    result = _git(root, "rev-parse", "--show-toplevel", check=False)
    if result.returncode != 0:
        raise InterdiffError(f"{root} is not in a git working tree, so the rounds cannot be compared")
    return Path(result.stdout.decode("utf-8", errors="surrogateescape").rstrip("\n"))


@contextlib.contextmanager
def _scratch(top: Path) -> Iterator[dict[str, str]]:
    """A temporary index and object store; the repository's objects read through an alternate."""
    objects = _git(top, "rev-parse", "--git-path", "objects").stdout.decode("utf-8", errors="surrogateescape")
    objects = os.path.join(top, objects.rstrip("\n"))
    with tempfile.TemporaryDirectory(prefix="uet-interdiff-") as scratch:
        os.mkdir(os.path.join(scratch, "objects"))
        yield {"GIT_INDEX_FILE": os.path.join(scratch, "index"),
               "GIT_OBJECT_DIRECTORY": os.path.join(scratch, "objects"),
               "GIT_ALTERNATE_OBJECT_DIRECTORIES": _quote_alternate(objects)}


def _git(repo: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return run_git(repo, *args, error=InterdiffError, input=input, env=env, check=check,
                   timeout=INTERDIFF_TIMEOUT_SECONDS)


__all__ = ["InterdiffError", "between_rounds"]
