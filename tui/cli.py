"""The ``uet`` command line. Parsing only; each command lives in ``tui.commands_*`` and is
imported when it runs, so ``uet --help`` stays fast.

Exit codes: 0 success, 1 the run failed (or was canceled/paused) or a request was refused in
the run's present state, 2 bad input (nothing written), 3 internal error. A traceback is a
bug, except under ``--debug``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

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


def build_parser() -> argparse.ArgumentParser:
    common = global_options(defaults=False)

    parser = Parser(
        prog="uet",
        description="Universal Execution Templates: run workstreams of lint, fix, test and review steps.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[global_options(defaults=True)],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
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

    p = add("runs", "list runs, newest first")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")

    p = add("status", "a run's steps, attempts and breakers")
    p.add_argument("run")
    p.add_argument("--json", action="store_true")

    p = add("logs", "a run's events, or one step's output")
    p.add_argument("run")
    p.add_argument("step", nargs="?")
    p.add_argument("--attempt", type=int, help="which attempt (default: the latest)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until it ends")
    p.add_argument("--json", action="store_true")

    p = add("cancel", "cancel a run, here or in another process")
    p.add_argument("run")
    p.add_argument("--reason")
    p.add_argument("--no-wait", action="store_true", help="return once the request is recorded")

    p = add("retry", "run a failed, canceled or skipped step again (and what depends on it)")
    p.add_argument("run")
    p.add_argument("step")
    p.add_argument("--detach", action="store_true")
    p.add_argument("--plain", action="store_true")

    p = add("resume", "continue a run that was interrupted, paused, failed or canceled")
    p.add_argument("run")
    p.add_argument("--budget", action="append", default=[], metavar="NAME=VALUE",
                   help="raise a budget before going on: usd=5, tokens=200000, wall=30m (repeatable)")
    p.add_argument("--detach", action="store_true")
    p.add_argument("--plain", action="store_true")

    p = add("pause", "stop starting new steps; running ones finish")
    p.add_argument("run")
    p.add_argument("--reason")

    p = add("patches", "list proposed changes (the patch ledger)")
    p.add_argument("--run", help="only this run (id prefix)")
    p.add_argument("--state", choices=["proposed", "gating", "gate_passed", "gate_failed", "approved", "rejected",
                                       "applied", "reverted"])
    p.add_argument("--json", action="store_true")

    p = add("patch", "review one patch: show, approve, reject, apply, revert")
    patch_sub = p.add_subparsers(dest="patch_command", metavar="ACTION", parser_class=Parser, required=True)
    a = patch_sub.add_parser("show", help="the diff, its files and gate results", parents=[common])
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
    a = patch_sub.add_parser("split", help="keep some hunks as a new patch (gated again); reject the rest",
                             parents=[common])
    a.add_argument("id")
    a.add_argument("--hunks", required=True, help="comma-separated hunk ids from `uet patch hunks`, e.g. 0.1,1.0")
    a.add_argument("--reason")
    a = patch_sub.add_parser("regate", help="run the patch's gate again", parents=[common])
    a.add_argument("id")

    p = add("costs", "tokens and dollars by run, step, tool and model")
    p.add_argument("run", nargs="?")
    p.add_argument("--json", action="store_true")

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

    p = add("schemas", "JSON Schemas of the file formats")
    schemas_sub = p.add_subparsers(dest="schemas_command", metavar="ACTION", parser_class=Parser, required=True)
    e = schemas_sub.add_parser("export", help="write schemas/json/*.v1.json", parents=[common])
    e.add_argument("--check", action="store_true", help="only report files that differ; exit 1 if any")
    e.add_argument("--dir", type=Path, help="write into this folder instead")

    p = add("tui", "open the dashboard (also: `uet` alone inside a project)")
    p.add_argument("dir", nargs="?", type=Path, help="project directory (default: the current project)")
    p.add_argument("--slow-link", action="store_true", help="redraw at most once a second (slow SSH links)")

    p = sub.add_parser("_exec", parents=[common])  # the detached engine; not for people
    p.add_argument("run")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--reopen", action="append", default=[])
    return parser


def _handler(command: str) -> Callable[[argparse.Namespace], int]:
    if command in ("runs", "status", "logs"):
        from tui import commands_read as module
    elif command == "schemas":
        from tui import commands_schemas as module  # type: ignore[no-redef]
    elif command in ("patches", "patch", "costs", "gc"):
        from tui import commands_patch as module  # type: ignore[no-redef]
    elif command == "profiles":
        from tui import commands_profiles as module  # type: ignore[no-redef]
    elif command == "tui":
        from tui import commands_tui as module  # type: ignore[no-redef]
    elif command == "bootstrap":
        from tui import commands_bootstrap as module  # type: ignore[no-redef]
    elif command == "demo":
        from tui import commands_demo as module  # type: ignore[no-redef]
    else:
        from tui import commands_run as module  # type: ignore[no-redef]
    return getattr(module, "cmd_" + command.lstrip("_"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        if _inside_project() and sys.stdin.isatty() and sys.stdout.isatty():
            args = parser.parse_args(["tui", *(argv or sys.argv[1:])])
        else:
            parser.print_help()
            return EXIT_OK
    try:
        return _handler(args.command)(args)
    except KeyboardInterrupt:
        print("uet: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
        return report(exc, args.debug)


def _inside_project() -> bool:
    here = Path.cwd()
    return any((folder / ".uet").is_dir() for folder in (here, *here.parents))


def report(exc: BaseException, debug: bool) -> int:
    from engine.errors import UetError
    from store.errors import NoSuchRecord, OwnershipLost, StoreError
    from store.store import RunOwned

    if debug:
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, UetError):
        print(f"uet: {exc}" if "\n" not in str(exc) else f"uet: errors:\n{exc}", file=sys.stderr)
        return exc.exit_code
    if isinstance(exc, NoSuchRecord):
        print(f"uet: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if isinstance(exc, RunOwned | OwnershipLost):  # another live engine executes the run
        print(f"uet: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if isinstance(exc, StoreError):
        print(f"uet: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    print(f"uet: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
