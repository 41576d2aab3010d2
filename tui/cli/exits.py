"""The command line's exit codes, in a module of their own so that every command can name them
without importing the parser (which imports the commands).

0 success; 1 the run failed (or was canceled/paused) or a request was refused in the run's
present state; 2 bad input (nothing written); 3 internal error.
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


def exit_code(exc: BaseException) -> int:
    """The exit code an error ends a command (or the dashboard) with."""
    from engine.errors import UetError
    from store.errors import NoSuchRecord, OwnershipLost, StoreInUse
    from store.store import RunOwned

    if isinstance(exc, UetError):
        return exc.exit_code
    if isinstance(exc, NoSuchRecord):
        return EXIT_INPUT
    if isinstance(exc, RunOwned | OwnershipLost | StoreInUse):  # another live engine has the run or the store
        return EXIT_FAILED
    return EXIT_INTERNAL
