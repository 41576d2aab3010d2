"""A footer that shows ``? Help``, ``q Quit`` and the way back first, on every screen.

Textual's footer lists the focused widget's keys, then the screen's, then the app's, and cuts
what does not fit: at 80 columns the keys a newcomer needs most were the ones cut (the run
screen ended in ``f Fo▏``). This footer puts them first: ``? Help``, ``q Quit``, then the
screen's Escape (``esc Back``), then the rest in Textual's order. A key the focused widget
takes for itself (``q`` typed into a text box) is not offered: Textual leaves it out.

Keys that do not fit whole beside the palette's key are left out, not cut (a cut ``r Retry
step`` read as a stray ``r ▏``); ``?`` and the palette list every key.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: Actions whose keys lead the footer, in this order.
FIRST = ("help", "quit_app")
#: Then the key that goes back (or closes, or clears): every screen binds it.
BACK_KEY = "escape"


def _rank(key: FooterKey) -> int:
    if key.action in FIRST:
        return FIRST.index(key.action)
    return len(FIRST) if key.key.split(",")[0] == BACK_KEY else len(FIRST) + 1


def _cells(key: FooterKey) -> int:
    """The key's width in the footer: the key and its description, each padded by Textual's CSS."""
    return cell_len(key.key_display) + cell_len(key.description) + 3


class KeysFirstFooter(Footer):
    def __init__(self) -> None:
        super().__init__()
        self._width = 0

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        palette = [w for w in widgets if isinstance(w, FooterKey) and "-command-palette" in w.classes]
        keys = [w for w in widgets if isinstance(w, FooterKey) and w not in palette]
        # sorted() is stable: the keys that do not lead keep Textual's order.
        first = sorted((w for w in keys if _rank(w) <= len(FIRST)), key=_rank)
        ordered = first + [w for w in widgets if w not in first and w not in palette]
        self._width = self.size.width
        room = self._width - sum(_cells(w) for w in palette) if self._width else None
        for widget in ordered:
            if room is not None and isinstance(widget, FooterKey):
                if _cells(widget) > room:
                    continue  # a shorter key further on may still fit
                room -= _cells(widget)
            yield widget
        yield from palette

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width:
            self.refresh(recompose=True)
