"""Running git for the patch ledger: one place that decides git's environment and words its
failures, so worktrees, captures, applies and reverts all behave alike.

The environment drops the variables that would point git at another repository than ``-C``
says (set, for instance, when uet runs inside a git hook: ``git rev-parse --local-env-vars``),
never prompts, takes no optional locks, reads paths literally and speaks plain English so its
messages can be shown and matched.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from engine.errors import UetError

GIT_TIMEOUT_SECONDS = 120.0

REPO_VARIABLES = frozenset({
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
    "GIT_OBJECT_DIRECTORY", "GIT_DIR", "GIT_WORK_TREE", "GIT_IMPLICIT_WORK_TREE", "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE", "GIT_NO_REPLACE_OBJECTS", "GIT_REPLACE_REF_BASE", "GIT_PREFIX",
    "GIT_INTERNAL_SUPER_PREFIX", "GIT_SHALLOW_FILE", "GIT_COMMON_DIR", "GIT_EXTERNAL_DIFF",
})


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in REPO_VARIABLES}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", GIT_LITERAL_PATHSPECS="1", LC_ALL="C")
    env.update(extra or {})
    return env


def verb(args: Sequence[str]) -> str:
    """The git subcommand in ``args``, past any ``-c key=value`` options."""
    words = list(args)
    while len(words) > 1 and words[0] == "-c":
        words = words[2:]
    return " ".join(words[:2])


def message(result: subprocess.CompletedProcess[bytes]) -> str:
    text = result.stderr.decode("utf-8", errors="replace").strip()
    return "; ".join(text.splitlines()[-3:]) or f"exit code {result.returncode}"


def run_git(repo: Path, *args: str, error: type[UetError], input: bytes | None = None,
            env: dict[str, str] | None = None, check: bool = True,
            timeout: float = GIT_TIMEOUT_SECONDS) -> subprocess.CompletedProcess[bytes]:
    """``git -C repo ARGS``; failures raise ``error`` with git's own last words."""
    return run_argv(["git", "-C", str(repo), *args], args, where=str(repo), error=error, input=input,
                    env=git_env(env), check=check, timeout=timeout)


def run_argv(argv: list[str], args: Sequence[str], *, where: str, error: type[UetError], env: dict[str, str],
             input: bytes | None = None, cwd: str | Path | None = None, check: bool = True,
             timeout: float = GIT_TIMEOUT_SECONDS, too_long: str | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run one git command line (``args`` are its words after the global options, for
    messages) with exactly ``env``; failures raise ``error`` naming ``where``. A ``timeout``
    already spent (a deadline passed) fails at once, as ``too_long`` says."""
    try:
        if timeout <= 0:
            raise subprocess.TimeoutExpired(argv, 0)
        result = subprocess.run(argv, input=input, capture_output=True, env=env, timeout=timeout, check=False,
                                cwd=cwd, stdin=None if input is not None else subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise error("git is not installed (or not on PATH)") from exc
    except subprocess.TimeoutExpired as exc:
        raise error(too_long or f"git {verb(args)} took longer than {timeout:g}s in {where}") from exc
    if check and result.returncode != 0:
        raise error(f"git {verb(args)} failed in {where}: {message(result)}")
    return result
