"""``uet tools [--json] [--no-version]``: every tool of this project's router, agents included,
with where it is defined, whether its program is installed and which version, what it can do,
its breaker and how it has done (``engine.toolinfo``), overall and per kind of step.

The table fits the terminal, and 80 columns when the terminal is narrower or not one: a long
tool name or version is cut with "…", and the capabilities wrap at their commas onto the lines
below. Notes under it say
which agents are missing and how to install them, and which capability no installed tool has.
"""

from __future__ import annotations

import argparse
import json
import shutil

from engine.toolinfo import tool_rows
from schemas.tools import ToolInfo
from store import Store
from tui.cli.exits import EXIT_OK
from tui.project import db_path, project_root
from tui.tool_words import HEADERS, cells, notes

MIN_WIDTH = 80
GAP = "  "
TOOL, VERSION, CAN_DO = 0, 2, 3
#: The most a cell of these columns takes before it is cut (the rest is in --json).
CUT = {TOOL: 16, VERSION: 14}
#: How narrow a column may get when the table is too wide: names and versions are cut, the
#: capabilities wrap at their commas (``code_edit,`` still fits on a line).
NARROWEST = {CAN_DO: 10, TOOL: 8, VERSION: 9}


def cmd_tools(args: argparse.Namespace) -> int:
    root = project_root(args)
    path = db_path(args, root)
    store = Store(path) if path.exists() else None  # no store yet: no breakers and no record
    try:
        rows = tool_rows(root, store, versions=not args.no_version)
    finally:
        if store is not None:
            store.close()
    if args.json:
        print(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return EXIT_OK
    width = max(MIN_WIDTH, shutil.get_terminal_size((MIN_WIDTH, 24)).columns)
    for line in table([cells(row) for row in rows], width):
        print(line)
    print()
    for line in notes(rows):
        print(line)
    learned = by_kind(rows)
    if learned:
        print()
        for line in learned:
            print(line)
    return EXIT_OK


def by_kind(rows: list[ToolInfo]) -> list[str]:
    """What each tool achieved per kind of step (what `auto` routing learns from): attempts,
    success rate, accepted ones (an approved or applied patch; for a step that proposes none, a
    success), the mean round of an accepted patch, dollars per accepted attempt."""
    table_rows = [("TOOL", "KIND", "ATTEMPTS", "SUCCESS", "ACCEPTED", "ROUNDS", "$/ACCEPTED")]
    for row in rows:
        for k in row.kinds:
            table_rows.append((
                _cut(row.name, CUT[TOOL]), k.kind, str(k.attempts),
                f"{k.success_rate:.0%}" if k.success_rate is not None else "-", str(k.accepted),
                f"{k.mean_rounds:.1f}" if k.mean_rounds is not None else "-",
                f"{k.usd_per_accepted:.4f}" if k.usd_per_accepted is not None else "-"))
    if len(table_rows) == 1:
        return []
    widths = [max(len(r[i]) for r in table_rows) for i in range(len(table_rows[0]))]
    return ["by kind of step (auto routing learns from this):"] + [
        "  " + GAP.join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table_rows]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _wrap(text: str, width: int) -> list[str]:
    """``a,b,c`` in lines of at most ``width``, broken after commas (a word longer than the
    line is cut)."""
    lines: list[str] = []
    line = ""
    for word in text.split(","):
        piece = word if not line else "," + word
        if line and len(line) + len(piece) + 1 > width:  # keep room for the comma that ends the line
            lines.append(line + ",")
            line = word
        else:
            line += piece
    lines.append(line)
    return [_cut(item, width) for item in lines]


def table(rows: list[tuple[str, ...]], width: int) -> list[str]:
    """The header and the rows in columns two spaces apart, at most ``width`` wide when the
    narrowest columns allow it (80 does)."""
    rows = [tuple(_cut(cell, CUT[i]) if i in CUT else cell for i, cell in enumerate(row)) for row in rows]
    widths = [max(len(row[i]) for row in [HEADERS, *rows]) for i in range(len(HEADERS))]
    for column in NARROWEST:  # the capabilities first, then names and versions
        over = sum(widths) + len(GAP) * (len(widths) - 1) - width
        if over > 0:
            widths[column] = max(NARROWEST[column], widths[column] - over)
    out = []
    for row in [HEADERS, *rows]:
        wrapped = _wrap(row[CAN_DO], widths[CAN_DO])
        for n, part in enumerate(wrapped):
            line = [_cut(cell, w) if n == 0 else "" for cell, w in zip(row, widths, strict=True)]
            line[CAN_DO] = part
            out.append(GAP.join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
    return out
