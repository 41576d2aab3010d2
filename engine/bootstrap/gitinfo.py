"""Git state of the scanned tree: branch, HEAD, dirty, remote.

Git is run only when a ``.git`` was found above the root, with argv lists, a timeout, no
terminal prompt and ``GIT_OPTIONAL_LOCKS=0`` so ``git status`` never takes the index lock a
user's own git command might be waiting for. Any failure leaves the field unknown and says
why in ``error``; a scan never fails because of git.
"""

from __future__ import annotations

import os
import subprocess
from urllib.parse import urlsplit, urlunsplit

from engine.bootstrap.ignore import Repository
from schemas.scan import GitInfo

GIT_TIMEOUT_S = 10.0


class GitFailed(Exception):
    pass


def _git(root: str, *args: str, ok: tuple[int, ...] = (0,)) -> tuple[int, str]:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, env=env, capture_output=True, timeout=GIT_TIMEOUT_S,
            stdin=subprocess.DEVNULL, check=False,
        )
    except FileNotFoundError as exc:
        raise GitFailed("git is not installed (not found on PATH)") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitFailed(f"git {args[0]} took longer than {GIT_TIMEOUT_S:g}s") from exc
    except OSError as exc:
        raise GitFailed(f"git could not be started: {exc}") from exc
    if done.returncode not in ok:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitFailed(f"git {args[0]} failed: {message[-1] if message else f'exit {done.returncode}'}")
    return done.returncode, done.stdout.decode("utf-8", "replace")


def git_info(root: str, repo: Repository | None) -> GitInfo:
    if repo is None:
        return GitInfo(is_repo=False)
    facts: dict[str, object] = {"is_repo": True, "toplevel": repo.toplevel}
    try:
        facts["toplevel"] = _git(root, "rev-parse", "--show-toplevel")[1].strip() or repo.toplevel
        code, out = _git(root, "symbolic-ref", "--short", "-q", "HEAD", ok=(0, 1))
        facts["branch"] = out.strip() if code == 0 else None
        code, out = _git(root, "rev-parse", "-q", "--verify", "HEAD", ok=(0, 1))
        facts["head"] = out.strip() if code == 0 else None
        facts["dirty"] = bool(_git(root, "status", "--porcelain", "-z", "--untracked-files=normal")[1])
        code, out = _git(root, "config", "--get-regexp", r"^remote\..*\.url$", ok=(0, 1))
        facts.update(_pick_remote(out if code == 0 else ""))
    except GitFailed as exc:
        facts["error"] = str(exc)
    return GitInfo.model_validate(facts)


def tracked_but_ignored(root: str, repo: Repository | None) -> list[str]:
    """Files git tracks although an ignore rule matches them (``git add -f``): part of the
    project all the same. Read from the index alone, so it is fast; empty when git fails."""
    if repo is None:
        return []
    try:
        out = _git(root, "ls-files", "-z", "--cached", "--ignored", "--exclude-standard")[1]
    except GitFailed:
        return []
    return [path for path in out.split("\0") if path]


def _pick_remote(config: str) -> dict[str, str]:
    """origin if there is one, else the first remote configured."""
    remotes: dict[str, str] = {}
    for line in config.splitlines():
        key, _, url = line.partition(" ")
        name = key.removeprefix("remote.").removesuffix(".url")
        remotes.setdefault(name, url.strip())
    if not remotes:
        return {}
    name = "origin" if "origin" in remotes else next(iter(remotes))
    return {"remote_name": name, "remote": strip_credentials(remotes[name])}


def strip_credentials(url: str) -> str:
    """A remote URL without passwords or tokens, fit to print and to store.

    ``https://user:token@host/x`` and ``https://token@host/x`` lose their user part (over
    HTTP it is always a credential) and any query string; ``ssh://git@host/x`` and
    ``git@host:x`` keep the user name, which is not a secret, but lose a password.
    """
    if "://" not in url:  # scp-like "user@host:path", or a local path
        user, at, rest = url.partition("@")
        return rest if at and ":" in user else url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<remote URL not shown: it could not be parsed>"
    netloc = parts.netloc
    query = parts.query
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        if parts.scheme.startswith(("http", "ftp")) or ":" in userinfo:
            user = userinfo.partition(":")[0]
            netloc = host if parts.scheme.startswith(("http", "ftp")) else f"{user}@{host}"
    if parts.scheme.startswith("http"):
        query = ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
