"""``--db``, ``--project`` and ``--debug`` work before the command (where the usage line puts
them) and after it; given twice, the later one wins. Before, a subcommand's defaults silently
replaced what was given before it, so ``uet --db X runs`` read the project's own database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tui.cli.parser import build_parser

REPO = Path(__file__).resolve().parents[2]

# a command of each shape: plain, with a positional, nested under an action
COMMANDS = [["runs"], ["status", "abc"], ["patch", "show", "1"], ["profiles", "list"]]
VALUES = {"--db": (Path("first.db"), Path("second.db")), "--project": (Path("first"), Path("second"))}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c))
@pytest.mark.parametrize("option", sorted(VALUES))
def test_a_valued_option_is_taken_before_and_after_the_command(command: list[str], option: str) -> None:
    first, second = VALUES[option]
    dest = option.lstrip("-")
    parse = build_parser().parse_args
    assert getattr(parse([option, str(first), *command]), dest) == first
    assert getattr(parse([*command, option, str(second)]), dest) == second
    assert getattr(parse([option, str(first), *command, option, str(second)]), dest) == second
    assert getattr(parse(command), dest) is None


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c))
def test_debug_is_taken_before_and_after_the_command(command: list[str]) -> None:
    parse = build_parser().parse_args
    assert parse(["--debug", *command]).debug is True
    assert parse([*command, "--debug"]).debug is True
    assert parse(command).debug is False


def uet(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "UET_DB"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["NO_COLOR"] = "1"
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_db_and_project_before_the_command_reach_it(tmp_path: Path) -> None:
    """A real run recorded in a database of its own, read back with the options on either side."""
    project = tmp_path / "proj"
    (project / ".uet").mkdir(parents=True)
    (project / "ws.yaml").write_text("name: placed\nsteps:\n  - id: a\n    run: [echo, ok]\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    db = tmp_path / "own.db"
    ran = uet(project, "--db", str(db), "run", "--plain", "ws.yaml")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert db.exists() and not (project / ".uet" / "uet.db").exists()

    for args in (["--db", str(db), "runs", "--json"], ["runs", "--json", "--db", str(db)],
                 ["--db", str(tmp_path / "missing.db"), "runs", "--json", "--db", str(db)]):
        listed = uet(elsewhere, *args)
        assert listed.returncode == 0, (args, listed.stderr)
        assert [run["workstream"] for run in json.loads(listed.stdout)] == ["placed"], args

    uet(project, "run", "--plain", "ws.yaml")  # the project's own database, found through --project
    for args in (["--project", str(project), "runs", "--json"], ["runs", "--json", "--project", str(project)]):
        listed = uet(elsewhere, *args)
        assert listed.returncode == 0, (args, listed.stderr)
        assert len(json.loads(listed.stdout)) == 1, args


def test_debug_before_the_command_shows_the_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database " * 100)
    plain = uet(tmp_path, "--db", str(bad), "runs")
    assert plain.returncode == 3 and "Traceback" not in plain.stderr
    for args in (["--debug", "--db", str(bad), "runs"], ["--db", str(bad), "runs", "--debug"]):
        shown = uet(tmp_path, *args)
        assert shown.returncode == 3, shown.stderr
        assert "Traceback (most recent call last)" in shown.stderr, args
