"""Pane titles that repaint only their border line.

Setting a widget's ``border_title`` or ``border_subtitle`` makes Textual refresh the whole
widget, and the compositor then sends every cell of its region again, children included: a
pane's counts in its bottom border (``✔ 3 ▶ 1 …``) sent the whole DAG drawn inside it to the
terminal on every step that changed state. ``retitle`` stores the new text as Textual's setter
does and marks only the border's line dirty, so one changed step costs its own line in the DAG
and the one border line, not the pane.
"""

from __future__ import annotations

from textual.geometry import Region
from textual.widget import Widget

__all__ = ["retitle"]


def retitle(pane: Widget, title: str | None = None, subtitle: str | None = None) -> None:
    """Set a pane's border title and/or subtitle, each only when it reads differently, and
    repaint the top (title) or bottom (subtitle) border line alone."""
    if title is not None and str(pane.border_title) != title:
        _set(pane, "_border_title", title, top=True)
    if subtitle is not None and str(pane.border_subtitle) != subtitle:
        _set(pane, "_border_subtitle", subtitle, top=False)


def _set(pane: Widget, attribute: str, text: str, top: bool) -> None:
    edge = pane.styles.border.top if top else pane.styles.border.bottom
    if not pane.is_mounted or edge[0] in ("", "none", "hidden"):
        # Not drawn yet, or no border line to draw it in: Textual's own setter (a whole repaint).
        setattr(pane, attribute[1:], text)
        return
    # What Textual's _BorderTitle setter stores, without its refresh of the whole widget.
    setattr(pane, attribute, pane.render_str(text).expand_tabs(4).split()[0])
    # Regions are given in content coordinates: the border lies left of and above the content.
    left, above = pane.content_offset
    width, height = pane.outer_size
    pane.refresh(Region(-left, -above if top else height - 1 - above, width, 1))
