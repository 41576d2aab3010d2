"""The ``uet`` parser and the dispatch to a command. Each command group lives in its own module
of ``tui.cli`` and is imported only when it runs, so ``uet --help`` stays fast.

``build_parser(argv)`` builds only the command ``argv`` names: building all thirty (argparse
looks up a translation of its own words for every parser, on disk) cost a read command a fifth
of its time. The main parser's help, the one place that lists every command, is printed only
when ``argv`` names none (``uet --help``, ``uet``): then, as when ``argv`` names a command ``uet``
does not have, everything is built, so help and errors read as they always did.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tui.cli.exits import EXIT_INPUT

#: What ``uet runs --state`` takes: schemas.states.RunState (a test holds the two equal), and
#: active for every run not finished, as the dashboard's state filter.
RUN_STATES = ("active", "pending", "running", "paused", "succeeded", "failed", "canceled", "quarantined")
#: What ``uet status RUN --state`` takes: schemas.states.StepState, and active for every step not finished.
STEP_STATES = ("active", "pending", "waiting", "ready", "running", "retrying", "succeeded", "failed", "skipped",
               "canceled")

EPILOG = """\
examples:
  uet bootstrap .                              scan the project, pick a profile, write .uet/
  uet validate .uet/workstreams/quality.yaml
  uet run .uet/workstreams/quality.yaml        run it here with a live display
  uet run --detach quality.yaml                run it in the background; prints the run id
  uet runs                                     newest first
  uet status 3f2a                              a run by id prefix
  uet logs 3f2a lint --follow                  a step's output as it is written
  uet cancel 3f2a | uet retry 3f2a lint | uet resume 3f2a
  uet profiles list | uet profiles show software-dev-python | uet profiles validate
  uet tools                                    which tools and agents are installed, and how they did
  uet memory search "fix the parser"           the lessons of earlier runs a step like it would get
  uet map --focus src/app.py                   the repository map an agent is given (context: [repo_map])
  uet serve --detach                           run workstreams whenever their triggers (on:) fire
  uet triggers                                 each trigger: next fire, last fire and its run
  uet export attempts --format parquet -o a.parquet   the history as files (also csv, jsonl)
  uet sql "select * from v_tool_daily"         read-only SQL over the store
  uet mcp                                      serve this project to an AI assistant over MCP (stdio)
  uet tui                                      the live dashboard (`uet` alone does the same)
