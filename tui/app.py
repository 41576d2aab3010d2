"""The dashboard application: one App, built by ``make_app`` for the CLI and the tests.

The app owns the store, the change feed and the runs it hosts. It reads the store in one
place (a feed worker feeding ``engine.monitor.Monitor``) and fans what changed out to its
screens as ``StoreChanged`` messages, throttled to the configured refresh, so screens never
query on their own schedule and an idle app sleeps on the feed.

The first frame comes before the store: once it is drawn, that worker reads the runs as plain
``sqlite3`` rows (``reading``) and the panes say "loading…" until that read arrives. The store
itself (Peewee, the migrations, the Pydantic record models) opens in the background once the
runs are drawn (``open_soon``), or at once when something needs it sooner.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.notifications import Notification, Notify
from textual.screen import Screen

from schemas.settings_defaults import DEFAULTS, Settings
from tui.feed import StoreChanged
from tui.notify import STICKY_SECONDS, StickyToasts, TerminalNotifier
from tui.palette import BindingCommands

if TYPE_CHECKING:  # the engine that executes runs loads when a run starts, not before the first frame
    from engine.errors import ValidationFailed
    from engine.hosted import Host
    from engine.monitor import Delta, Monitor
    from engine.notify import Notice
    from engine.projects import Project
    from schemas.settings import TuiSettings
    from store import Store

#: Seconds between reads of the store on a slow link: what changed in between is drawn at once,
#: so four seconds of a busy run cost one repaint of the events pane instead of forty.
SLOW_LINK_REFRESH = 4.0


class UetApp(App[None]):
    TITLE = "uet"
    CSS_PATH = "app.tcss"
    COMMANDS = {BindingCommands}  # UET's actions first, and no second "Quit" (tui.palette)
    BINDINGS = [
        Binding("q", "quit_app", "Quit", id="app.quit", tooltip="Quit (asks about runs this app is executing)"),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Every key binding of this screen"),
        Binding("L", "launch", "Launch", id="app.launch", tooltip="Start a workstream"),
        Binding("B", "bootstrap", "Bootstrap", id="app.bootstrap", show=False, tooltip="Scan a project and write its workstreams"),
        Binding("P", "patches", "Patches", id="app.patches", tooltip="Review, approve and apply proposed patches"),
        Binding("H", "history", "History", id="app.history", show=False,
                tooltip="The store's history: success rate and median duration per tool, cost per day, run durations"),
        Binding("E", "profiles", "Profiles", id="app.profiles", show=False, tooltip="List and edit domain profiles"),
        Binding("T", "tools", "Tools", id="app.tools", show=False,
                tooltip="The project's tools and agents: installed or not, versions, breakers, record"),
        Binding("W", "triggers", "Triggers", id="app.triggers", show=False,
                tooltip="Triggers: next fire, last result, the serve engine; pause or resume one"),
        Binding("N", "dismiss_notices", "Dismiss", id="app.dismiss_notices", show=False,
                tooltip="Dismiss the failure notices that stay until seen"),
    ]

    def __init__(self, root: Path, db: Path, settings: Settings | TuiSettings | None = None,
                 clock: Callable[[], float] = time.time, start: list[Path] | None = None,
                 live: bool = True) -> None:
        super().__init__()
        self.root = root
        self.db_path = db
        self.settings = settings or DEFAULTS
        self.clock = clock
        self.to_start = list(start or [])
        self.live = live
        self.store: Store | None = None
        self._read_lock = threading.Lock()
        self._read_conn: sqlite3.Connection | None = None
        self._closed_reads = False
        self._host: Host | None = None
        self._monitor: Monitor | None = None
        self._opening = threading.Lock()
        self._kick = asyncio.Event()
        self._workstreams: dict[str, str] = {}
        self.notifier = TerminalNotifier(self.settings.notify, self.write_terminal, workstreams=self._workstreams.get)
        self.toasts = StickyToasts(self._show_sticky, self._unnotify)

    @property
    def host(self) -> Host:
        """The runs this app executes, made when first needed: ``engine.hosted`` brings the
        runner, the planner and the adapters, which the first frame has no use for."""
        if self._host is None:
            from engine.hosted import Host

            self._host = Host(self.open_store(), self.root)
        return self._host

    @property
    def monitor(self) -> Monitor:
        """The model of the store the feed worker reads, made on first use."""
        if self._monitor is None:
            from engine.monitor import Monitor

            self._monitor = Monitor(clock=self.clock, reading=self.reading)
        return self._monitor

    def open_store(self) -> Store:
        """The store, opened on first use: in the background once the first runs are drawn
        (``open_soon``), or at once by whatever needs it sooner (a run to start, a steering key,
        a screen that reads the store opened by a key pressed before that)."""
        with self._opening:
            if self.store is None:
                from store import Store, notice

                notice.announce = None  # an update of an older store would print on the screen
                self.store = Store(self.db_path)
            return self.store

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A plain connection to read the store with (``store.reads``: rows, not records), held
        for one read at a time: the monitor's reads run in worker threads, and a connection
        closed under a read in flight crashes the process. It opens on first use, the store's
        schema checked first (an older store updated, or why not said). The monitor and the
        dashboard's counts read with it, so the runs are listed without the ORM, the
        migrations or Pydantic; the store itself opens once they are (``open_soon``), or when
        something needs it sooner."""
        with self._read_lock:
            if self._read_conn is None:
                if self._closed_reads:
                    from store.errors import StoreError

                    raise StoreError(f"{self.db_path}: the dashboard has closed its store")
                from store import reads

                if not self.db_path.exists():
                    self.open_store()  # a new store is made, and its schema written, by the store
                self._read_conn = reads.connect(self.db_path)
            yield self._read_conn

    def open_soon(self) -> None:
        """Open the store in a thread of its own, so that the first key that needs it (a run
        screen, a cancel) finds it open. A store that cannot be opened says so when it is
        needed: the read that came first had it open at its schema."""
        def opening() -> None:
            with contextlib.suppress(Exception):  # said by the next open_store, where it is needed
                self.open_store()

        # Not a daemon: a quit while it opens waits for it (a daemon thread still importing or
        # migrating when the interpreter ends can crash it).
        threading.Thread(target=opening, name="uet-store-open").start()

    @cached_property
    def user(self) -> str:
        """Who acts from this dashboard (recorded with each command, comment and reset)."""
        from engine.session import operator

        return operator()

    @property
    def refresh_seconds(self) -> float:
        return max(self.settings.refresh, SLOW_LINK_REFRESH) if self.settings.slow_link else self.settings.refresh

    def on_mount(self) -> None:
        from tui.screens.dashboard import DashboardScreen

        self.theme = self.settings.theme if self.settings.theme in self.available_themes else "textual-dark"
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        self.push_screen(DashboardScreen())
        self.follow_store()

    async def on_unmount(self) -> None:
        with self._opening:
            if self.store is not None:
                self.store.close()
        with self._read_lock:  # after the read in flight, if one is
            self._closed_reads = True
            if self._read_conn is not None:
                self._read_conn.close()
                self._read_conn = None

    # -- the store, read in one place --------------------------------------------------------

    def watch_run(self, run_id: str | None) -> None:
        """Follow this run's steps; the next delta carries all of them."""
        self.monitor.watch(run_id)
        self.toasts.seen(run_id)
        self.poke()

    def poke(self) -> None:
        self._kick.set()

    @work(group="feed", exclusive=True, exit_on_error=False)
    async def follow_store(self) -> None:
        """Read the store whenever the feed (or a screen, through ``poke``) says something may
        have changed, at most once per ``refresh_seconds``. Without ``live`` only pokes count
        (tests over a fixed store). The first read comes after the first frame, as plain rows
        in a thread; the workstreams given to start, start once it came."""
        await self._drawn()
        try:
            first = await asyncio.to_thread(self._first_read)
        except Exception as exc:  # noqa: BLE001 - a store that cannot be opened ends the app with its words
            from tui.cli.exits import exit_code

            self.exit(return_code=exit_code(exc), message=f"uet: {exc}")  # as a command would end
            return
        self._broadcast(first, news=False)  # the dashboard opens the store once it drew these runs
        for file in self.to_start:
            self.start_run(file, detached=False)
        changes = None
        if self.live:  # watching the files loads watchfiles and anyio: after the first frame, not before it
            from store import ChangeFeed

            changes = ChangeFeed(self.db_path, tick=1.0, debounce=0.05).changes().__aiter__()
            self.poke()  # what changed while the watch was starting is read at once
        pending: asyncio.Future | None = None
        while True:
            kick = asyncio.ensure_future(self._kick.wait())
            waiting: set[asyncio.Future] = {kick}
            if changes is not None:
                pending = pending or asyncio.ensure_future(anext(changes))
                waiting.add(pending)
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if pending is not None and pending in done:
                pending = None
            kick.cancel()
            self._kick.clear()
            started = time.monotonic()
            delta = await asyncio.to_thread(self.monitor.poll)
            while delta.more:
                self._broadcast(delta)
                delta = await asyncio.to_thread(self.monitor.poll)
            self._broadcast(delta, tick=changes is not None)
            await asyncio.sleep(max(0.0, self.refresh_seconds - (time.monotonic() - started)))

    def _first_read(self) -> Delta:
        return self.monitor.load()

    async def _drawn(self) -> None:
        """Return once the screen in front has been drawn. A refresh callback asked for before
        the app runs would be dropped, so this first waits for it to run (a few ms at most)."""
        while not self.is_running:
            await asyncio.sleep(0.01)
        await self.screen.wait_for_refresh()

    def _broadcast(self, delta: Delta, tick: bool = False, news: bool = True) -> None:
        if not delta and not tick:
            return
        if news:  # the first read's tail of old events is history, not news
            self._tell(delta)
        for screen in self.screen_stack:
            if getattr(screen, "wants_store", False):
                screen.post_message(StoreChanged(delta))

    # -- notices -------------------------------------------------------------------------------

    def write_terminal(self, text: str) -> None:
        """Raw bytes for the terminal (the bell, a desktop notification), through the driver's
        writer so they never land inside a frame being drawn."""
        if self._driver is not None:
            self._driver.write(text)

    def _tell(self, delta: Delta) -> None:
        self._workstreams.update((run.id, run.workstream) for run in delta.runs)
        for event in delta.events:
            notice = self.notifier.notice(event.kind, event.run_id, event.step_id, event.data)
            if notice is None or notice.kind != "failed":
                continue
            if getattr(self.screen, "run_id", None) == notice.run_id:
                # The person is on that run's own screen, whose header says it failed: a toast
                # that stayed would only cover that header.
                self.notify(notice.body, title=notice.title, severity="error", markup=False)
            else:
                self.toasts.add(notice)

    def _show_sticky(self, notice: Notice) -> Notification:
        notification = Notification(f"{notice.body} · N dismisses, or open the run", notice.title, "error",
                                    STICKY_SECONDS, markup=False)
        self.post_message(Notify(notification))
        return notification

    def action_dismiss_notices(self) -> None:
        self.toasts.dismiss_all()

    # -- runs this app starts ------------------------------------------------------------------

    def start_run(self, file: Path, detached: bool) -> str | None:
        """Validate and start ``file`` in its project; problems are shown, never raised into
        the UI. A workstream of another project is started there, in a background engine (see
        ``engine.hosted``): its id comes in a notification, and None is returned."""
        from engine.errors import UetError, ValidationFailed

        try:
            placement = self.host.place(file)
            if not placement.here:
                self.host.validate_elsewhere(file, placement.project)
                self.notify(f"starting {file.name} in {placement.project.root}…", title="Launching", timeout=5)
                self.start_elsewhere(file, placement.project)
                return None
            run_id = self.host.create(file)
            if detached:
                pid = self.host.detach(run_id)
                self.notify(f"run {run_id} started in the background (pid {pid})", title="Launched")
            else:
                self.host.start(run_id, on_end=self._run_ended)
                self.notify(f"run {run_id} started here", title="Launched")
        except ValidationFailed as exc:
            self.show_problems(file, exc)
            return None
        except UetError as exc:
            self.notify(str(exc), title=f"Cannot start {file.name}", severity="error", timeout=10)
            return None
        self.poke()
        return run_id

    def show_problems(self, file: Path, failed: ValidationFailed) -> None:
        """Every problem of a workstream that could not start, one per line (file:line: field:
        message), on a screen that stays until Escape, instead of a toast that goes."""
        from tui.screens.text import TextScreen

        count = len(failed.problems) or 1
        self.push_screen(TextScreen(f"{file.name} was not started: {count} problem(s), nothing was written "
                                    "(Escape goes back)", str(failed)))

    @work(thread=True, group="launch", exit_on_error=False)
    def start_elsewhere(self, file: Path, project: Project) -> None:
        from engine.errors import UetError
        from engine.hosted import Host

        try:
            started = Host.start_elsewhere(file, project)
        except UetError as exc:
            self.call_from_thread(self.notify, str(exc), title=f"Cannot start {file.name}", severity="error",
                                  timeout=10)
            return
        self.call_from_thread(
            self.notify, f"run {started.run_id} started in {project.root}, in the background (pid {started.pid}); "
            f"this dashboard shows {self.root}: follow it with `uet tui {project.root}`", title="Launched", timeout=15)

    def _run_ended(self, run_id: str, outcome: object) -> None:
        if isinstance(outcome, BaseException):
            self.notify(f"run {run_id}: the engine stopped: {outcome}", severity="error", timeout=10)

    # -- actions ---------------------------------------------------------------------------------

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        self.push_screen(HelpScreen(self.screen))

    def action_launch(self) -> None:
        from tui.screens.launch import LaunchScreen

        def chosen(choice: tuple[Path, bool] | None) -> None:
            if choice is not None:
                self.start_run(*choice)

        self.push_screen(LaunchScreen(self.root), chosen)

    async def action_quit(self) -> None:
        """ctrl+q asks too: runs executing here must not end with the window."""
        self.action_quit_app()

    def _open(self, kind: type[Screen], make: Callable[[], Screen], reads_store: bool = False) -> None:
        """Push the screen ``make`` gives unless one of its kind is in front already. A screen
        that reads the store opens it first: its key may come before the feed's first read."""
        if isinstance(self.screen, kind):
            return
        if reads_store:
            self.open_store()
        self.push_screen(make())

    def action_bootstrap(self) -> None:
        from tui.screens.bootstrap import BootstrapScreen

        self._open(BootstrapScreen, lambda: BootstrapScreen(self.root))

    def action_patches(self) -> None:
        from tui.screens.patches import PatchesScreen

        self._open(PatchesScreen, PatchesScreen, reads_store=True)

    def action_profiles(self) -> None:
        from tui.screens.profiles import ProfilesScreen

        self._open(ProfilesScreen, lambda: ProfilesScreen(self.root))

    def action_tools(self) -> None:
        from tui.screens.tools import ToolsScreen

        self._open(ToolsScreen, lambda: ToolsScreen(self.root), reads_store=True)

    def action_triggers(self) -> None:
        from tui.screens.triggers import TriggersScreen

        self._open(TriggersScreen, lambda: TriggersScreen(self.root), reads_store=True)

    def action_history(self) -> None:
        from tui.screens.history import HistoryScreen

        self._open(HistoryScreen, HistoryScreen, reads_store=True)

    def action_quit_app(self) -> None:
        from tui.screens.quit import QuitScreen

        if self._host is None or not self._host.active:
            self.exit()
            return
        self.push_screen(QuitScreen(len(self.host.active), self.host.running_steps()), self._quit_choice)

    def _quit_choice(self, choice: str | None) -> None:
        if choice in ("detach", "cancel"):
            self.leave(choice)

    @work(group="quit", exclusive=True, exit_on_error=False)
    async def leave(self, how: str) -> None:
        if how == "cancel":
            self.notify("canceling the runs started here…", timeout=30)
            await self.host.cancel_all(f"canceled by {self.user} on quitting the dashboard")
            self.exit()
            return
        self.notify(f"handing {len(self.host.active)} run(s) over: waiting for {self.host.running_steps()} "
                    "running step(s) to finish…", timeout=60)
        moved = await self.host.hand_over()
        self.exit(message="\n".join(f"run {run_id} goes on in the background (pid {pid})" for run_id, pid in moved)
                  or None)


def make_app(root: Path, db: Path, settings: Settings | TuiSettings | None = None, **kwargs: object) -> UetApp:
    """The factory the CLI, the tests and the benchmark share."""
    return UetApp(root, db, settings, **kwargs)  # type: ignore[arg-type]

