"""The rows of ``uet tools``: the router's tools with where they come from, their programs found
on a PATH of fake executables (or not), the versions those print (kept per path and mtime), and
the breakers and records a real store holds, written through the store's own statements."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.agents.catalog import FAMILIES, PACKAGES
from engine.toolinfo import cache_path, not_installed, probe_version, tool_rows, uncovered
from schemas.tools import ToolInfo
from store import Store, ops
from tests.conftest import Project

ROUTER = """\
tools:
  fmt:
    executable: fmt-fake
    capabilities: [lint]
  gone:
    command: [uet-no-such-program, run]
    capabilities: [docs]
  claude:
    agent: claude
    executable: claude-fake
    model: house-model
    capabilities: [plan, code_edit, review]
"""


@pytest.fixture
def bin_dir(project: Project, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only the fake programs; each run of fmt-fake is noted in calls.txt."""
    folder = project.root / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    script(folder / "fmt-fake", f'echo run >> "{project.root}/calls.txt"\necho "fmt-fake 1.2.3"\necho second line\n')
    script(folder / "claude-fake", 'printf "\\033[1m2.1.197 (Claude Code)\\033[0m\\n"\n')
    return folder


def script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(0o755)
    return path


def by_name(rows: list[ToolInfo]) -> dict[str, ToolInfo]:
    return {row.name: row for row in rows}


def calls(project: Project) -> int:
    path = project.root / "calls.txt"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_project_router_s_tools_are_its_own_and_the_other_agents_built_in(project: Project, bin_dir: Path) -> None:
    project.write(".uet/router.yaml", ROUTER)

    rows = by_name(tool_rows(project.root))

    assert sorted(rows) == ["aider", "claude", "codex", "fmt", "gemini", "gone", "opencode"]
    assert {name: row.source for name, row in rows.items()} == {
        "codex": "built-in", "gemini": "built-in", "aider": "built-in", "opencode": "built-in",
        "fmt": "project", "gone": "project", "claude": "project"}
    fmt = rows["fmt"]
    assert (fmt.found, fmt.path, fmt.version) == (True, str(bin_dir / "fmt-fake"), "fmt-fake 1.2.3")
    assert fmt.capabilities == ["lint"] and fmt.agent is None and fmt.install is None
    assert rows["claude"].version == "2.1.197 (Claude Code)"  # the terminal's bold is not part of it
    assert (rows["claude"].agent, rows["claude"].found, rows["claude"].install) == ("claude", True, None)
    gone = rows["gone"]
    assert (gone.executable, gone.found, gone.path, gone.version, gone.install) == (
        "uet-no-such-program", False, None, None, None)
    codex = rows["codex"]
    assert (codex.agent, codex.executable, codex.found, codex.install) == ("codex", "codex", False, PACKAGES["codex"])
    missing = [row.name for row in not_installed(list(rows.values()))]
    assert missing[-1] == "gone" and sorted(missing[:-1]) == ["aider", "codex", "gemini", "opencode"]  # agents first
    assert uncovered(list(rows.values())) == ["docs"]  # claude-fake does plan, code_edit and review


def test_without_a_router_file_every_tool_is_built_in(project: Project, bin_dir: Path) -> None:
    rows = by_name(tool_rows(project.root))

    assert set(FAMILIES) < set(rows) and {"ruff", "pytest", "sim-flaky", "sim-steady"} < set(rows)
    assert {row.source for row in rows.values()} == {"built-in"}
    assert rows["sim-flaky"].found is None and rows["sim-flaky"].version is None
    assert rows["pytest"].executable == "python" and rows["pytest"].found is False  # PATH holds only the fakes
    assert {row.name for row in not_installed(list(rows.values()))} == {*FAMILIES, "ruff", "pytest"}
    assert uncovered(list(rows.values())) == ["lint", "plan", "test"]  # the sims do code_edit and review


