"""``build_parser(argv)`` builds only the command ``argv`` names; what it parses, the help it
prints and the errors it gives are those of the parser built whole."""

from __future__ import annotations

import argparse

import pytest

from tui.cli.parser import COMMANDS, build_parser, named_command

WHOLE = build_parser()

#: A command line of each shape: options before the command, a positional, nested actions,
#: mutually exclusive groups, repeatable options.
LINES = [
    ["runs", "--limit", "5", "--json"],
    ["--db", "x.db", "status", "3f2a", "lint"],
    ["--proj", "/p", "logs", "3f2a", "a", "--attempt", "2", "-f"],
    ["--db=x.db", "patch", "show", "p1", "--json"],
    ["patch", "comment", "p1", "--comment", "why", "--file", "a.py", "--line", "3"],
    ["resume", "3f2a", "--budget", "usd=5", "--budget", "tokens=9", "--detach"],
    ["memory", "search", "parser", "--file", "a.py", "--limit", "3"],
    ["sql", "select 1", "--csv"],
    ["triggers", "fire", "ws/t", "--detach"],
    ["--debug", "_exec", "3f2a", "--reopen", "a"],
]


def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_is_known_so_that_it_alone_is_built() -> None:
    assert set(commands(WHOLE)) == COMMANDS


@pytest.mark.parametrize("command", ["runs", "patch", "_exec"])
def test_only_the_command_named_is_built(command: str) -> None:
    built = commands(build_parser([command]))
    assert list(built) == [command]
    assert [a.dest for a in built[command]._actions] == [a.dest for a in commands(WHOLE)[command]._actions]


@pytest.mark.parametrize("argv", LINES, ids=" ".join)
def test_a_command_built_alone_parses_as_the_whole_parser(argv: list[str]) -> None:
    assert vars(build_parser(argv).parse_args(argv)) == vars(WHOLE.parse_args(argv))


@pytest.mark.parametrize("argv", [["--help"], ["--db", "x.db", "-h"], ["-h", "runs"], ["nonsense"], []],
                         ids=" ".join)
def test_help_lists_every_command_when_none_is_named(argv: list[str]) -> None:
    assert build_parser(argv).format_help() == WHOLE.format_help()


@pytest.mark.parametrize("argv", [["runs", "--help"], ["patch", "show", "--help"], ["status", "-h"]], ids=" ".join)
def test_a_command_s_help_is_the_same_built_alone(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    said = []
    for parser in (build_parser(argv), WHOLE):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
        said.append(capsys.readouterr().out)
    assert said[0] == said[1]
    assert "usage: uet " in said[0]


@pytest.mark.parametrize("argv", [["runs", "--limit", "x"], ["status"], ["patch", "show"], ["runs", "--bogus"]],
                         ids=" ".join)
def test_errors_name_the_argument_as_before(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    said = []
    for parser in (build_parser(argv), WHOLE):
        with pytest.raises(SystemExit) as stopped:
            parser.parse_args(argv)
        assert stopped.value.code == 2
        said.append(capsys.readouterr().err)
    assert said[0] == said[1]
    assert "uet:" in said[0]


@pytest.mark.parametrize(("argv", "command"), [
    (["runs"], "runs"), (["--db", "runs", "status"], "status"), (["--db=x", "logs"], "logs"),
    (["--project", "p", "--debug", "tui"], "tui"), (["--proj", "runs", "status"], "status"),
    (["--", "runs"], None), (["-h", "runs"], None), (["--he", "runs"], None), (["--debug"], None), ([], None),
    (["runs", "-h"], "runs"),
])
def test_the_command_named_skips_options_and_their_values(argv: list[str], command: str | None) -> None:
    assert named_command(argv) == command
