"""Real agent CLIs for the tests, installed from the package registries once and kept.

Each pinned version goes into its own folder under the cache (``UET_TEST_CACHE``, default
``~/.cache/uet-tests``): an npm package with ``npm install --prefix``, a PyPI package into its
own virtual environment, so its pins never touch the project's. A later run finds it there and
installs nothing. Installing is serialised by a lock file, so parallel test processes wait for
one install rather than racing.

``PINS`` names every pinned CLI. A test session starts installing the ones its tests need in
the background as it starts (``prefetch``, from ``tests/conftest.py``), all at once: an install
mostly waits on the network, and the tests that use a CLI then find it there, or wait on its
lock only for what is left, instead of each install holding up a test worker in turn.

When the registry cannot be reached the install fails and the test that needs the CLI fails
with the installer's message: a missing agent is not a reason to pass.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

INSTALL_SECONDS = 600


def cache_dir() -> Path:
    root = Path(os.environ.get("UET_TEST_CACHE") or Path.home() / ".cache" / "uet-tests")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _locked_install(folder: Path, program: Path, install: list[list[str]]) -> Path:
    """Run ``install`` (``{dir}`` is ``folder``) unless a finished install is there. A finished
    one has its stamp; a half-done one (a killed run) is removed and made again. (A virtual
    environment cannot be moved once made, so it is made in place.)"""
    stamp = folder / ".installed"
    if stamp.exists() and program.exists():
        return program
    lock = folder.with_name(folder.name + ".lock")
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if stamp.exists() and program.exists():
            return program
        shutil.rmtree(folder, ignore_errors=True)
        for argv in install:
            argv = [part.replace("{dir}", str(folder)) for part in argv]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_SECONDS, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"installing into {folder} failed: {' '.join(argv)}\n{done.stdout[-2000:]}"
                                   f"{done.stderr[-2000:]}")
        if not program.exists():
            raise RuntimeError(f"{program} is missing after the install")
        stamp.touch()
    return program


def npm_cli(package: str, version: str, program: str) -> Path:
    """The path of ``program`` from ``package@version``, installed with npm when missing."""
    folder = cache_dir() / f"npm-{package.replace('/', '+')}-{version}"
    return _locked_install(folder, folder / "node_modules" / ".bin" / program, [
        ["npm", "install", "--prefix", "{dir}", f"{package}@{version}", "--no-audit", "--no-fund",
         "--loglevel=error"],
    ])


def pip_cli(package: str, version: str, program: str) -> Path:
    """The path of ``program`` from ``package==version``, in a virtual environment of its own."""
    folder = cache_dir() / f"pypi-{package}-{version}"
    return _locked_install(folder, folder / "bin" / program, [
        [sys.executable, "-m", "venv", "{dir}"],
        ["{dir}/bin/python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"{package}=={version}"],
    ])


@dataclass(frozen=True)
class Pin:
    """One agent CLI at the version its recorded fixtures come from."""

    registry: str  # "npm" or "pypi"
    package: str
    version: str
    program: str

    def install(self) -> Path:
        """The path of the program, installed into the cache when missing."""
        if self.registry == "npm":
            return npm_cli(self.package, self.version, self.program)
        return pip_cli(self.package, self.version, self.program)


# Keyed by family, whose tests are tests/agents/test_<family>.py.
PINS = {
    "aider": Pin("pypi", "aider-chat", "0.86.2", "aider"),
    "claude": Pin("npm", "@anthropic-ai/claude-code", "2.1.197", "claude"),
    "codex": Pin("npm", "@openai/codex", "0.171.0", "codex"),
    "gemini": Pin("npm", "@google/gemini-cli", "0.61.0", "gemini"),
    "opencode": Pin("npm", "opencode-ai", "1.18.33", "opencode"),
}


def _install_quietly(pin: Pin) -> None:
    """A background install: a failure is left to the test that needs the CLI, which tries
    again under the lock and fails with the installer's message."""
    with contextlib.suppress(Exception):
        pin.install()


def prefetch(families: Iterable[str]) -> list[threading.Thread]:
    """Start installing the CLIs of ``families`` in background threads, one each; return them
    (join them before the session ends)."""
    threads = [threading.Thread(target=_install_quietly, args=(PINS[family],), name=f"install {family}",
                                daemon=True) for family in families]
    for thread in threads:
        thread.start()
    return threads
