"""A YAML text area whose gutter marks the lines that have problems.

TextArea has no public line-decoration API, so the mark is drawn over the line number's
right margin (``12✘``): one character, readable without colour, and the number stays. The
editor never soft-wraps, so a screen line is a document line. Highlighting needs the
tree-sitter YAML grammar (``textual[syntax]``); without it the text is plain and everything
else works.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.util import find_spec

from rich.segment import Segment
from textual.strip import Strip
from textual.widgets import TextArea

MARK = "✘"


def yaml_language() -> str | None:
    """``yaml`` when its grammar is installed, else no highlighting."""
    return "yaml" if find_spec("tree_sitter_yaml") is not None else None


class YamlEditor(TextArea):
    DEFAULT_CSS = """
    YamlEditor > .yaml-editor--problem { color: $text-error; text-style: bold; }
    """

    COMPONENT_CLASSES = TextArea.COMPONENT_CLASSES | {"yaml-editor--problem"}

    def __init__(self, text: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(text, language=yaml_language(), soft_wrap=False, tab_behavior="indent",
                         show_line_numbers=True, id=id, classes=classes)
        self.indent_width = 2
        self.problem_lines: frozenset[int] = frozenset()

    def mark_lines(self, lines: Iterable[int]) -> None:
        """Mark these lines (1-based) in the gutter, and only these."""
        marked = frozenset(lines)
        if marked != self.problem_lines:
            self.problem_lines = marked
            self.refresh()

    def go_to_line(self, line: int, column: int | None = None) -> None:
        """Put the cursor at ``line`` (and ``column``), both 1-based, and bring it into view."""
        row = min(max(line - 1, 0), self.document.line_count - 1)
        col = min(max((column or 1) - 1, 0), len(self.document.get_line(row)))
        self.move_cursor((row, col), center=True)

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        line = self.scroll_offset.y + y + 1
        width = self.gutter_width
        if line not in self.problem_lines or not width or line > self.document.line_count:
            return strip
        under = strip.crop(width - 2, width - 1)
        base = next((segment.style for segment in under if segment.style), None)
        style = self.get_component_rich_style("yaml-editor--problem")
        style = base + style if base else style
        return Strip.join([strip.crop(0, width - 2), Strip([Segment(MARK, style)], 1), strip.crop(width - 1)])
