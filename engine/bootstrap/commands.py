"""Ranking of inferred commands: which of the commands found for one kind of work is *the*
one the generated workstreams should run.

Nearer the root wins (a root ``Makefile`` target usually runs every sub-project), then the
strength of the signal, then the order found.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.scan import COMMAND_KINDS, InferredCommand

CONFIGURED = 0
"""The project configured the tool or wrote the script (``[tool.pytest.ini_options]``,
``scripts.test``): the strongest signal."""
DEPENDENCY = 1
"""The tool is only a dependency, or the command is the ecosystem's usual one."""
TASK_RUNNER = 2
"""A Makefile or justfile target of that name: usually right, but it may need set-up."""
AGGREGATE = 3
"""tox, nox, pre-commit: they run everything, slowly, in their own environments."""


@dataclass
class Commands:
    _found: list[tuple[int, int, int, InferredCommand]] = field(default_factory=list)
    _seen: set[tuple[str, tuple[str, ...], str]] = field(default_factory=set)

    def add(self, kind: str, argv: list[str], source: str, cwd: str = ".", rank: int = CONFIGURED) -> None:
        key = (kind, tuple(argv), cwd)
        if key in self._seen:
            return
        self._seen.add(key)
        depth = 0 if cwd == "." else cwd.count("/") + 1
        command = InferredCommand(kind=kind, argv=argv, source=source, cwd=cwd)
        self._found.append((depth, rank, len(self._found), command))

    def ranked(self) -> tuple[dict[str, InferredCommand], list[InferredCommand]]:
        """The best command of each kind, and all of them best first within each kind."""
        order = {kind: n for n, kind in enumerate(COMMAND_KINDS)}
        ranked = sorted(self._found, key=lambda f: (order.get(f[3].kind, len(order)), f[3].kind, f[:3]))
        best: dict[str, InferredCommand] = {}
        for *_, command in ranked:
            best.setdefault(command.kind, command)
        return best, [command for *_, command in ranked]
