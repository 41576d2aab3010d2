"""``uet tools`` run as a user runs it, in a subprocess, in a project whose PATH holds only fake
programs and whose store holds real attempts and a breaker."""

from __future__ import annotations

import json
import subprocess

import pytest

from engine.agents.catalog import PACKAGES
from store import Store, ops
from tests.conftest import Project

ROUTER = """\
tools:
  fmt:
    executable: fmt-fake
    capabilities: [lint]
  docs-builder:
    command: [uet-no-such-program]
    capabilities: [docs]
  claude:
    agent: claude
    executable: claude-fake
    capabilities: [plan, code_edit, review]
"""


@pytest.fixture
def tools_project(project: Project) -> Project:
    bin_dir = project.root / "bin"
    bin_dir.mkdir()
    for name, body in (("fmt-fake", f'echo run >> "{project.root}/calls.txt"\necho "fmt-fake 1.2.3"\n'),
                       ("claude-fake", 'echo "2.1.197 (Claude Code)"\n')):
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
        path.chmod(0o755)
    project.write(".uet/router.yaml", ROUTER)
    return project


def with_history(project: Project) -> None:
    """Three attempts of fmt (two succeeded) and docs-builder's breaker open, written through the
    store's own statements."""
    store = Store(project.db)
    try:
        store.create_run(run_id="r1", workstream="w", source=None, root=str(project.root), max_parallel=1, spec={},
                         steps=[(s, "task", [], {}) for s in ("a", "b", "c")])
        for step, state, seconds, usd in (("a", "succeeded", 1.0, 0.01), ("b", "succeeded", 3.0, 0.03),
                                          ("c", "failed", 8.0, 0.02)):
            store.submit([ops.attempt_row("r1", step, 1, "fmt", state, None, 10.0, 10.0 + seconds, usd=usd,
                                          duration=seconds)])
        store.submit([ops.upsert_breaker("docs-builder", "open", 3, [False] * 3, 50.0, None, 50.0)])
        store.sync()
    finally:
        store.close()


def uet_tools(project: Project, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**project.env(), "PATH": str(project.root / "bin"), "COLUMNS": "80", **env}
    done = subprocess.run(project.argv("tools", *args), cwd=project.root, env=environment, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return done


def test_json_gives_every_row_whole(tools_project: Project) -> None:
    with_history(tools_project)

    rows = {row["name"]: row for row in json.loads(uet_tools(tools_project, "--json").stdout)}

    assert set(rows) == {"fmt", "docs-builder", "claude", "codex", "gemini", "aider", "opencode"}
    fmt = rows["fmt"]
    assert (fmt["source"], fmt["found"], fmt["version"], fmt["path"]) == (
        "project", True, "fmt-fake 1.2.3", str(tools_project.root / "bin" / "fmt-fake"))
    assert (fmt["attempts"], fmt["succeeded"], fmt["median_seconds"], fmt["usd_per_attempt"]) == (3, 2, 3.0, 0.02)
    assert (rows["claude"]["agent"], rows["claude"]["version"]) == ("claude", "2.1.197 (Claude Code)")
    codex = rows["codex"]
    assert (codex["source"], codex["found"], codex["install"], codex["version"]) == (
        "built-in", False, PACKAGES["codex"], None)
    docs = rows["docs-builder"]
    assert (docs["found"], docs["breaker"], docs["breaker_opened_at"]) == (False, "open", 50.0)


def test_the_table_fits_80_columns_in_words_and_says_what_to_install(tools_project: Project) -> None:
    with_history(tools_project)

    out = uet_tools(tools_project, NO_COLOR="1", TZ="UTC").stdout
    lines = out.splitlines()

    assert max(len(line) for line in lines) <= 80, out
    assert "\x1b" not in out
    header, *rows = lines
    assert header.split()[:3] == ["TOOL", "SOURCE", "VERSION"]
    table = {line.split()[0]: line for line in rows if line and not line.startswith(" ")}
    assert "✔ 1.2.3" in table["fmt"] and "67%" in table["fmt"] and "3.0s" in table["fmt"]
    assert "$0.0200" in table["fmt"]
    assert "✘ missing" in table["docs-builder"] and "○ open" in table["docs-builder"]
    assert "✔ 2.1.197" in table["claude"] and "project" in table["claude"]
    assert "agents not installed: codex, gemini, aider, opencode; to install:" in lines
    assert f"  codex     {PACKAGES['codex']}" in lines
    assert "not on PATH: docs-builder (uet-no-such-program)" in lines
    assert "no installed tool can do: docs" in lines
    assert "breaker open: docs-builder since 00:00:50 (skipped until its next probe)" in lines


def test_no_version_asks_no_program_and_needs_no_store(tools_project: Project) -> None:
    out = uet_tools(tools_project, "--no-version").stdout

    table = {line.split()[0]: line for line in out.splitlines()[1:] if line and not line.startswith(" ")}
    assert "✔ found" in table["fmt"]
    assert not (tools_project.root / "calls.txt").exists()
    assert not tools_project.db.exists()  # looking does not create a store


def test_a_second_look_asks_no_program_again(tools_project: Project) -> None:
    uet_tools(tools_project, "--json")
    uet_tools(tools_project)

    assert (tools_project.root / "calls.txt").read_text().splitlines() == ["run"]


def test_tools_is_in_the_help(project: Project) -> None:
    out = subprocess.run(project.argv("--help"), cwd=project.root, env=project.env(), capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert "tools" in out and "uet tools " in out


def test_capabilities_wrap_at_commas_within_the_width() -> None:
    from tui.cli.tools import table

    lines = table([("a-very-long-tool-name-indeed", "built-in", "✔ 1.2.3.4.5.6.7.8", "plan,code_edit,review",
                    "◐ half_open", "100%", "1m02s", "3.6k tok")], 80)

    assert max(len(line) for line in lines) <= 80
    assert [line[lines[0].index("CAN DO"):].split()[0] for line in lines[1:]] == ["plan,", "code_edit,", "review"]

