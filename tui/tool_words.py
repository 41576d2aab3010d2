"""How a tool row of ``engine.toolinfo`` reads, in the words and glyphs ``uet tools`` prints and
the dashboard's Tools screen shows: one cell per column, and the notes under the table (which
agents are missing and how to install them, which capability no installed tool has, which
breakers are open). Plain strings: a state is a glyph and a word, never a colour alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from engine.toolinfo import not_installed, uncovered
from schemas.tools import ToolInfo
from store.tool_totals import MEDIAN_OVER
from tui.format import clock, duration, label

HEADERS = ("TOOL", "SOURCE", "VERSION", "CAN DO", "BREAKER", "OK%", "MEDIAN", "$/ATTEMPT")
_NUMBER = re.compile(r"\d+(?:\.\d+)+(?:[-+.]?[0-9A-Za-z]+)*")


def short_version(version: str) -> str:
    """The version number in a program's version line (``codex-cli 0.171.0`` -> ``0.171.0``),
    or the line itself when it holds none."""
    if version.startswith("unknown"):
        return "unknown"
    found = _NUMBER.search(version)
    return found.group(0) if found else version


def found_cell(row: ToolInfo) -> str:
    if row.found is None:
        return f"({row.adapter})"
    if not row.found:
        return "✘ missing"
    if row.version is None:
        return "✔ found"
    return f"✔ {short_version(row.version)}"


def breaker_cell(row: ToolInfo) -> str:
    return label(row.breaker) if row.breaker else "-"


def success_cell(row: ToolInfo) -> str:
    return "-" if row.success_rate is None else f"{row.success_rate * 100:.0f}%"


def median_cell(row: ToolInfo) -> str:
    return duration(row.median_seconds)


def cost_cell(row: ToolInfo) -> str:
    """Dollars per attempt when any attempt was priced, else tokens per attempt; an unknown cost
    is a dash, never $0."""
    if row.usd_per_attempt is not None:
        usd = row.usd_per_attempt
        return f"${usd:.2f}" if usd >= 1 else f"${usd:.4f}"
    if row.tokens_per_attempt is not None:
        tokens = row.tokens_per_attempt
        return f"{tokens / 1000:.1f}k tok" if tokens >= 1000 else f"{tokens:.0f} tok"
    return "-"


def capabilities_cell(row: ToolInfo) -> str:
    return ",".join(row.capabilities) or "-"


def cells(row: ToolInfo) -> tuple[str, ...]:
    """The row's cells, in ``HEADERS`` order."""
    return (row.name, row.source, found_cell(row), capabilities_cell(row), breaker_cell(row), success_cell(row),
            median_cell(row), cost_cell(row))


def notes(rows: Sequence[ToolInfo], install: bool = True) -> list[str]:
    """What to do about the rows, one line each: missing agents with their install command (or,
    without ``install``, their names alone), other missing programs, capabilities no installed
    tool has, open breakers."""
    lines = []
    missing = not_installed(rows)
    agents = [row for row in missing if row.agent is not None]
    if agents:
        lines.append("agents not installed: " + ", ".join(row.name for row in agents)
                     + ("; to install:" if install else ""))
        width = max(len(row.name) for row in agents)
        lines += [f"  {row.name.ljust(width)}  {row.install}" for row in agents if install]
    others = [row for row in missing if row.agent is None]
    if others:
        lines.append("not on PATH: " + ", ".join(
            row.name if row.executable == row.name else f"{row.name} ({row.executable})" for row in others))
    if not missing:
        lines.append("every tool's program is installed")
    lacking = uncovered(rows)
    if lacking:
        lines.append("no installed tool can do: " + ", ".join(lacking))
    for row in rows:
        if row.breaker == "open":
            since = f" since {clock(row.breaker_opened_at)}" if row.breaker_opened_at else ""
            lines.append(f"breaker open: {row.name}{since} (skipped until its next probe)")
    return lines


def details(row: ToolInfo) -> list[str]:
    """The row said whole, for the one under the cursor: what it is, its program and version,
    what it can do, its record, and how to install it when it is missing."""
    kind = f"agent ({row.agent})" if row.agent else f"{row.adapter} tool"
    where = "UET's built-in definition" if row.source == "built-in" else ".uet/router.yaml"
    lines = [f"{row.name}: {kind}, from {where}"]
    if row.executable is None:
        lines.append(f"runs no program of its own ({row.adapter})")
    elif row.path is None:
        lines.append(f"program: {row.executable}, not found on PATH"
                     + (f"; install: {row.install}" if row.install else ""))
    else:
        lines.append(f"program: {row.path}" + (f"; version: {row.version}" if row.version else ""))
    record = "never ran here" if not row.attempts else (
        f"{row.succeeded:,} of {row.attempts:,} attempts succeeded, median {duration(row.median_seconds)}"
        + (f" of the newest {MEDIAN_OVER:,}" if row.attempts > MEDIAN_OVER else ""))
    if row.usd_per_attempt is not None:
        record += f", {cost_cell(row)} per attempt"
    breaker = f"; breaker {label(row.breaker)}" if row.breaker else ""
    if row.breaker == "open" and row.breaker_opened_at:
        breaker += f" since {clock(row.breaker_opened_at)}"
    lines.append(f"can do: {', '.join(row.capabilities) or 'nothing declared'}; {record}{breaker}")
    return lines
