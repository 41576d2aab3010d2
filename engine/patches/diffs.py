"""The one reader of the unified diff format: ``unidiff`` parses, and this module gives its
result the shape the rest of UET uses.

``read`` is what the safety check (``engine.patches.safety``) inspects; ``parse`` turns a diff
into files and hunks for the hunk splitter (``engine.patches.hunks``), ``uet patch hunks`` and
the dashboard's diff view. A hunk's text is taken from the diff itself, at the line numbers
unidiff reports, so a kept hunk is written back byte for byte as it was proposed.

A hunk's id is ``"<file>.<hunk>"``, both counted from 0; a file without hunks (binary, a pure
rename or mode change) is one unit with the id ``"<file>.0"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from unidiff import PatchSet
from unidiff.patch import PatchedFile

DEV_NULL = "/dev/null"
HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")


@dataclass(frozen=True)
class Hunk:
    id: str
    file_index: int
    index: int
    header: str
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    lines: tuple[str, ...] = ()

    @property
    def added(self) -> int:
        return sum(1 for line in self.lines if line.startswith("+"))

    @property
    def removed(self) -> int:
        return sum(1 for line in self.lines if line.startswith("-"))


@dataclass(frozen=True)
class FileDiff:
    index: int
    path: str
    header: tuple[str, ...]
    hunks: tuple[Hunk, ...] = field(default_factory=tuple)

    @property
    def unit_ids(self) -> list[str]:
        """The ids a selection uses for this file: its hunks, or the whole file when it has none."""
        return [h.id for h in self.hunks] or [f"{self.index}.0"]


def read(diff: str) -> PatchSet:
    """unidiff's reading of ``diff``; raises ``UnidiffParseError`` (or ``ValueError``) when it
    cannot. Lines end at newlines only, as for git: a lone CR is content."""
    return PatchSet(diff)


def split_lines(diff: str) -> list[str]:
    """The diff's lines as git and unidiff see them: split on newline only."""
    lines = diff.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def parse(diff: str) -> list[FileDiff]:
    """The files of a diff and their hunks. unidiff measures each hunk by its header's counts,
    so a removed line that looks like a header is never mistaken for one."""
    lines = split_lines(diff)
    patched = list(read(diff))
    starts = [_start(file) for file in patched]
    files: list[FileDiff] = []
    for index, file in enumerate(patched):
        end = starts[index + 1] if index + 1 < len(patched) else len(lines)
        hunks: list[Hunk] = []
        cursor = _first_hunk(lines, starts[index], end) if len(file) else end
        header = tuple(lines[starts[index]:cursor])
        for number, hunk in enumerate(file):
            numbered = [line.diff_line_no for line in hunk if line.diff_line_no is not None]
            head = numbered[0] - 2 if numbered else cursor
            stop = numbered[-1] if numbered else head + 1
            while stop < len(lines) and lines[stop].startswith("\\"):
                stop += 1
            hunks.append(Hunk(f"{index}.{number}", index, number, lines[head], hunk.source_start,
                              hunk.source_length, hunk.target_start, hunk.target_length,
                              tuple(lines[head + 1:stop])))
            cursor = stop
        files.append(FileDiff(index, _path(file), header, tuple(hunks)))
    return files


def _start(file: PatchedFile) -> int:
    """The index of the file's first header line: its ``diff --git`` line, or the ``---`` line
    before the ``+++`` line unidiff numbers a plain diff's file by."""
    line = (file.diff_line_no or 1) - 1
    git = bool(file.patch_info) and file.patch_info[0].startswith("diff --git ")
    return line if git or file.is_binary_file else line - 1


def _first_hunk(lines: list[str], start: int, end: int) -> int:
    for index in range(start, end):
        if lines[index].startswith("@@ "):
            return index
    return end


def _path(file: PatchedFile) -> str:
    """The file's name as a reader wants it: the new one (the old one for a deletion), without
    the a/ or b/ prefix."""
    name = file.target_file if file.target_file and file.target_file != DEV_NULL else file.source_file
    if not name or name == DEV_NULL:
        return "?"
    return name[2:] if name.startswith(("a/", "b/")) else name


__all__ = ["DEV_NULL", "HUNK_HEADER", "FileDiff", "Hunk", "parse", "read", "split_lines"]
