"""The ``uet`` command line: ``main`` turns argv into a command and its outcome into an exit code.

The package holds the parser and dispatch (``parser``), one module per command group (``run``,
``read``, ``ledger``, ``patch``, ``profiles``, ``bootstrap``, ``demo``, ``schemas``, ``tools``, ``dashboard``),
the exit codes (``exits``), what several commands print (``output``) and the two faces a command
can stay in the foreground with (``foreground``: the live run display, the dashboard). The command
modules never import each other. A traceback is a bug, except under ``--debug``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tui.cli.exits import EXIT_OK, exit_code
from tui.cli.parser import build_parser, handler

__all__ = ["main", "report"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)  # the command named, built whole; the others only listed
    args = parser.parse_args(argv)
    if not args.command:
        if _inside_project() and sys.stdin.isatty() and sys.stdout.isatty():
            args = build_parser(["tui"]).parse_args(["tui", *argv])
        else:
            parser.print_help()
            return EXIT_OK
    try:
        return handler(args.command)(args)
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
    from store.errors import StoreError

    if debug:
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, UetError):
        print(f"uet: {exc}" if "\n" not in str(exc) else f"uet: errors:\n{exc}", file=sys.stderr)
    elif isinstance(exc, StoreError):
        print(f"uet: {exc}", file=sys.stderr)
    else:
        print(f"uet: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
    return exit_code(exc)
