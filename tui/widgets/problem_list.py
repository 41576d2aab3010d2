"""The problems of a YAML text, one row each at its line, and the whole of the highlighted one.

A row is cut to the panel's width, so the line below it says the highlighted problem in full
(line, column, field, message). Enter on a row posts ``ProblemSelected``: the list knows
nothing of the editor, and the screen that holds both moves the editor's cursor there.
"""

from __future__ import annotations

from typing import Self

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from engine.errors import Problem
from tui.widgets.line_table import Column, LineTable
from tui.widgets.yaml_editor import MARK

PROBLEM_COLUMNS = [Column("LINE", 6, right=True), Column("PROBLEM", 20, grow=True)]


def describe(problem: Problem) -> str:
    """A problem in one line, where it is first: ``line 5, column 11 · priority · …``."""
    where = f"line {problem.line}" + (f", column {problem.column}" if problem.column else "") if problem.line else ""
    return " · ".join(part for part in (where, problem.field or "", problem.message) if part)


class ProblemList(Vertical):
    DEFAULT_CSS = """
    ProblemList { height: auto; }
    ProblemList > #problems { height: 7; border: round $primary-darken-2; }
    ProblemList > #problems:focus-within { border: round $accent; }
    ProblemList > #detail { height: auto; max-height: 3; padding: 0 1; }
    """

    class ProblemSelected(Message):
        """Enter (or a double click) on the row of ``problem``: the user wants to see it in the text."""

        def __init__(self, problem: Problem) -> None:
            super().__init__()
            self.problem = problem

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.problems: list[Problem] = []
        """The problems shown, in the order of their rows (a row's key is its index here)."""

    def compose(self) -> ComposeResult:
        yield LineTable(PROBLEM_COLUMNS, id="problems", cells=self._problem_cells, empty="no problems")
        yield Static(id="detail", markup=False)

    def on_mount(self) -> None:
        self.table.border_title = "Problems"

    @property
    def table(self) -> LineTable:
        return self.query_one("#problems", LineTable)

    def focus(self, scroll_visible: bool = True) -> Self:
        """Focus goes to the rows: the detail line only follows them."""
        self.table.focus(scroll_visible)
        return self

    def show_problems(self, problems: list[Problem]) -> None:
        """Show these problems instead of the ones shown."""
        self.problems = problems
        table = self.table
        table.set_rows([(str(i), p) for i, p in enumerate(problems)])
        table.border_title = f"Problems ({len(problems)})" if problems else "Problems (none)"
        if not problems:
            self.query_one("#detail", Static).update("")

    def _problem_cells(self, problem: Problem) -> tuple[str, str]:
        line = f"{MARK} {problem.line}" if problem.line is not None else MARK
        return (line, f"{problem.field}: {problem.message}" if problem.field else problem.message)

    @on(LineTable.RowHighlighted, "#problems")
    def describe_problem(self, message: LineTable.RowHighlighted) -> None:
        problem = self.problems[int(message.key)] if message.key is not None and self.problems else None
        self.query_one("#detail", Static).update(describe(problem) if problem else "")

    @on(LineTable.RowSelected, "#problems")
    def select_problem(self, message: LineTable.RowSelected) -> None:
        self.post_message(self.ProblemSelected(self.problems[int(message.key)]))
