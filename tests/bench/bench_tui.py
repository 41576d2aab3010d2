"""Dashboard benchmark on a store holding 1,000 runs, one 10,000-step run and 100,000 events.

Prints: time to first paint (runs listed), time to open the big run (its DAG on the
dashboard, then its step list on the run screen), change-feed latency from another process's
write to the app applying it (p50 and p95 over 200 writes), idle CPU over a few seconds, and
peak RSS. Targets: first paint < 1 s, open < 0.5 s, p95 < 250 ms, RSS < 250 MB.

Then the run screen at scale, on a store of its own: runs of 10, 1,000 and 10,000 steps (each
started step with an attempt), each opened as Enter on the dashboard opens it, in turn, for a
few rounds: the time from Enter to the step table painted with every row, and to the screen
settled (every attempt read and the times drawn), as medians and as ratios against the 10-step
run opened in the same rounds. The machine's load drifts; the ratios are what to compare.

    python -m tests.bench.bench_tui [--scale-only]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WRITER = r"""
import json, sqlite3, sys, time
db, count, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
conn = sqlite3.connect(db, isolation_level=None, timeout=10)
conn.execute("PRAGMA journal_mode=WAL")
for i in range(count):
    conn.execute("INSERT INTO events (ts, run_id, step_id, kind, data) VALUES (?, NULL, NULL, 'bench.tick', ?)",
                 (time.time(), json.dumps({"i": i})))
    time.sleep(gap)
"""


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class FirstDraw:
    """When a widget first draws a line once a condition holds: what a user sees, measured in
    the app itself rather than through the test driver's own waits."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.wants: dict[str, object] = {}

    def install(self) -> None:
        from tui.widgets.dag_view import DagView
        from tui.widgets.line_table import LineTable

        for cls in (LineTable, DagView):
            original = cls.render_line

            def render_line(widget, y, _original=original):  # noqa: ANN001, ANN202
                for name, predicate in list(self.wants.items()):
                    if predicate(widget):  # type: ignore[operator]
                        self.at[name] = time.perf_counter()
                        del self.wants[name]
                return _original(widget, y)

            cls.render_line = render_line  # type: ignore[method-assign]

    async def wait(self, name: str, predicate, timeout: float = 30.0) -> float:  # noqa: ANN001
        started = time.perf_counter()
        self.wants[name] = predicate
        while name not in self.at:
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"never drawn: {name}")
            await asyncio.sleep(0.002)
        return self.at[name]


