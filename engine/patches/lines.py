"""Keeping some lines of a hunk (as ``lazygit`` stages lines): the hunk cut down to the chosen
``+`` and ``-`` lines.

Two nearby edits often share one hunk, and a hunk is all or nothing for ``split``. Here a hunk's
lines are numbered from 1 in its body (context lines included, as ``uet patch hunks --lines``
shows them); the sub-hunk keeps every context line and the chosen changes, drops the ``+``
lines not chosen (they were never in the file) and turns the ``-`` lines not chosen into
context (they stay in the file), then counts its header again.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.errors import InputError
from engine.patches.diffs import HUNK_HEADER, Hunk


class LineChoiceError(InputError):
    """Lines that cannot be kept apart, said in words."""


def changed_lines(hunk: Hunk) -> list[int]:
    """The numbers (from 1) of the hunk's ``+`` and ``-`` lines."""
    return [number for number, line in enumerate(hunk.lines, 1) if line[:1] in ("+", "-")]


def parse_ranges(text: str) -> set[int]:
    """``3-5,7`` → {3, 4, 5, 7}; bad text raises ``LineChoiceError``."""
    picked: set[int] = set()
    for part in text.split(","):
        start, sep, end = part.strip().partition("-")
        try:
            low = int(start)
            high = int(end) if sep else low
        except ValueError:
            raise LineChoiceError(f"{part.strip()!r} is not a line number or a range such as 3-5") from None
        if low < 1 or high < low or high - low > 100_000:
            raise LineChoiceError(f"{part.strip()!r} is not a range of lines counted from 1 (such as 3-5)")
        picked.update(range(low, high + 1))
    return picked


def pick(hunk: Hunk, picked: Iterable[int], *, deleted_file: bool = False) -> tuple[list[str], int, int]:
    """The body of ``hunk`` with only the ``picked`` changes, and its old and new line counts."""
    chosen = set(picked)
    changes = set(changed_lines(hunk))
    outside = sorted(chosen - changes)
    if outside:
        raise LineChoiceError(f"hunk {hunk.id} has no added or removed line {', '.join(map(str, outside))}; "
                              f"its changed lines are {ranges(sorted(changes))}")
    if not chosen:
        raise LineChoiceError(f"choose at least one added or removed line of hunk {hunk.id}")
    if deleted_file and chosen != changes:
        raise LineChoiceError(f"hunk {hunk.id} deletes its file: keep all of it or none of it")
    body: list[str] = []
    old = new = 0
    dropped = False
    for number, line in enumerate(hunk.lines, 1):
        mark = line[:1]
        if mark == "\\":  # "\ No newline at end of file": belongs to the line before it
            if not dropped:
                body.append(line)
            continue
        dropped = False
        if mark == "+" and number not in chosen:
            dropped = True
            continue
        if mark == "-" and number not in chosen:
            line = " " + line[1:]
            mark = " "
        body.append(line)
        old += mark in (" ", "-")
        new += mark in (" ", "+")
    return body, old, new


def header(hunk: Hunk, old_count: int, new_start: int, new_count: int) -> str:
    match = HUNK_HEADER.match(hunk.header)
    tail = match[5] if match else ""
    return f"@@ -{hunk.old_start},{old_count} +{new_start},{new_count} @@{tail}"


def ranges(numbers: list[int]) -> str:
    """[3, 4, 5, 7] → ``3-5,7``."""
    out: list[str] = []
    for number in numbers:
        if out and out[-1].split("-")[-1] == str(number - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{number}"
        else:
            out.append(str(number))
    return ",".join(out)


__all__ = ["LineChoiceError", "changed_lines", "header", "parse_ranges", "pick", "ranges"]
