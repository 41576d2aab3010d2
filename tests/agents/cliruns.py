"""Running a real agent CLI the way a family's driver says, outside the engine: for the slow
tests of the Claude Code and Codex families and for recording their fixtures.

``git_repo`` makes a small project (``hello.py`` committed); ``run_agent`` writes the prompt
file and the invocation's config files into a fresh home, then runs the invocation's argv in
the repository with HOME set to that home, the invocation's variables added, a key that the
FakeAPI accepts, and stdin from the prompt file, as the engine does. The host's environment
is not inherited beyond PATH and the locale, so no real key or config reaches the CLI.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.agents.base import AgentResult, Driver, Task
from tests.conftest import Project

RUN_SECONDS = 120
GIT = ["git", "-c", "user.name=UET Tests", "-c", "user.email=tests@uet.invalid"]


@dataclass
class Ran:
    returncode: int
    output: str  # stdout and stderr merged, as the engine reads them
    readable: list[str]  # what the parser made of the lines, in order
    result: AgentResult


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "hello.py").write_text('print("hello")\n')
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run([*GIT, "-C", str(path), "add", "."], check=True)
    subprocess.run([*GIT, "-C", str(path), "commit", "-qm", "start"], check=True)
    return path


def task_for(repo: Path, home: Path, prompt: str, **fields: object) -> Task:
    home.mkdir(parents=True, exist_ok=True)
    prompt_file = home.parent / f"{home.name}.prompt.txt"
    prompt_file.write_text(prompt)
    return replace(Task(prompt=prompt, prompt_file=str(prompt_file), home=str(home), workdir=str(repo)), **fields)


def run_agent(driver: Driver, program: Path, task: Task, key: dict[str, str], *,
              merge_stderr: bool = True) -> Ran:
    """Run ``driver``'s invocation of ``task`` with the CLI at ``program`` (its folder first on
    PATH) and feed every line it printed to a fresh parser."""
    invocation = driver.invocation(task)
    assert invocation.argv[0] == driver.executable
    for name, text in invocation.files.items():
        target = Path(task.home) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    env = {"PATH": f"{program.parent}{os.pathsep}{os.environ.get('PATH', os.defpath)}", "LANG": "C.UTF-8",
           **key, **invocation.env, "HOME": task.home}
    with open(invocation.stdin or os.devnull, "rb") as stdin:
        done = subprocess.run(invocation.argv, cwd=task.workdir, env=env, stdin=stdin, capture_output=True,
                              timeout=RUN_SECONDS, check=False)
    output = done.stdout.decode("utf-8", errors="replace")
    if merge_stderr:
        output += done.stderr.decode("utf-8", errors="replace")
    parser = driver.parser()
    readable = [line for raw in output.splitlines() for line in parser.feed(raw)]
    return Ran(done.returncode, output, readable, parser.finish(task.home))


def uet_with(project: Project, program: Path, key: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``uet ARGS`` in ``project`` with the CLI at ``program`` first on PATH and ``key`` set (a
    tool passes it through).

    The sandbox covers the home, where the cache lies, and shows again the program's install:
    for ``node_modules/.bin/codex`` all of ``node_modules``, since Codex's launcher runs a binary
    from a sibling package (``@openai/codex-linux-x64``)."""
    folders = [str(program.parent), os.environ.get("PATH", os.defpath)]
    env = {**project.env(), **key, "PATH": os.pathsep.join(folders)}
    return subprocess.run(project.argv(*args), cwd=project.root, env=env, capture_output=True, text=True,
                          timeout=RUN_SECONDS * 2, stdin=subprocess.DEVNULL)


def parse_with(driver: Any, lines: list[str], home: str = "/nonexistent") -> tuple[list[str], AgentResult]:
    """The readable lines ``driver``'s parser makes of ``lines``, and its result."""
    parser = driver.parser()
    readable = [out for line in lines for out in parser.feed(line)]
    return readable, parser.finish(home)


def recorded(family: str, version: str, case: str, suffix: str = "jsonl") -> list[str]:
    """The lines of a recorded fixture, ``tests/agents/fixtures/FAMILY-VERSION-CASE.SUFFIX``."""
    return (Path(__file__).parent / "fixtures" / f"{family}-{version}-{case}.{suffix}").read_text().splitlines()


def plain_task(**fields: Any) -> Task:
    """A Task for building an invocation: fixed paths, ``fields`` over them."""
    base: dict[str, Any] = {"prompt": "p", "prompt_file": "/w/prompt.txt", "home": "/w/home", "workdir": "/w/repo"}
    return Task(**{**base, **fields})