"""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"uet: {message}", file=sys.stderr)
        raise SystemExit(EXIT_INPUT)


def global_options(*, defaults: bool) -> argparse.ArgumentParser:
    """``--db``, ``--project`` and ``--debug``, taken before the command and after it.

    argparse lets a subcommand's parser overwrite what the main parser read with the subcommand's
    own defaults, so ``uet --db X runs`` lost the ``--db``. Only the main parser has defaults;
    below it an option that is not given sets nothing, and one that is given wins over the same
    option before the command (the later one wins, as usual on a command line).
    """
    options = argparse.ArgumentParser(add_help=False)

    def option(*flags: str, **settings: Any) -> None:
        options.add_argument(*flags, **settings, **({} if defaults else {"default": argparse.SUPPRESS}))

    option("--db", type=Path, help="database file (default: <project>/.uet/uet.db, or $UET_DB)")
    option("--project", type=Path, help="project directory (default: the nearest with .uet/, else .)")
    option("--debug", action="store_true", help="show tracebacks")
    return options


class _Unbuilt:
    """Stands in for the parser of a command the command line does not name: what is added to
    it (arguments, groups, sub-commands) is dropped, and the command is not added at all."""

    def __getattr__(self, name: str) -> Callable[..., _Unbuilt]:
        return self._drop

    def _drop(self, *args: Any, **kwargs: Any) -> _Unbuilt:
        return self


#: The global options that take a value: ``--db PATH``, ``--project DIR``.
_VALUED = ("--db", "--project")


def named_command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: its first word that is neither an option nor the value of a
    global option (given whole or, as argparse allows, abbreviated). None when there is none, and
    when the main parser is asked for its help or handed ``--`` before one (then it speaks)."""
    words = iter(argv)
    for word in words:
        if word == "--" or word == "-h" or len(word) > 2 and "--help".startswith(word):
            return None
        if not word.startswith("-"):
            return word
        if "=" not in word and len(word) > 2 and any(flag.startswith(word) for flag in _VALUED):
            next(words, None)
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of ``uet``; with ``argv``, only the command it names is built whole."""
    common = global_options(defaults=False)
    wanted = named_command(argv) if argv is not None else None

    parser = Parser(
        prog="uet",
        description="Universal Execution Templates: run workstreams of lint, fix, test and review steps.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[global_options(defaults=True)],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        if wanted in COMMANDS and name != wanted:
            return _Unbuilt()  # type: ignore[return-value]
        return sub.add_parser(name, help=help_text, description=help_text, parents=[common])

    p = add("bootstrap", "scan a repository, choose a profile, write .uet/ workstreams for it")
    p.add_argument("path", nargs="?", type=Path, metavar="PATH", help="the project folder (default: --project, else .)")
    p.add_argument("--profile", metavar="NAME", help="use this profile instead of the one detected")
    p.add_argument("--dry-run", action="store_true", help="write nothing; show what would be written")
    p.add_argument("--force", action="store_true", help="overwrite generated files that were changed since")
    p.add_argument("--json", action="store_true", help="print the bootstrap report as JSON")

    p = add("validate", "check a workstream file: schema, DAG, tools")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true")

    p = add("run", "run a workstream")
    p.add_argument("file", type=Path)
    p.add_argument("--detach", action="store_true", help="run in the background, surviving the terminal")
    p.add_argument("--plain", action="store_true", help="plain lines instead of the live display")
    p.add_argument("--json", action="store_true", help="print the final status as JSON")
    p.add_argument("--quiet", action="store_true", help="no bell or desktop notification when it ends")

    p = add("runs", "list runs, newest first")
    p.add_argument("--limit", type=int, default=20, help="how many runs at most (default 20)")
    p.add_argument("--state", action="append", choices=RUN_STATES, metavar="STATE",
                   help="only runs in STATE (repeat it for several): " + ", ".join(RUN_STATES)
                        + " (active: not finished)")
    p.add_argument("--json", action="store_true")

    p = add("status", "a run's steps, attempts and breakers; or one step's attempts and output")
    p.add_argument("run")
    p.add_argument("step", nargs="?", help="a step of the run: its attempts, their cost and its output")
    p.add_argument("--state", action="append", choices=STEP_STATES, metavar="STATE",
                   help="list only the steps in STATE (repeat it for several): " + ", ".join(STEP_STATES)
                        + " (active: not finished); the counts stay the whole run's")
    p.add_argument("--json", action="store_true")

    p = add("logs", "a run's events, or one step's output")
    p.add_argument("run")
    p.add_argument("step", nargs="?")
    p.add_argument("--attempt", type=int, help="which attempt (default: the latest)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until it ends")
    p.add_argument("--json", action="store_true")
    p.add_argument("--marks", choices=("auto", "always", "never"), default="auto",
                   help="'2| ' before each line the step wrote to stderr: auto (on a terminal, not in a pipe), "
                        "always, never (--json always says each line's stream)")

    p = add("cancel", "cancel a run, here or in another process")
    p.add_argument("run")
    p.add_argument("--reason")
    p.add_argument("--no-wait", action="store_true", help="return once the request is recorded")

    p = add("retry", "run a failed, canceled or skipped step again (and what depends on it)")
    p.add_argument("run")
    p.add_argument("step")
    _placement_arguments(p)
    p.add_argument("--plain", action="store_true", help="plain lines instead of the live display")

    p = add("resume", "continue a run that was interrupted, paused, failed or canceled")
    p.add_argument("run")
    p.add_argument("--budget", action="append", default=[], metavar="NAME=VALUE",
                   help="raise a budget before going on: usd=5, tokens=200000, wall=30m (repeatable)")
    _placement_arguments(p)
    p.add_argument("--plain", action="store_true", help="plain lines instead of the live display")

    p = add("pause", "stop starting new steps; running ones finish")
    p.add_argument("run")
    p.add_argument("--reason")

    p = add("patches", "list proposed changes (the patch ledger)")
    p.add_argument("--run", help="only this run (id prefix)")
    p.add_argument("--state", choices=["proposed", "gating", "gate_passed", "gate_failed", "changes_requested",
                                       "approved", "rejected", "applied", "reverted", "superseded"])
    p.add_argument("--json", action="store_true")

    p = add("patch", "review one patch: show, comment, request changes, approve, reject, apply, revert")
    patch_sub = p.add_subparsers(dest="patch_command", metavar="ACTION", parser_class=Parser, required=True)
    a = patch_sub.add_parser("show", help="the diff, its files, gate results, rounds and comments", parents=[common])
    a.add_argument("id")
    a.add_argument("--json", action="store_true")
    a = patch_sub.add_parser("approve", help="accept the patch (a failed gate needs --override)", parents=[common])
    a.add_argument("id")
    a.add_argument("--comment")
    a.add_argument("--override", metavar="REASON", help="approve although its gate failed, saying why")
    a = patch_sub.add_parser("reject", help="turn the patch down", parents=[common])
    a.add_argument("id")
    a.add_argument("--reason", required=True)
    a = patch_sub.add_parser("apply", help="write an approved patch into the working tree", parents=[common])
    a.add_argument("id")
    a.add_argument("--commit", action="store_true", help="and commit it, naming the run and step")
    a = patch_sub.add_parser("revert", help="undo an applied patch", parents=[common])
    a.add_argument("id")
    a.add_argument("--commit", action="store_true")
    a = patch_sub.add_parser("hunks", help="list a patch's hunks with the ids `split` takes", parents=[common])
    a.add_argument("id")
    a.add_argument("--lines", action="store_true", help="and each hunk's lines, numbered as `split --lines` takes them")
    a = patch_sub.add_parser("split", help="approve some hunks (or lines of a hunk) as a new patch: it is gated "
                                           "again and approved when its gate passes; the rest is rejected",
                             parents=[common])
    a.add_argument("id")
    a.add_argument("--hunks", default="", help="comma-separated hunk ids from `uet patch hunks`, e.g. 0.1,1.0")
    a.add_argument("--lines", action="append", default=[], metavar="HUNK:LINES",
                   help="only these added/removed lines of a hunk, numbered as `uet patch hunks --lines` shows them, "
                        "e.g. 0.1:3-5,7 (repeatable)")
    a.add_argument("--reason")
    a = patch_sub.add_parser("regate", help="run the patch's gate again", parents=[common])
    a.add_argument("id")
    a = patch_sub.add_parser("comment", help="a draft comment on the patch, a file, a hunk or a line (sent with "
                                             "request-changes)", parents=[common])
    _comment_arguments(a, required=True)
    a = patch_sub.add_parser("request-changes", help="send the patch back with comments: its step runs again as a "
                                                     "revision round", parents=[common])
    _comment_arguments(a, required=False)
    a.add_argument("--detach", action="store_true", help="run the revision round in the background")
    a.add_argument("--plain", action="store_true")
    a = patch_sub.add_parser("revise", help="start the revision round of a patch with changes requested (when it "
                                            "could not start at once)", parents=[common])
    a.add_argument("id")
    a.add_argument("--detach", action="store_true", help="run the revision round in the background")
    a.add_argument("--plain", action="store_true")

    p = add("costs", "tokens and dollars by run, step, tool and model")
    p.add_argument("run", nargs="?", help="one run (id prefix): its totals by step, tool and model")
    p.add_argument("--limit", type=_count, default=20, metavar="N",
                   help="without a run: the newest N runs listed by run (default 20)")
    p.add_argument("--all", action="store_true", help="without a run: every run with costs listed by run")
    p.add_argument("--since", metavar="DATE", help="only attempts that ended from then on: 2026-11-30, "
                   "2026-11-30T08:00 (UTC) or 7d, 36h")
    p.add_argument("--json", action="store_true")

    p = add("tools", "the tools this project can use, agents included: installed or not, version, record")
    p.add_argument("--json", action="store_true", help="print every row whole, as JSON")
    p.add_argument("--no-version", action="store_true", help="do not ask the programs their versions")

    p = add("map", "the repository map an agent is given: files and their key definitions, ranked")
    p.add_argument("path", nargs="?", type=Path, metavar="PATH", help="a folder of the project (default: the project)")
    p.add_argument("--tokens", type=int, default=2048, metavar="N", help="the budget, about 4 characters a token "
                   "(256 to 65536; default 2048)")
    p.add_argument("--focus", nargs="+", action="extend", default=[], metavar="FILE",
                   help="weight the map toward these files (what they use ranks first)")
    p.add_argument("--json", action="store_true", help="the map, its files, what was skipped and the figures")
    p.add_argument("--no-cache", action="store_true", help="parse every file; read and write no cache")

    p = add("memory", "lessons of earlier runs: list, search, show, forget")
    memory_sub = p.add_subparsers(dest="memory_command", metavar="ACTION", parser_class=Parser, required=True)
    a = memory_sub.add_parser("list", help="the lessons kept, newest first", parents=[common])
    a.add_argument("--limit", type=_count, default=50)
    a.add_argument("--json", action="store_true")
    a = memory_sub.add_parser("search", help="the lessons a step like TEXT (and --file) would be offered",
                              parents=[common])
    a.add_argument("text")
    a.add_argument("--file", action="append", default=[], metavar="PATH", help="a file the step is about (repeatable)")
    a.add_argument("--kind", help="the step's kind (a lesson of the same kind counts more)")
    a.add_argument("--limit", type=_count, default=10)
    a.add_argument("--json", action="store_true")
    a = memory_sub.add_parser("show", help="one lesson whole: its failure and its fix", parents=[common])
    a.add_argument("id", type=_count)
    a.add_argument("--json", action="store_true")
    a = memory_sub.add_parser("forget", help="delete a lesson (recorded as an event)", parents=[common])
    a.add_argument("id", type=_count)

    p = add("breakers", "each tool's circuit breaker and the runs it holds; reset one by hand")
    p.add_argument("--json", action="store_true", help="every breaker as JSON, with the ids of the runs it holds")
    breakers_sub = p.add_subparsers(dest="breakers_command", metavar="ACTION", parser_class=Parser)
    a = breakers_sub.add_parser("list", help="the breakers (the default)", parents=[common])
    a.add_argument("--json", action="store_true")
    a = breakers_sub.add_parser("reset", help="close TOOL's breaker: its failures are forgotten, the runs it held "
                                              "go on (recorded with who)", parents=[common])
    a.add_argument("tool", metavar="TOOL")

    p = add("gc", "remove scratch worktrees no patch or run needs any more")
    p.add_argument("--dry-run", action="store_true")

    p = add("demo", "run the bundled demo in a fresh temporary project")
    p.add_argument("--dir", type=Path, help="lay the demo out here instead of a temporary directory")
    p.add_argument("--plain", action="store_true", help="plain lines instead of the live display")

    p = add("profiles", "domain profiles: list them, show one resolved, validate them")
    profiles_sub = p.add_subparsers(dest="profiles_command", metavar="ACTION", parser_class=Parser, required=True)
    a = profiles_sub.add_parser("list", help="built-in and project-local profiles", parents=[common])
    a.add_argument("--json", action="store_true")
    a = profiles_sub.add_parser("show", help="one profile with its `extends` applied", parents=[common])
    a.add_argument("name")
    a.add_argument("--json", action="store_true")
    a = profiles_sub.add_parser("validate", help="check profile files (default: every one this project sees)",
                                parents=[common])
    a.add_argument("files", nargs="*", type=Path, metavar="FILE")
    a.add_argument("--json", action="store_true")

    p = add("export", "write runs, steps, attempts, events, costs or patches as Parquet, CSV or JSON lines")
    p.add_argument("dataset", choices=["runs", "steps", "attempts", "events", "costs", "patches"],
                   help="what to export (columns: README, Export and SQL; schemas/json/export.*.v1.json)")
    p.add_argument("--format", choices=["parquet", "csv", "jsonl"], default="jsonl",
                   help="jsonl (default), csv, or parquet (needs pip install 'uet[analytics]' and -o)")
    p.add_argument("--since", metavar="DATE", help="only rows from then on: 2026-11-30, 2026-11-30T08:00 (UTC) or 7d, 36h")
    p.add_argument("--run", metavar="ID", help="only this run (id prefix)")
    p.add_argument("-o", "--output", type=Path, metavar="PATH", help="the file to write (default: standard output)")

    p = add("sql", "read-only SQL over the store, with the views v_runs, v_steps, v_attempts, v_costs, v_tool_daily, …")
    p.add_argument("query", nargs="?", help='one SELECT, e.g. "select tool, avg(duration) from v_attempts group by 1"')
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="rows as a JSON list of objects")
    output.add_argument("--csv", action="store_true", help="rows as CSV with a header line")
    p.add_argument("--limit", type=_count, default=1000, metavar="N", help="at most N rows (default 1000)")
    p.add_argument("--backend", choices=["auto", "duckdb", "sqlite"],
                   help="auto (default, or $UET_SQL_BACKEND): DuckDB when installed, else SQLite")
    p.add_argument("--views", action="store_true", help="list the views and their columns")

    p = add("schemas", "JSON Schemas of the file formats")
    schemas_sub = p.add_subparsers(dest="schemas_command", metavar="ACTION", parser_class=Parser, required=True)
    e = schemas_sub.add_parser("export", help="write schemas/json/*.v1.json", parents=[common])
    e.add_argument("--check", action="store_true", help="only report files that differ; exit 1 if any")
    e.add_argument("--dir", type=Path, help="write into this folder instead")

    add("mcp", "serve this project to an AI assistant over the Model Context Protocol (stdio)")

    p = add("serve", "host the project's triggers (on: in its workstreams) and run what they fire")
    p.add_argument("--detach", action="store_true", help="serve in the background, surviving the terminal; "
                   "prints the pid (log: .uet/logs/serve.log)")

    p = add("watch", "run a workstream again whenever its files change (its files triggers, else its inputs)")
    p.add_argument("file", type=Path)

    p = add("triggers", "list the project's triggers: next fire, last fire and its run; fire, pause, resume one")
    p.add_argument("--json", action="store_true")
    triggers_sub = p.add_subparsers(dest="triggers_command", metavar="ACTION", parser_class=Parser)
    a = triggers_sub.add_parser("fire", help="fire a trigger by hand (the live server runs it, else it runs here)",
                                parents=[common])
    a.add_argument("name", help="TRIGGER, or WORKSTREAM/TRIGGER")
    a.add_argument("--detach", action="store_true", help="when no server runs, run it in the background")
    a.add_argument("--plain", action="store_true")
    for action, words in (("pause", "stop a trigger firing (a fire by hand still runs)"),
                          ("resume", "let a paused trigger fire again")):
        a = triggers_sub.add_parser(action, help=words, parents=[common])
        a.add_argument("name", help="TRIGGER, or WORKSTREAM/TRIGGER")

    p = add("tui", "open the dashboard (also: `uet` alone inside a project)")
    p.add_argument("dir", nargs="?", type=Path, help="project directory (default: the current project)")
    p.add_argument("--slow-link", action="store_true", help="redraw every 4 s, no animations (slow SSH links)")

    p = _Unbuilt() if wanted in COMMANDS and wanted != "_exec" else \
        sub.add_parser("_exec", parents=[common])  # the detached engine; not for people
    p.add_argument("run")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--reopen", action="append", default=[])
    p.add_argument("--revise")
    return parser


#: The module of each command group (under ``tui.cli``); a command not named runs in ``run``.
GROUPS = {
    "runs": "read", "status": "read", "logs": "read", "schemas": "schemas",
    "patches": "ledger", "patch": "patch", "costs": "ledger", "gc": "patch", "profiles": "profiles",
    "tui": "dashboard", "bootstrap": "bootstrap", "demo": "demo", "tools": "tools", "map": "map",
    "memory": "memory", "validate": "validate", "breakers": "breakers",
    "export": "export", "sql": "sql", "mcp": "mcp", "serve": "serve", "watch": "serve", "triggers": "serve",
}


#: Every command ``uet`` has (``_exec`` is the detached engine's).
COMMANDS = frozenset({*GROUPS, "run", "cancel", "retry", "resume", "pause", "_exec"})


def _comment_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """Where a review comment points: the whole patch, ``--file``, and a ``--line`` (its new
    number) or a ``--hunk`` (counted from 0 in that file) of it."""
    parser.add_argument("id")
    parser.add_argument("--comment", required=required, metavar="TEXT", help="what to change")
    parser.add_argument("--file", metavar="PATH", help="a file of the patch the comment is on")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--line", type=_count, metavar="N", help="a line of --file, numbered as in the patched file")
    where.add_argument("--hunk", type=int, metavar="K", help="a hunk of --file, counted from 0")


def _placement_arguments(parser: argparse.ArgumentParser) -> None:
    """Where ``resume`` and ``retry`` go on: where the run last ran unless told."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--detach", action="store_true",
                       help="go on in a background engine that survives the terminal (the default for a run that "
                            "ran detached)")
    where.add_argument("--foreground", action="store_true",
                       help="take a run that ran detached over into this terminal, with the live display")
    parser.add_argument("--quiet", action="store_true", help="no bell or desktop notification when it ends")


def _count(text: str) -> int:
    """A whole number from 1 to 10^9 (an id or a limit)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 10**9:
        raise argparse.ArgumentTypeError(f"{text} is out of range (1 to 10^9)")
    return value


def handler(command: str) -> Callable[[argparse.Namespace], int]:
    """The function that carries out ``command``; its module is imported here, not before."""
    module = importlib.import_module(f"tui.cli.{GROUPS.get(command, 'run')}")
    return getattr(module, "cmd_" + command.lstrip("_"))
