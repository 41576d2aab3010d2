"""Real agent CLIs for the tests, installed from the package registries once and kept.

Each pinned version goes into its own folder under the cache (``UET_TEST_CACHE``, default
``~/.cache/uet-tests``): an npm package with ``npm install --prefix``, a PyPI package into its
own virtual environment, so its pins never touch the project's. A later run finds it there and
installs nothing. Installing is serialised by a lock file, so parallel test processes wait for
one install rather than racing.

When the registry cannot be reached the install fails and the test that needs the CLI fails
with the installer's message: a missing agent is not a reason to pass.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
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
