"""A reviewer's comments on a patch: where each points (the whole patch, a file, a hunk of it or a
line), the diff lines it points at, and the text a revision round's prompt carries.

A line is a new-side line number (what the file will say once the patch is applied), and only a
line inside one of the patch's hunks of that file can be commented on: a comment elsewhere would
point at nothing the reviewer saw. A hunk is counted from 0 within its file, as the dashboard
shows it. Comments are text from a person, bounded before they reach the store or a prompt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.errors import InputError
from engine.patches.diffs import FileDiff, Hunk, parse
from schemas.patch import COMMENT_MAX_BYTES
from store import queries

#: Diff lines shown on each side of a commented line.
CONTEXT_LINES = 3
#: Lines of a commented hunk shown at most.
HUNK_LINES = 60


class CommentError(InputError):
    """A comment that points at nothing in the patch, or has no text; said in one line."""


@dataclass(frozen=True)
class ReviewComment:
    body: str
    path: str | None = None
    line: int | None = None
    hunk: int | None = None

    @property
    def where(self) -> str:
        if self.path is None:
            return "the whole patch"
        if self.line is not None:
            return f"{self.path}:{self.line}"
        if self.hunk is not None:
            return f"{self.path} hunk {self.hunk}"
        return self.path


def check_body(body: str) -> str:
    """The comment's text, stripped; refused when empty or over ``COMMENT_MAX_BYTES``."""
    text = body.strip()
    if not text:
        raise CommentError("a comment needs some text (--comment)")
    size = len(text.encode("utf-8", errors="surrogateescape"))
    if size > COMMENT_MAX_BYTES:
        raise CommentError(f"the comment is {size} bytes; at most {COMMENT_MAX_BYTES} bytes are kept")
    return text


def locate(diff: str, comment: ReviewComment) -> str:
    """The diff lines ``comment`` points at: a few lines around its line, its hunk, or the hunk
    headers of its file; empty for a comment on the whole patch. Raises ``CommentError`` when it
    points outside the patch."""
    if comment.path is None:
        if comment.line is not None or comment.hunk is not None:
            raise CommentError("a comment on a line or a hunk needs the file it is in (--file)")
        return ""
    if comment.line is not None and comment.hunk is not None:
        raise CommentError("a comment is on a line or on a hunk, not both (--line or --hunk)")
    files = parse(diff)
    found = next((f for f in files if f.path == comment.path), None)
    if found is None:
        names = ", ".join(f.path for f in files[:10]) + (" …" if len(files) > 10 else "")
        raise CommentError(f"{comment.path} is not in the patch (its files: {names or 'none'})")
    if comment.line is not None:
        return _around_line(found, comment.line)
    if comment.hunk is not None:
        if not 0 <= comment.hunk < len(found.hunks):
            if not found.hunks:
                raise CommentError(f"{comment.path} has no hunks in the patch (binary, renamed or a mode change); "
                                   "comment on the file")
            have = f"hunks are 0 to {len(found.hunks) - 1}" if len(found.hunks) > 1 else "only hunk is 0"
            raise CommentError(f"{comment.path} has no hunk {comment.hunk} in the patch; its {have}")
        hunk = found.hunks[comment.hunk]
        body = list(hunk.lines[:HUNK_LINES])
        if len(hunk.lines) > HUNK_LINES:
            body.append(f"… {len(hunk.lines) - HUNK_LINES} more lines")
        return "\n".join([hunk.header, *body])
    return "\n".join(h.header for h in found.hunks)


def ranges(found: FileDiff) -> str:
    """The new-side lines the patch shows of a file, as ``1-5, 17-21``."""
    spans = [(h.new_start, h.new_start + h.new_count - 1) for h in found.hunks if h.new_count > 0]
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)


def _around_line(found: FileDiff, line: int) -> str:
    for hunk in found.hunks:
        if hunk.new_count and hunk.new_start <= line < hunk.new_start + hunk.new_count:
            return _window(hunk, line)
    shown = ranges(found)
    raise CommentError(f"line {line} of {found.path} is not in the patch; it shows "
                       + (f"lines {shown} of {found.path}" if shown else f"no new lines of {found.path}"))


def _window(hunk: Hunk, line: int) -> str:
    """The hunk's header and the diff lines around new-side ``line``, that line marked."""
    number = hunk.new_start
    target = 0
    for index, text in enumerate(hunk.lines):
        if text.startswith("\\") or text.startswith("-"):
            continue
        if number == line:
            target = index
            break
        number += 1
    start, stop = max(0, target - CONTEXT_LINES), min(len(hunk.lines), target + CONTEXT_LINES + 1)
    return "\n".join([hunk.header, *(("> " if i == target else "  ") + hunk.lines[i] for i in range(start, stop))])


def render(comments: Iterable[ReviewComment], diff: str) -> str:
    """The text of ``{review.comments}``: each comment with where it points and the diff lines
    around it, comments on the whole patch first, then by file and line."""
    ordered = sorted(comments, key=lambda c: (c.path is not None, c.path or "", c.line or 0, c.hunk or 0))
    parts: list[str] = []
    for number, comment in enumerate(ordered, 1):
        head = f"{number}. On {comment.where}:"
        try:
            context = locate(diff, comment)
        except CommentError:
            context = ""
        body = "\n".join("   " + line for line in comment.body.splitlines())
        block = f"{head}\n{body}"
        if context:
            block += "\n   Diff there (> marks the line):\n" if comment.line is not None else "\n   Diff there:\n"
            block += "\n".join("   " + line for line in context.splitlines())
        parts.append(block)
    return "\n\n".join(parts) + ("\n" if parts else "")


def submitted(patch_id: str) -> list[ReviewComment]:
    """The comments submitted on a patch (drafts left out), as its revision round is told them."""
    return [ReviewComment(c.body, c.path, c.line, c.hunk) for c in queries.patch_comments(patch_id, drafts=False)]
