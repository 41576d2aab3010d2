"""The history screen: the store's recent past at a glance, from the ``uet sql`` views
(``store.history``). Per tool, the success rate and median duration of each of the last 14 UTC
days; dollars per day; the durations of each workstream's recent runs.

Every sparkline has its figures beside it (rates, medians, totals), and a day without data is a
``·``, never an empty bar, so nothing depends on colour. ``r`` reads the store again.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Static

from store.history import History, load
from tui.format import duration
from tui.widgets.footer import KeysFirstFooter

BARS = "▁▂▃▄▅▆▇█"
GAP = "·"
TOOL_WIDTH, WORKSTREAM_WIDTH = 12, 14


def spark(values: Sequence[float | None], low: float | None = None, high: float | None = None) -> str:
    """One glyph per value, ``▁`` at ``low`` and ``█`` at ``high`` (default: the smallest and the
    largest value); None is a gap. Values all alike draw a middle bar."""
    known = [v for v in values if v is not None]
    low = min(known, default=0.0) if low is None else low
    high = max(known, default=0.0) if high is None else high
    out = []
    for value in values:
        if value is None:
            out.append(GAP)
        elif high <= low:
            out.append(BARS[3])
        else:
            step = round((value - low) / (high - low) * (len(BARS) - 1))
            out.append(BARS[min(len(BARS) - 1, max(0, step))])
    return "".join(out)


def fit(text: str, width: int) -> str:
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def money(usd: float | None) -> str:
    return "-" if usd is None else f"${usd:,.2f}"


def tools_text(history: History) -> Text:
    days = len(history.days)
    if not history.tools:
        return Text(f"no attempts in the last {days} days")
    text = Text(f"{'TOOL':<{TOOL_WIDTH}} {'OK%':>4} {'success/day':<{days}} {'MEDIAN':>7} "
                f"{'median/day':<{days}} {'ATTEMPTS':>8}\n", style="bold")
    for row in history.tools:
        text.append(f"{fit(row.tool, TOOL_WIDTH)} {row.success_rate * 100:>3.0f}% {spark(row.daily_success, 0.0, 1.0)} "
                    f"{duration(row.median):>7} {spark(row.daily_median, 0.0)} {row.attempts:>8,}\n")
    text.append(f"{history.days[0]:%m-%d} … {history.days[-1]:%m-%d} UTC, one glyph a day, {GAP} no attempts",
                style="dim")
    return text


def cost_text(history: History) -> Text:
    spent = [(day, usd) for day, usd in zip(history.days, history.daily_usd, strict=True) if usd]
    if not spent:
        return Text(f"no costs recorded in the last {len(history.days)} days")
    peak_day, peak = max(spent, key=lambda pair: pair[1])
    text = Text(f"{spark(history.daily_usd, 0.0)}  total {money(history.total_usd)} · peak {money(peak)} "
                f"on {peak_day:%m-%d} · today {money(history.daily_usd[-1])}")
    return text


def workstreams_text(history: History) -> Text:
    if not history.workstreams:
        return Text("no finished runs yet")
    text = Text(f"{'WORKSTREAM':<{WORKSTREAM_WIDTH}} {'RUNS':>4} {'recent durations, oldest first':<30} "
                f"{'LAST':>7} {'MEDIAN':>7}\n", style="bold")
    for row in history.workstreams:
        text.append(f"{fit(row.workstream, WORKSTREAM_WIDTH)} {len(row.durations):>4} {spark(row.durations):<30} "
                    f"{duration(row.durations[-1]):>7} {duration(row.median):>7}\n")
    text.rstrip()
    return text


class HistoryScreen(Screen[None]):
    CSS_PATH = "history.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="history.back", tooltip="Back to the dashboard"),
        Binding("r", "refresh", "Refresh", id="history.refresh", tooltip="Read the store's history again"),
    ]

    class HistoryRead(Message):
        """The history, read in a thread."""

        def __init__(self, history: History) -> None:
            super().__init__()
            self.history = history

    class HistoryFailed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        self.history: History | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Static("reading the history…", id="status")
        with VerticalScroll(id="history"):
            yield Static(id="tools", classes="pane")
            yield Static(id="costs", classes="pane")
            yield Static(id="workstreams", classes="pane")
        yield KeysFirstFooter()

    def on_mount(self) -> None:
        self.query_one("#tools", Static).border_title = "Tools: success rate and median duration per day"
        self.query_one("#costs", Static).border_title = "Cost per day"
        self.query_one("#workstreams", Static).border_title = "Workstreams: run durations"
        self.query_one("#history", VerticalScroll).focus()
        self.read()

    @work(thread=True, group="history", exclusive=True, exit_on_error=False)
    def read(self) -> None:
        from textual.worker import get_current_worker

        from store.errors import StoreError

        app = self.app
        try:
            history = load(app.db_path, app.clock())  # type: ignore[attr-defined]
        except StoreError as exc:
            self.post_message(self.HistoryFailed(str(exc)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(self.HistoryRead(history))

    @on(HistoryRead)
    def show_history(self, message: HistoryRead) -> None:
        history = self.history = message.history
        self.query_one("#status", Static).update(
            Text(f"last {len(history.days)} days · {plural(len(history.tools), 'tool')} · "
                 f"{plural(len(history.workstreams), 'workstream')} · r refresh · Esc back"))
        self.query_one("#tools", Static).update(tools_text(history))
        self.query_one("#costs", Static).update(cost_text(history))
        self.query_one("#workstreams", Static).update(workstreams_text(history))

    @on(HistoryFailed)
    def show_failure(self, message: HistoryFailed) -> None:
        self.query_one("#status", Static).update(Text(f"✘ cannot read the history: {message.error}"))

    def action_refresh(self) -> None:
        self.query_one("#status", Static).update("reading the history…")
        self.read()
