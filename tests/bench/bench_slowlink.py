"""Bytes the dashboard writes to its terminal per minute while a run is busy, with and without
``--slow-link``.

The real ``uet tui`` runs in a pseudo-terminal of 80x24 over a copy of the dashboard's fixed
store, while another process writes what a busy run writes: its steps change state (20 events
a second, ``--rate``) and its counts move. Everything the app writes to the terminal is read and
counted over the same window, both ways; the slow link's target is at least 3x fewer bytes.

``--compare DIR`` measures the dashboard of another checkout too (a copy of an older commit,
say), each of its windows right after this one's of the same mode, so the machine's load drifts
alike for both; ``--rounds`` repeats that and prints medians.

    python -m tests.bench.bench_slowlink [--seconds 20] [--rate 1] [--compare DIR] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

TARGET = 3.0

BUSY = r"""
import json, sqlite3, sys, time
db, run_id, steps, seconds, gap = sys.argv[1], sys.argv[2], sys.argv[3].split(","), float(sys.argv[4]), float(sys.argv[5])
conn = sqlite3.connect(db, isolation_level=None, timeout=10)
end, i = time.time() + seconds, 0
while time.time() < end:
    step = steps[i % len(steps)]
    to, was = ("succeeded", "running") if i % 2 else ("running", "ready")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO events (ts, run_id, step_id, kind, data) VALUES (?, ?, ?, 'step.state', ?)",
                 (time.time(), run_id, step, json.dumps({"from": was, "to": to, "attempt": 1})))
    conn.execute("UPDATE steps SET state = ? WHERE run_id = ? AND id = ?", (to, run_id, step))
    conn.execute("UPDATE runs SET done_steps = ? WHERE id = ?", (i % 8, run_id))
    conn.execute("COMMIT")
    i += 1
    time.sleep(gap)
"""


def fixed_project(where: Path) -> Path:
    from tests.tui import stores

    (where / ".uet").mkdir(parents=True)
    return stores.small(where / ".uet" / "uet.db")


def bytes_written(project: Path, db: Path, seconds: float, slow: bool, rate: float, tree: Path | None = None) -> int:
    """Run ``uet tui`` in an 80x24 pty for ``seconds`` while the run is busy; the bytes it wrote
    after its first screen (the start-up paint is the same both ways and is left out). ``tree``:
    the checkout whose dashboard runs (None: this one)."""
    from tests.tui import stores

    pid, fd = pty.fork()
    if pid == 0:  # the child: the dashboard, as a user starts it
        os.chdir(project)
        os.environ.update(TERM="xterm-256color", UET_CONFIG=os.devnull, COLUMNS="80", LINES="24")
        if tree is not None:
            os.environ["PYTHONPATH"] = str(tree)
        argv = [sys.executable, "-m", "tui.cli", "tui"] + (["--slow-link"] if slow else [])
        os.execvp(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    count = 0
    try:
        _read_for(fd, 4.0)  # start-up and the first paint
        steps = [row[0] for row in stores.QUALITY]
        writer = subprocess.Popen([sys.executable, "-c", BUSY, str(db), stores.LIVE_RUN, ",".join(steps),
                                   str(seconds), str(1 / rate)])
        count = _read_for(fd, seconds)
        writer.wait(timeout=30)
    finally:
        os.write(fd, b"\x11")  # ctrl+q
        _read_for(fd, 1.0)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)
    return count


def _read_for(fd: int, seconds: float) -> int:
    end, count = time.monotonic() + seconds, 0
    while (left := end - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            count += len(chunk)
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each way is measured")
    parser.add_argument("--rate", type=float, default=20.0, help="events a second the busy run writes")
    parser.add_argument("--compare", type=Path, metavar="DIR",
                        help="also measure the dashboard of the checkout in DIR, interleaved with this one's")
    parser.add_argument("--rounds", type=int, default=1, help="measure each way this many times (medians shown)")
    args = parser.parse_args(argv)
    if args.compare is not None and not (args.compare / "tui" / "cli").is_dir():
        parser.error(f"--compare: {args.compare} is not a uet checkout (no tui/cli in it)")
    trees: list[Path | None] = [None] + ([args.compare.resolve()] if args.compare else [])
    results: dict[tuple[bool, Path | None], list[float]] = {}
    for _ in range(args.rounds):
        for slow in (False, True):
            for tree in trees:
                with tempfile.TemporaryDirectory(prefix="uet-slowlink-") as tmp:
                    project = Path(tmp)
                    db = fixed_project(project)
                    count = bytes_written(project, db, args.seconds, slow, args.rate, tree)
                results.setdefault((slow, tree), []).append(count * 60 / args.seconds)
    print(f"terminal bytes per minute, a run writing {args.rate:g} events/s, 80x24, {args.seconds:.0f} s each way"
          + (f", medians of {args.rounds} rounds" if args.rounds > 1 else ""))
    for tree in trees:
        normal = statistics.median(results[False, tree])
        slow = statistics.median(results[True, tree])
        ratio = normal / slow if slow else float("inf")
        if args.compare:
            print(f" {'this checkout' if tree is None else f'--compare {tree}'}")
        print(f"  normal       {normal / 1024:8.1f} KB/min")
        print(f"  --slow-link  {slow / 1024:8.1f} KB/min")
        print(f"  ratio        {ratio:8.1f}x  (target >= {TARGET:.0f}x: {'met' if ratio >= TARGET else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
