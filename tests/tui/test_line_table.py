"""LineTable in a pane narrower than its columns: a column is drawn whole or not at all, so a
cut-off right-aligned ``48.0s`` never reads as a lone ``4``."""

from __future__ import annotations

import asyncio

import pytest
from textual.app import App, ComposeResult

from tui.widgets.line_table import Column, LineTable

COLUMNS = [Column("#", 3, right=True), Column("STATE", 11), Column("TOOL", 8, grow=True),
           Column("EXIT", 4, right=True), Column("TOOK", 6, right=True), Column("TOKENS", 7, right=True)]
ROW = ("2", "✘ failed", "pytest", "1", "48.0s", "15400")


class Host(App[None]):
    def __init__(self, width: int, columns: list[Column], row: tuple[str, ...]) -> None:
        super().__init__()
        self.width = width
        self.columns = columns
        self.row = row

    def compose(self) -> ComposeResult:
        table = LineTable(self.columns, id="table")
        table.styles.width = self.width
        yield table

    def on_mount(self) -> None:
        self.query_one(LineTable).set_rows([("key", self.row)])


def drawn(width: int, columns: list[Column] = COLUMNS, row: tuple[str, ...] = ROW) -> tuple[str, str]:
    """The header and the row of a table ``width`` cells wide."""
    app = Host(width, columns, row)
    lines: list[str] = []

    async def main() -> None:
        async with app.run_test(size=(80, 10)) as pilot:
            await pilot.pause()
            table = app.query_one(LineTable)
            assert table.scrollable_content_region.width == width
            lines.extend(table.render_line(y).text for y in (0, 1))

    asyncio.run(main())
    return lines[0], lines[1]


def line(cells: tuple[str, ...], tool: int) -> str:
    """The cells laid out by hand: # 3 right, STATE 11, TOOL ``tool``, EXIT 4 right, TOOK 6 right,
    TOKENS 7 right, one space apart; only as many cells as given."""
    widths = [(3, True), (11, False), (tool, False), (4, True), (6, True), (7, True)]
    return " ".join(cell.rjust(w) if right else cell.ljust(w) for cell, (w, right) in zip(cells, widths, strict=False))


HEADER = ("#", "STATE", "TOOL", "EXIT", "TOOK", "TOKENS")


@pytest.mark.parametrize(("width", "shown", "tool"), [
    (44, 6, 8),  # everything fits exactly
    (52, 6, 16),  # the spare cells go to TOOL
    (40, 5, 12),  # TOKENS does not fit whole: it is left out, not cut, and TOOL takes the room
    (32, 4, 11),  # nor does TOOK: the row ends with EXIT, never with the first digit of 48.0s
])
def test_columns_that_do_not_fit_are_left_out_whole(width: int, shown: int, tool: int) -> None:
    header, row = drawn(width)
    assert header == line(HEADER[:shown], tool).ljust(width)
    assert row == line(ROW[:shown], tool).ljust(width)


TEXT_COLUMNS = [Column("PROFILE", 10), Column("SCORE", 5, right=True), Column("NOTE", 16)]
TEXT_ROW = ("generic", "0.1", "chosen by hand")


@pytest.mark.parametrize(("width", "header", "row"), [
    (33, "PROFILE    SCORE NOTE            ", "generic      0.1 chosen by hand  "),
    # A column of text takes what is left and says it was cut.
    (26, "PROFILE    SCORE NOTE     ", "generic      0.1 chosen b…"),
    # Too little is left for text to say anything: the column is left out.
    (19, "PROFILE    SCORE   ", "generic      0.1   "),
])
def test_a_text_column_at_the_edge_is_cut_with_an_ellipsis(width: int, header: str, row: str) -> None:
    assert drawn(width, TEXT_COLUMNS, TEXT_ROW) == (header, row)
