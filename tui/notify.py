"""Telling a person who looks elsewhere: the bell and a desktop notification (built by
``engine.notify``) written to the terminal, for ``uet run`` in the foreground and for the
dashboard, and the dashboard's failure toasts that stay until seen.

Nothing here imports Textual: the dashboard hands in its own writer (the driver's) and its
``notify``; ``uet run`` writes to its standard output when that is a terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TextIO

from engine.notify import Notice, event_notice, sequence
from schemas.settings_defaults import Notify

if TYPE_CHECKING:
    from schemas.settings import NotifySettings

#: How long a failure toast stays, in seconds: until seen, in practice (a key or the run dismisses it).
STICKY_SECONDS = 7 * 24 * 3600.0


class TerminalNotifier:
    """Writes the sequence of each notice an event calls for to ``write`` (and flushes)."""

    def __init__(self, settings: Notify | NotifySettings, write: Callable[[str], Any],
                 flush: Callable[[], Any] | None = None, workstreams: Callable[[str], str | None] | None = None) -> None:
        self.settings = settings
        self.write = write
        self.flush = flush
        self.workstreams = workstreams or (lambda run_id: None)
        self.sent: list[Notice] = []

    @classmethod
    def for_stream(cls, settings: Notify | NotifySettings, stream: TextIO, workstream: str) -> TerminalNotifier:
        return cls(settings, stream.write, stream.flush, lambda run_id: workstream)

    def notice(self, kind: str, run_id: str | None, step_id: str | None, data: dict[str, Any]) -> Notice | None:
        """The notice of one event, written out; None when it calls for none."""
        notice = event_notice(kind, run_id, step_id, data, self.workstreams(run_id) if run_id else None)
        if notice is None:
            return None
        text = sequence(notice, self.settings)
        if text:
            self.write(text)
            if self.flush is not None:
                self.flush()
        self.sent.append(notice)
        return notice

    def on_event(self, event: Any) -> None:  # noqa: ANN401 - an engine Event or a stored EventRecord
        self.notice(event.kind, event.run_id, event.step_id, event.data)


def for_terminal(stream: TextIO, workstreams: Callable[[str], str | None], quiet: bool = False,
                 settings: Notify | NotifySettings | None = None) -> TerminalNotifier | None:
    """A notifier writing to ``stream`` when it is a terminal and ``--quiet`` was not given
    (``uet watch``); the settings file is read here, so a bad one stops the command first."""
    if quiet or not stream.isatty():
        return None
    if settings is None:
        from tui.settings import load_settings

        settings = load_settings().notify
    return TerminalNotifier(settings, stream.write, stream.flush, workstreams)


#: Every notification off (``--quiet``).
QUIET = Notify(bell=False, desktop="off", when=())


def wanted(settings: Notify | NotifySettings, quiet: bool) -> Notify | NotifySettings:
    """The settings with everything off under ``--quiet``."""
    return QUIET if quiet else settings


class StickyToasts:
    """Failure toasts that stay until seen: dismissed all at once (a key) or those of one run
    when the person looks at it. ``show`` and ``hide`` are the app's: they take and return the
    toast's handle (Textual's ``Notification``)."""

    def __init__(self, show: Callable[[Notice], Any], hide: Callable[[Any], None]) -> None:
        self.show = show
        self.hide = hide
        self.by_run: dict[str | None, list[Any]] = {}

    def add(self, notice: Notice) -> None:
        self.by_run.setdefault(notice.run_id, []).append(self.show(notice))

    def seen(self, run_id: str | None) -> int:
        """Dismiss the toasts of ``run_id``; how many there were."""
        toasts = self.by_run.pop(run_id, [])
        for toast in toasts:
            self.hide(toast)
        return len(toasts)

    def dismiss_all(self) -> int:
        count = 0
        for run_id in list(self.by_run):
            count += self.seen(run_id)
        return count

    def __len__(self) -> int:
        return sum(len(toasts) for toasts in self.by_run.values())


def failures(notices: Iterable[Notice | None]) -> list[Notice]:
    return [n for n in notices if n is not None and n.kind == "failed"]