def test_breaker_and_record_come_from_the_store(project: Project, bin_dir: Path) -> None:
    project.write(".uet/router.yaml", ROUTER)
    store = Store(project.db)
    try:
        steps = [f"s{i}" for i in range(8)]
        store.create_run(run_id="r1", workstream="w", source=None, root=str(project.root), max_parallel=1,
                         spec={}, steps=[(s, "task", [], {}) for s in steps])
        rows = [  # step, tool, state, seconds, usd, tokens in, out
            ("s0", "fmt", "succeeded", 1.0, 0.10, 100, 20),
            ("s1", "fmt", "succeeded", 2.0, 0.30, 300, 40),
            ("s2", "fmt", "failed", 10.0, None, None, None),
            ("s3", "fmt", "canceled", 50.0, 9.0, 9000, 900),  # says nothing about the tool
            ("s4", "fmt", "running", None, None, None, None),
            ("s5", "gone", "succeeded", 1.0, None, 10, 0),
            ("s6", "gone", "timed_out", 4.0, None, None, None),
        ]
        for step, tool, state, seconds, usd, tokens_in, tokens_out in rows:
            ended = None if seconds is None else 100.0 + seconds
            store.submit([ops.attempt_row("r1", step, 1, tool, state, None, 100.0, ended, tokens_in=tokens_in,
                                          tokens_out=tokens_out, usd=usd, duration=seconds)])
        store.submit([ops.upsert_breaker("gone", "open", 3, [False, False, False], 123.0, None, 124.0),
                      ops.upsert_breaker("fmt", "closed", 0, [True], None, None, 124.0)])
        store.sync()

        found = by_name(tool_rows(project.root, store, versions=False))
    finally:
        store.close()

    fmt = found["fmt"]
    assert (fmt.attempts, fmt.succeeded, fmt.success_rate) == (3, 2, pytest.approx(2 / 3))
    assert fmt.median_seconds == 2.0
    assert (fmt.usd_per_attempt, fmt.priced_attempts) == (pytest.approx(0.2), 2)  # the unpriced one is not $0
    assert fmt.tokens_per_attempt == pytest.approx(230.0)
    assert (fmt.breaker, fmt.breaker_opened_at, fmt.version) == ("closed", None, None)
    gone = found["gone"]
    assert (gone.attempts, gone.success_rate, gone.median_seconds) == (2, 0.5, 2.5)  # the middle two's mean
    assert (gone.usd_per_attempt, gone.tokens_per_attempt) == (None, 10.0)
    assert (gone.breaker, gone.breaker_opened_at) == ("open", 123.0)
    assert (found["codex"].attempts, found["codex"].success_rate, found["codex"].breaker) == (0, None, None)


def test_a_version_is_asked_once_until_the_program_changes(project: Project, bin_dir: Path) -> None:
    project.write(".uet/router.yaml", ROUTER)
    fake = bin_dir / "fmt-fake"

    assert by_name(tool_rows(project.root))["fmt"].version == "fmt-fake 1.2.3"
    assert calls(project) == 1 and cache_path(project.root).is_file()
    assert (cache_path(project.root).parent / ".gitignore").read_text() == "*\n"  # never committed by mistake
    assert by_name(tool_rows(project.root))["fmt"].version == "fmt-fake 1.2.3"
    assert calls(project) == 1

    # New output, same modification time: still the kept answer.
    stamp = fake.stat()
    script(fake, f'echo run >> "{project.root}/calls.txt"\necho "fmt-fake 2.0.0"\n')
    os.utime(fake, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert by_name(tool_rows(project.root))["fmt"].version == "fmt-fake 1.2.3"
    assert calls(project) == 1

    os.utime(fake, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))
    assert by_name(tool_rows(project.root))["fmt"].version == "fmt-fake 2.0.0"
    assert calls(project) == 2


def test_versions_are_not_asked_when_not_wanted(project: Project, bin_dir: Path) -> None:
    project.write(".uet/router.yaml", ROUTER)

    rows = by_name(tool_rows(project.root, versions=False))

    assert rows["fmt"].found is True and rows["fmt"].version is None
    assert calls(project) == 0 and not cache_path(project.root).exists()


def test_a_program_that_fails_hangs_or_floods_gives_a_bounded_unknown(tmp_path: Path) -> None:
    failing = script(tmp_path / "failing", 'echo "no such option: --version" >&2\nexit 3\n')
    hanging = script(tmp_path / "hanging", "/bin/sleep 30\n")
    flooding = script(tmp_path / "flooding", "/usr/bin/head -c 10000000 /dev/zero | /usr/bin/tr '\\0' x\n")
    silent = script(tmp_path / "silent", "exit 0\n")

    assert probe_version(str(failing), ["--version"]) == ("unknown (exit 3: no such option: --version)", True)
    assert probe_version(str(hanging), ["--version"], timeout=0.5) == ("unknown (no answer in 0.5s)", False)
    assert probe_version(str(flooding), []) == ("x" * 200, True)
    assert probe_version(str(silent), []) == ("unknown (it printed nothing)", True)
    assert probe_version(str(tmp_path / "absent"), [])[0].startswith("unknown (cannot run it: ")


def test_a_python_module_tool_reports_the_module_s_version_not_python_s(project: Project, bin_dir: Path) -> None:
    """``python -m pytest`` is pytest: its row shows pytest's version. A module of Python's own
    library, and a tool that sets ``version_args``, are asked as written."""
    script(bin_dir / "python", 'if [ "$1" = -m ]; then echo "$2 9.8.7"; else echo "Python 3.99.0"; fi\n')
    project.write(".uet/router.yaml", """\
tools:
  pytest:
    command: [python, -m, pytest, -q]
    executable: python
  unittest:
    command: [python, -m, unittest, discover]
  own:
    command: [python, -m, pkg.tool]
    version_args: [--version]
  shell:
    command: [python, -c, "print(1)"]
""")

    rows = by_name(tool_rows(project.root))

    assert rows["pytest"].version == "pytest 9.8.7"
    assert rows["unittest"].version == "Python 3.99.0"
    assert rows["own"].version == "Python 3.99.0"
    assert rows["shell"].version == "Python 3.99.0"
