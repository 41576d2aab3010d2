"""Repository map benchmark: a cold and a warm map of a large real corpus, the Python sources
this machine already has (the interpreter's standard library with the packages installed beside
it, and this virtual environment's packages), copied into a temporary folder. Each map is a real
``uet map`` in a child process; its time is the wall clock around it, its memory the peak RSS
of the process (from ``wait4``) and of its whole process tree (sampled: the first map parses in
worker processes).

    python -m tests.bench.bench_repomap            # the table; target: warm map under 1 s
    python -m tests.bench.bench_repomap --quick    # at most 2,000 files, for a smoke check

Rows: cold (no cache: every file parsed), warm (nothing changed: nothing read), refocused (the
same files, another focus: ranked again from the cache), copy (a copy of the corpus with new
file times, as an attempt's scratch copy has: read and hashed, nothing parsed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGET_S = 1.0
MIN_FILES = 5000


def sources() -> list[Path]:
    """Where the corpus comes from: the standard library folder (with its site-packages) and
    this environment's packages, once each."""
    found = [Path(sysconfig.get_path("stdlib")), Path(sysconfig.get_path("purelib"))]
    return [path for n, path in enumerate(found) if path.is_dir() and path not in found[:n]]


def copy_corpus(target: Path, limit: int | None) -> int:
    """Copy the source files the map reads; folder names the map skips as vendored or as
    environments (``site-packages``) are renamed, so the whole corpus is mapped."""
    from engine.bootstrap.catalog import SKIP_DIRS
    from engine.repomap.languages import language_of

    count = 0
    for n, source in enumerate(sources()):
        for folder, dirs, files in os.walk(source):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            rel = Path(folder).relative_to(source)
            parts = [f"{part}-dir" if part in SKIP_DIRS else part for part in rel.parts]
            for name in sorted(files):
                if language_of(name) is None or os.path.islink(os.path.join(folder, name)):
                    continue
                out = target / f"corpus{n}" / Path(*parts) / name
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(os.path.join(folder, name), out)
                count += 1
                if limit is not None and count >= limit:
                    return count
    return count


def tree_rss_kb(pid: int) -> int:
    """The resident memory of ``pid`` and its descendants now, in KiB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        stack.extend(children.get(current, ()))
    return total


def measure(label: str, base: Path, corpus: Path, focus: str | None) -> dict:
    argv = [sys.executable, "-m", "tui.cli", "--project", str(base), "map", str(corpus), "--json", "--tokens", "4096"]
    if focus:
        argv += ["--focus", str(corpus / focus)]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], tree_rss_kb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = proc.stdout.read()  # type: ignore[union-attr]
    err = proc.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{label}: uet map failed: {err.decode()[-2000:]}")
    stats = json.loads(out)["stats"]
    row = {"label": label, "seconds": seconds, "rss_mb": usage.ru_maxrss / 1024, "tree_mb": peak[0] / 1024, **stats}
    print(f"{label:<10} {stats['files']:>7,} files  {stats['parsed']:>7,} parsed  {stats['hashed']:>7,} read"
          f"  {stats['cached']:>7,} cached  {stats['skipped']:>4,} skipped  {seconds:7.2f} s"
          f"  (map {stats['took']:.2f} s)  peak RSS {row['rss_mb']:6.1f} MB, tree {row['tree_mb']:6.1f} MB",
          flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="uet-bench-repomap-"))
    try:
        (base / ".uet").mkdir()
        corpus = base / "corpus"
        t0 = time.perf_counter()
        count = copy_corpus(corpus, 2000 if args.quick else None)
        print(f"copied {count:,} source files from {', '.join(map(str, sources()))} in "
              f"{time.perf_counter() - t0:.1f} s; {os.cpu_count()} CPUs", flush=True)
        if count < MIN_FILES and not args.quick:
            print(f"note: fewer than {MIN_FILES:,} files on this machine; the figures are for {count:,}")
        focus = next(str(p.relative_to(corpus)) for p in sorted(corpus.rglob("*.py")) if p.stat().st_size > 2000)
        measure("cold", base, corpus, None)
        warm = measure("warm", base, corpus, None)
        measure("refocused", base, corpus, focus)
        copy = base / "copy"
        shutil.copytree(corpus, copy)
        measure("copy", base, copy, None)
        verdict = "OK" if warm["seconds"] < TARGET_S or args.quick else "TOO SLOW"
        print(f"target: a warm map of an unchanged repository under {TARGET_S:g} s (the whole uet process) -> {verdict}")
        return 0 if verdict == "OK" else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