async def measure(root: Path, db: Path, big_id: str, writes: int) -> dict[str, float]:
    from tui.app import make_app
    from tui.screens.run import RunScreen
    from tui.widgets.dag_view import DagView
    from tui.widgets.event_log import EventLog
    from tui.widgets.line_table import LineTable

    out: dict[str, float] = {}
    draws = FirstDraw()
    draws.install()
    from tests.tui.stores import NOW

    started = time.perf_counter()
    # The store's frozen clock: on today's, its runs finished long ago are hidden and the big run,
    # the only one left, would be selected (and drawn) before the benchmark selects it.
    app = make_app(root, db, clock=lambda: NOW)
    draws.wants["first"] = lambda w: isinstance(w, LineTable) and w.id == "runs" and len(w.keys) >= 1_000
    async with app.run_test(size=(120, 40)) as pilot:
        out["first_paint"] = await draws.wait("first", draws.wants["first"]) - started
        await pilot.pause(0.5)
        dashboard = app.screen

        t0 = time.perf_counter()
        dashboard.query_one("#runs", LineTable).move_to(big_id)
        out["open_dashboard"] = await draws.wait(
            "dag", lambda w: isinstance(w, DagView) and len(dashboard.steps) >= 10_000) - t0
        await pilot.pause(0.5)

        t0 = time.perf_counter()
        dashboard.action_open_run()  # what Enter on the selected run does
        out["open_run_screen"] = await draws.wait(
            "run", lambda w: isinstance(w.screen, RunScreen) and w.id == "steps" and len(w.keys) >= 10_000) - t0
        await pilot.pause(0.5)
        app.pop_screen()
        await pilot.pause(0.5)

        latencies: list[float] = []
        log = dashboard.query_one(EventLog)
        original = log.add

        def timed(events):  # noqa: ANN001, ANN202
            now = time.time()
            latencies.extend(now - e.ts for e in events if e.kind == "bench.tick")
            return original(events)

        log.add = timed  # type: ignore[method-assign]
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(writes), "0.05"])
        deadline = time.perf_counter() + 120
        while len(latencies) < writes and writer.poll() in (None, 0) and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        writer.wait()
        latencies.sort()
        out["latency_p50"] = statistics.median(latencies)
        out["latency_p95"] = latencies[int(len(latencies) * 0.95) - 1]
        out["latency_n"] = len(latencies)

        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        await asyncio.sleep(3.0)
        out["idle_cpu_pct"] = 100 * (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    out["rss_mb"] = rss_mb()
    return out


SCALE_SIZES = (10, 1_000, 10_000)


def scale_store(db: Path, sizes: tuple[int, ...] = SCALE_SIZES) -> dict[int, str]:
    """One run per size, the big fixture run cut to its first ``n`` steps, each step that started
    given one attempt (ended, or running for the running ones). Returns the run id of each size."""
    import sqlite3

    from tests.tui.stores import big

    big_id = big(db, runs=2, steps=max(sizes), events=2_000)
    ids = {max(sizes): big_id}
    with sqlite3.connect(db) as conn:
        for n in sizes:
            if n == max(sizes):
                continue
            run_id = f"s{n:011d}"
            ids[n] = run_id
            conn.execute("INSERT INTO runs (id, workstream, source, root, state, created_at, started_at, ended_at, "
                         "total_steps, done_steps, failed_steps, max_parallel, spec, reason) "
                         "SELECT ?, workstream, source, root, state, created_at + ?, started_at, ended_at, ?, 0, 0, "
                         "max_parallel, spec, reason FROM runs WHERE id = ?", (run_id, n, n, big_id))
            conn.execute("INSERT INTO steps (run_id, id, idx, kind, state, tool, needs, attempts, spec) "
                         "SELECT ?, id, idx, kind, state, tool, needs, attempts, spec FROM steps "
                         "WHERE run_id = ? AND idx < ?", (run_id, big_id, n))
        conn.execute("INSERT INTO attempts (run_id, step_id, number, tool, state, started_at, ended_at, exit_code) "
                     "SELECT run_id, id, 1, 'sh', CASE state WHEN 'running' THEN 'running' "
                     "WHEN 'failed' THEN 'failed' WHEN 'retrying' THEN 'failed' ELSE 'succeeded' END, "
                     "1779999000 + idx * 0.05, CASE state WHEN 'running' THEN NULL ELSE 1779999000 + idx * 0.05 + 3 END, "
                     "CASE state WHEN 'running' THEN NULL WHEN 'succeeded' THEN 0 ELSE 1 END "
                     "FROM steps WHERE attempts > 0")
    return ids


async def measure_scale(root: Path, db: Path, ids: dict[int, str], rounds: int) -> dict[int, dict[str, list[float]]]:
    """Open each run as Enter does, ``rounds`` times in turn: seconds to the table painted with
    all its rows, and to the screen settled (its attempts read, its times drawn)."""
    from tui.app import make_app
    from tui.screens.run import RunScreen
    from tui.widgets.line_table import LineTable

    out: dict[int, dict[str, list[float]]] = {n: {"painted": [], "settled": []} for n in sorted(ids)}
    draws = FirstDraw()
    draws.install()
    app = make_app(root, db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        dashboard = app.screen
        for k in range(rounds):
            for n, run_id in sorted(ids.items()):
                dashboard.query_one("#runs", LineTable).move_to(run_id)
                while dashboard.selected != run_id or len(dashboard.steps) != n:
                    await asyncio.sleep(0.01)
                await pilot.pause(0.3)
                t0 = time.perf_counter()
                dashboard.action_open_run()  # what Enter on the selected run does
                painted = await draws.wait(
                    f"run-{n}-{k}", lambda w, n=n: isinstance(w.screen, RunScreen) and w.id == "steps" and len(w.keys) == n)
                screen = app.screen
                assert isinstance(screen, RunScreen)
                while len(screen.spans) < min(n, sum(1 for row in screen.steps.values() if row.attempts)) or \
                        any(not w.is_finished for w in screen.workers if w.group in ("run-load", "spans")):
                    await asyncio.sleep(0.002)
                settled = time.perf_counter()
                out[n]["painted"].append(painted - t0)
                out[n]["settled"].append(settled - t0)
                # The filter typed one key at a time (each handled, the table filled again, idle).
                await pilot.press("slash")
                for key in "failed":
                    t0 = time.perf_counter()
                    await pilot.press(key)
                    out[n].setdefault("keystroke", []).append(time.perf_counter() - t0)
                await pilot.press("escape")  # closes the filter line and clears it
                await pilot.pause(0.1)
                app.pop_screen()
                await pilot.pause(0.3)
    return out


def pty_open_times(root: Path, ids: dict[int, str], rounds: int) -> dict[int, list[float]]:
    """As a user waits: the real ``uet tui`` in an 80x24 pseudo-terminal, each run selected with
    ``j``/``k`` and opened with Enter; the seconds from Enter written to the step table's title
    (``Steps (10,000)``) read back from the terminal. The runs are all running, so all listed,
    newest (highest id here) first."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    order = [ids[n] for n in sorted(ids, key=lambda n: ids[n], reverse=True)]  # as the dashboard lists them
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(root)
        os.environ.update(TERM="xterm-256color", UET_CONFIG=os.devnull, COLUMNS="80", LINES="24", NO_COLOR="1")
        os.execvp(sys.executable, [sys.executable, "-m", "tui.cli", "tui"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    def read_until(marker: bytes | None, seconds: float) -> float | None:
        """Read for ``seconds`` or until ``marker`` was written; when it came (perf_counter)."""
        seen, end = b"", time.perf_counter() + seconds
        while (left := end - time.perf_counter()) > 0:
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # the app has quit and closed the terminal
                    return None
                seen = (seen + chunk)[-4096:]
                if marker is not None and marker in seen:
                    return time.perf_counter()
        return None

    out: dict[int, list[float]] = {n: [] for n in sorted(ids)}
    try:
        read_until(None, 6.0)  # start-up, the first run's steps read
        at = 0
        for _ in range(rounds):
            for n in sorted(ids):
                target = order.index(ids[n])
                os.write(fd, (b"j" if target > at else b"k") * abs(target - at))
                at = target
                read_until(None, 2.0)  # its steps read by the dashboard, as a user would wait
                t0 = time.perf_counter()
                os.write(fd, b"\r")
                came = read_until(f"Steps ({n:,})".encode(), 30.0)
                if came is not None:
                    out[n].append(came - t0)
                read_until(None, 2.0)
                os.write(fd, b"\x1b")
                read_until(None, 1.5)
    finally:
        os.write(fd, b"\x11")  # ctrl+q
        read_until(None, 1.0)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)
    return out


def print_scale(figures: dict[int, dict[str, list[float]]], rounds: int) -> None:
    base = min(figures)
    print(f"run screen, Enter to table painted / screen settled, medians of {rounds} rounds, "
          f"ratio against the {base:,}-step run:")
    base_paint = statistics.median(figures[base]["painted"])
    base_settle = statistics.median(figures[base]["settled"])
    for n, got in figures.items():
        paint, settle = statistics.median(got["painted"]), statistics.median(got["settled"])
        key = statistics.median(got["keystroke"])
        print(f"  {n:>7,} steps  painted {paint:.3f} s ({paint / base_paint:4.1f}x)   "
              f"settled {settle:.3f} s ({settle / base_settle:4.1f}x)   filter keystroke {key:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the run screen's scaling")
    parser.add_argument("--scale-only", action="store_true", help="only the run screen's scaling")
    args = parser.parse_args()
    os.environ.setdefault("UET_CONFIG", os.devnull)
    scale_root = Path(tempfile.mkdtemp(prefix="uet-bench-scale-"))
    (scale_root / ".uet").mkdir()
    try:
        ids = scale_store(scale_root / ".uet" / "uet.db")
        print_scale(asyncio.run(measure_scale(scale_root, scale_root / ".uet" / "uet.db", ids, args.rounds)),
                    args.rounds)
        waited = pty_open_times(scale_root, ids, args.rounds)
        base = statistics.median(waited[min(waited)]) if waited[min(waited)] else None
        print(f"as a user waits (uet tui in an 80x24 pty, Enter to the table's title written), medians of {args.rounds}:")
        for n, got in waited.items():
            median = statistics.median(got) if got else None
            print(f"  {n:>7,} steps  " + ("never written" if median is None else f"{median:.3f} s"
                                          + (f" ({median / base:4.1f}x)" if base else "")))
    finally:
        shutil.rmtree(scale_root, ignore_errors=True)
    if args.scale_only:
        return

    from tests.tui.stores import big

    root = Path(tempfile.mkdtemp(prefix="uet-bench-tui-"))
    (root / ".uet").mkdir()
    db = root / ".uet" / "uet.db"
    t0 = time.perf_counter()
    big_id = big(db, runs=args.runs, steps=args.steps, events=args.events)
    built = time.perf_counter() - t0
    print(f"store: {args.runs:,} runs, a {args.steps:,}-step run, {args.events:,} events "
          f"({db.stat().st_size / 1e6:.1f} MB, built in {built:.1f} s)")
    baseline = rss_mb()
    figures = asyncio.run(measure(root, db, big_id, args.writes))
    rows = [
        ("time to first paint", f"{figures['first_paint']:.3f} s", "< 1 s"),
        ("open the big run (dashboard DAG)", f"{figures['open_dashboard']:.3f} s", "< 0.5 s"),
        ("open the big run (run screen)", f"{figures['open_run_screen']:.3f} s", "< 0.5 s"),
        (f"feed latency p50 ({int(figures['latency_n'])} writes)", f"{figures['latency_p50'] * 1000:.0f} ms", ""),
        ("feed latency p95", f"{figures['latency_p95'] * 1000:.0f} ms", "< 250 ms"),
        ("idle CPU", f"{figures['idle_cpu_pct']:.1f} %", "~0"),
        ("peak RSS", f"{figures['rss_mb']:.0f} MB (interpreter + store built: {baseline:.0f} MB)", "< 250 MB"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"  {name.ljust(width)}  {value:<48} {('target ' + target) if target else ''}")


if __name__ == "__main__":
    main()
