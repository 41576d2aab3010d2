"""A footer that shows ``? Help`` and ``q Quit`` first.

Textual's footer lists the focused widget's keys, then the screen's, then the app's, and cuts
what does not fit: at 80 columns the two keys a newcomer needs most were the ones cut.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: Actions whose keys lead the footer, in this order.
FIRST = ("help", "quit_app")


class KeysFirstFooter(Footer):
    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        first = sorted((w for w in widgets if isinstance(w, FooterKey) and w.action in FIRST),
                       key=lambda w: FIRST.index(w.action))
        yield from first
        yield from (w for w in widgets if w not in first)
