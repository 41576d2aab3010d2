"""Scanner benchmark: a generated 100,000-file tree (plus a 10,000-file subtree that its
.gitignore excludes), scanned by UET and by raw baselines in the same run. Each measurement
runs in a fresh child process so its peak RSS is its own; each is the median of three.

    python -m tests.bench.bench_scan            # the table; target: scan and bootstrap under 3 s
    python -m tests.bench.bench_scan --quick    # 10,000 files, for a smoke check
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 3.0
EXTENSIONS = (".py", ".py", ".py", ".ts", ".tsx", ".js", ".md", ".json", ".yaml", ".go", ".sql", ".txt",
              ".tf", ".sh", ".css", ".html", ".rs", ".java", ".csv", "")
GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def generate(root: Path, dirs: int, per_dir: int) -> int:
    """``dirs`` folders of ``per_dir`` small files, two levels deep, with config files here and
    there; plus ``generated/`` (a tenth as many files) that .gitignore excludes."""
    count = 0
    payload = b"x = 1\n"
    for d in range(dirs):
        folder = root / f"pkg{d // 50}" / f"mod{d}"
        folder.mkdir(parents=True, exist_ok=True)
        for f in range(per_dir):
            (folder / f"file{f}{EXTENSIONS[(d + f) % len(EXTENSIONS)]}").write_bytes(payload)
            count += 1
    for d in range(max(1, dirs // 10)):
        folder = root / "generated" / f"g{d}"
        folder.mkdir(parents=True, exist_ok=True)
        for f in range(per_dir):
            (folder / f"out{f}.py").write_bytes(payload)
    (root / ".gitignore").write_text("generated/\n*.log\n__pycache__/\n", encoding="utf-8")
    (root / "pyproject.toml").write_text('[project]\nname = "bench"\n[tool.pytest.ini_options]\n[tool.ruff]\n',
                                         encoding="utf-8")
    (root / "package.json").write_text('{"scripts": {"test": "vitest run"}, "devDependencies": {"vitest": "1"}}',
                                       encoding="utf-8")
    (root / "Makefile").write_text("test:\n\tpytest\n", encoding="utf-8")
    return count + 4  # with .gitignore, pyproject.toml, package.json, Makefile


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(kind: str, root: str) -> dict:
    """Run in a child: one measurement of one kind."""
    t0 = time.perf_counter()
    if kind == "os.walk":
        files = sum(len(names) for _, _, names in os.walk(root))
    elif kind == "git ls-files":
        done = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root,
                              capture_output=True, check=True, env=dict(os.environ, **GIT_ENV))
        files = done.stdout.count(b"\0")
    elif kind == "bootstrap":
        from engine.bootstrap.orchestrate import bootstrap

        files = bootstrap(root, dry_run=True).scan.files_seen
    else:
        from engine.bootstrap import scan

        files = scan(root).report.files_seen
    return {"seconds": time.perf_counter() - t0, "files": files, "rss_mb": _rss_mb()}


def run_child(kind: str, root: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "tests.bench.bench_scan", "--child", kind, root],
                         capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2])
    return json.loads(out.stdout)


def row(label: str, kind: str, root: str) -> dict:
    runs = [run_child(kind, root) for _ in range(3)]
    seconds = statistics.median(r["seconds"] for r in runs)
    files = runs[0]["files"]
    result = {"label": label, "files": files, "seconds": seconds, "files_per_s": files / seconds,
              "rss_mb": max(r["rss_mb"] for r in runs)}
    print(f"{label:<34} {files:>8,} files  {seconds:7.3f} s  {result['files_per_s']:>10,.0f} files/s"
          f"  peak RSS {result['rss_mb']:6.1f} MB", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "ROOT"))
    parser.add_argument("--no-git", action="store_true", help="skip the git work tree measurements")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child)))
        return 0
    dirs = 100 if args.quick else 1000
    base = Path(tempfile.mkdtemp(prefix="uet-bench-scan-"))
    try:
        t0 = time.perf_counter()
        total = generate(base / "tree", dirs, 100)
        root = str(base / "tree")
        print(f"generated {total:,} files to keep (+{dirs // 10 * 100:,} ignored) in "
              f"{time.perf_counter() - t0:.1f} s; {os.cpu_count()} CPUs", flush=True)
        row("os.walk (raw baseline, no rules)", "os.walk", root)
        plain = row("uet scan (walker)", "scan", root)
        results = [plain]
        # the whole of `uet bootstrap --dry-run`: scan, score every profile, generate, validate
        results.append(row("uet bootstrap --dry-run", "bootstrap", root))
        if not args.no_git and shutil.which("git"):
            subprocess.run(["git", "init", "-q", root], check=True, env=dict(os.environ, **GIT_ENV))
            row("git ls-files -co (raw baseline)", "git ls-files", root)
            results.append(row("uet scan (walker + git status)", "scan", root))
        slowest = max(r["seconds"] for r in results)
        verdict = "OK" if slowest < TARGET_S or args.quick else "TOO SLOW"
        print(f"target: scan and bootstrap under {TARGET_S:g} s for 100,000 files -> {verdict}")
        return 0 if verdict == "OK" else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
