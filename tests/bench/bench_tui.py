"""Dashboard benchmark on a store holding 1,000 runs, one 10,000-step run and 100,000 events.

Prints: time to first paint (runs listed), time to open the big run (its DAG on the
dashboard, then its step list on the run screen), change-feed latency from another process's
write to the app applying it (p50 and p95 over 200 writes), idle CPU over a few seconds, and
peak RSS. Targets: first paint < 1 s, open < 0.5 s, p95 < 250 ms, RSS < 250 MB.

    python -m tests.bench.bench_tui
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
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


async def until(pilot, predicate, timeout: float = 30.0) -> float:  # noqa: ANN001
    from textual.css.query import NoMatches

    def holds() -> bool:
        try:
            return bool(predicate())
        except NoMatches:  # the screen has not composed yet
            return False

    start = time.perf_counter()
    while not holds():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("the app did not get there")
        await pilot.pause(0.005)
    return time.perf_counter() - start


async def measure(root: Path, db: Path, big_id: str, writes: int) -> dict[str, float]:
    from tui.app import make_app
    from tui.screens.dashboard import DashboardScreen
    from tui.screens.run import RunScreen
    from tui.widgets.event_log import EventLog
    from tui.widgets.line_table import LineTable

    out: dict[str, float] = {}
    started = time.perf_counter()
    app = make_app(root, db)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                    and len(app.screen.query_one("#runs", LineTable).keys) >= 1_000)
        await pilot.pause()
        out["first_paint"] = time.perf_counter() - started
        dashboard = app.screen

        t0 = time.perf_counter()
        dashboard.query_one("#runs", LineTable).move_to(big_id)
        await until(pilot, lambda: dashboard.selected == big_id and len(dashboard.steps) >= 10_000)
        await pilot.pause()
        out["open_dashboard"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        await pilot.press("enter")  # as a user opens it: Enter on the selected run
        await until(pilot, lambda: isinstance(app.screen, RunScreen)
                    and len(app.screen.query_one("#steps", LineTable).keys) >= 10_000)
        await pilot.pause()
        out["open_run_screen"] = time.perf_counter() - t0
        app.pop_screen()
        await pilot.pause()

        latencies: list[float] = []
        log = dashboard.query_one(EventLog)
        original = log.add

        def timed(events):  # noqa: ANN001, ANN202
            now = time.time()
            latencies.extend(now - e.ts for e in events if e.kind == "bench.tick")
            return original(events)

        log.add = timed  # type: ignore[method-assign]
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(writes), "0.05"])
        await until(pilot, lambda: len(latencies) >= writes or writer.poll() not in (None, 0), timeout=120)
        writer.wait()
        await pilot.pause(0.5)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("UET_CONFIG", os.devnull)

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
