"""Export benchmark: a store of 100,000 steps (1,000 runs of 100 steps, their attempts, three
events a step: 300,000 events) written straight into its tables (tests.export.fill), then
``uet export`` of steps and events in each format, each in its own process: whole-process time
and that process's peak RSS (ru_maxrss from wait4).

    python -m tests.bench.bench_export            # the table
    python -m tests.bench.bench_export --quick    # 10,000 steps, for a smoke check
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.export.fill import fill


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_mb: float
    returncode: int
    size_mb: float


def export_in_child(db: Path, dataset: str, fmt: str, out: Path) -> Measured:
    """Run ``uet export`` in a fresh process; its own time and peak memory."""
    argv = [sys.executable, "-m", "tui.cli", "export", dataset, "--format", fmt, "-o", str(out), "--db", str(db)]
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {child.returncode}: {child.stderr.read().decode()}")  # type: ignore[union-attr]
    child.stderr.close()  # type: ignore[union-attr]
    return Measured(seconds, usage.ru_maxrss / 1024, child.returncode, out.stat().st_size / 1e6)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs, steps = (100, 100) if args.quick else (1_000, 100)
    with tempfile.TemporaryDirectory(prefix="uet-bench-export-") as folder:
        db = Path(folder) / ".uet" / "uet.db"
        started = time.perf_counter()
        fill(db, runs, steps, events_per_step=3)
        print(f"UET export benchmark ({os.cpu_count()} cores, Python {sys.version.split()[0]}): "
              f"{runs * steps:,} steps, {runs * steps * 3:,} events; store {db.stat().st_size / 1e6:.0f} MB, "
              f"built in {time.perf_counter() - started:.1f}s\n")
        rows = [("dataset", "format", "rows", "time s", "rows/s", "peak RSS MB", "file MB")]
        for dataset, count in (("steps", runs * steps), ("events", runs * steps * 3)):
            for fmt in ("jsonl", "csv", "parquet"):
                measured = export_in_child(db, dataset, fmt, Path(folder) / f"{dataset}.{fmt}")
                rows.append((dataset, fmt, f"{count:,}", f"{measured.seconds:.2f}", f"{count / measured.seconds:,.0f}",
                             f"{measured.peak_mb:.0f}", f"{measured.size_mb:.1f}"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        print("\ntime and peak RSS are the whole `uet export` process (imports included), one run each")


if __name__ == "__main__":
    main()
