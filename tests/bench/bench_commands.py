"""Whole-process benchmark: each command timed as a user runs it, from exec to exit, as a child
process, on a store with 1,000 runs and one 10,000-step run. Every round runs each command once,
interleaved with the baselines measured in the same run (``python -c pass``, a raw
ThreadPoolExecutor(2) doing the same DAG as a child process, and doit when it is importable),
and the floors of the fixed stack (its imports, and a minimal Textual app's first frame);
the table shows medians. This machine's speed drifts, so targets are checked against figures
of the same run.

    python -m tests.bench.bench_commands            # the table
    python -m tests.bench.bench_commands --quick    # fewer rounds, smaller store, no 100,000 steps
    python -m tests.bench.bench_commands --tree DIR # the commands of another checkout (before/after)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UET = [sys.executable, "-m", "tui.cli"]
if (Path(sys.executable).parent / "uet").is_file():
    UET = [str(Path(sys.executable).parent / "uet")]  # the console script a user runs

#: The raw baseline: the same DAG run by a ThreadPoolExecutor(2), each step started once all it
#: needs are done; no-op steps call a Python function, `true` steps spawn the program.
RAW_POOL = r"""
import subprocess, sys, threading
from concurrent.futures import ThreadPoolExecutor
kind, chains, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def noop():
    return None
def step():
    if kind == "true":
        subprocess.run(["true"], check=True)
    else:
        noop()
left = {"join": chains}
lock, done = threading.Lock(), threading.Event()
pool = ThreadPoolExecutor(2)
def run(chain, i):
    step()
    if i + 1 < length:
        pool.submit(run, chain, i + 1)
        return
    with lock:
        left["join"] -= 1
        last = left["join"] == 0
    if last:
        step()
        done.set()
for c in range(chains):
    pool.submit(run, c, 0)
done.wait()
pool.shutdown()
"""

DODO = """
import subprocess

CHAINS, LENGTH, KIND = {chains}, {length}, {kind!r}


def noop():
    return None


def action():
    return [(noop,)] if KIND == "noop" else ["true"]


def task_steps():
    for c in range(CHAINS):
        for i in range(LENGTH):
            yield {{"name": f"c{{c}}-{{i}}", "actions": action(), "uptodate": [False],
                    "task_dep": [f"steps:c{{c}}-{{i - 1}}"] if i else []}}
    yield {{"name": "join", "actions": action(), "uptodate": [False],
            "task_dep": [f"steps:c{{c}}-{{LENGTH - 1}}" for c in range(CHAINS)]}}
"""


#: Runs the code of another checkout (``--tree``) with this interpreter and its packages: the
#: editable install's finder, which points at this checkout, is taken out first.
SHIM = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]; "
        "sys.path.insert(0, {tree!r}); ")


def chain_workstream(name: str, step: dict, chains: int, length: int) -> dict:
    """``chains`` chains of ``length`` steps and a join that needs the end of each."""
    steps = []
    for c in range(chains):
        for i in range(length):
            steps.append({"id": f"c{c}-{i}", **step, **({"needs": [f"c{c}-{i - 1}"]} if i else {})})
    steps.append({"id": "join", **step, "needs": [f"c{c}-{length - 1}" for c in range(chains)]})
    return {"name": name, "max_parallel": 2, "steps": steps}


def matrix_chains(name: str, chains: int, length: int, copies: int) -> dict:
    """``chains`` chains of ``length`` templates, each expanded ``copies`` times by a matrix, each
    copy needing the same copy of the step before: ``chains * copies`` chains in all."""
    steps = []
    for c in range(chains):
        for i in range(length):
            step = {"id": f"c{c}-{i}-{{k}}", "run": ["true"], "matrix": {"k": list(range(copies))}}
            if i:
                step["needs"] = [f"c{c}-{i - 1}-{{k}}"]
            steps.append(step)
    return {"name": name, "max_parallel": 2, "steps": steps}


#: What the fixed stack costs in a fresh process before any of uet's code: the imports a run
#: cannot do without (the store's SQLite and ORM, asyncio, the YAML reader), and Pydantic with
#: one model (every workstream and configuration is validated with it). The targets of 0.2 s
#: sit at or below these on the development machine; they are printed so that a reader can see it.
FLOORS = {
    "asyncio, sqlite3, subprocess, json, yaml, peewee imported": "import asyncio, sqlite3, subprocess, json, yaml, peewee",
    "pydantic imported, one model validated": "from pydantic import BaseModel\nclass M(BaseModel):\n    a: int\nM(a=1)",
}
HELLO = "a 3-widget Textual app's first frame"

NOOP = {"call": "tests.bench.noop:noop"}
TRUE = {"run": ["true"]}


@dataclass
class Child:
    """One child process's figures: wall time from just before exec to its exit, peak RSS."""

    seconds: float
    rss_mb: float
    output: str
    started: float


def run_child(argv: list[str], cwd: Path, env: dict[str, str]) -> Child:
    """Run ``argv`` with its output on a pipe (as a script reading it would), reaped with
    ``wait4`` so that its own peak RSS is known. A failure stops the benchmark."""
    started = time.time()
    t0 = time.perf_counter()
    child = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - t0
    child.returncode = os.waitstatus_to_exitcode(status)
    text = output.decode(errors="replace")
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {child.returncode} in {cwd}:\n{text[-2000:]}")
    return Child(seconds, usage.ru_maxrss / 1024, text, started)


@dataclass
class Row:
    """A line of the table: the figures of ``measure`` over the rounds, against ``baseline``."""

    name: str
    measure: Callable[[], float]
    baseline: str  # a key of the baselines, or "" when the target is absolute
    target: float  # seconds when absolute, a ratio to the baseline otherwise
    unit: str = "s"
    samples: list[float] = field(default_factory=list)
    note: str = ""


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Bench:
    def __init__(self, workdir: Path, quick: bool, tree: Path | None = None) -> None:
        self.dir = workdir
        self.quick = quick
        self.shim = SHIM.format(tree=str(tree)) if tree else ""
        self.uet_argv = [sys.executable, "-c", self.shim + "from tui.cli import main; sys.exit(main())"] if tree else UET
        self.env = dict(os.environ, UET_CONFIG=os.devnull, PYTHONPATH=str(tree or REPO), NO_COLOR="1")
        self.env.pop("UET_DB", None)
        self.big_project = workdir / "big"
        self.run_project = workdir / "runs"
        self.empty_project = workdir / "empty"
        self.big_id = ""

    # -- set-up ---------------------------------------------------------------------------------

    def build(self, runs: int, steps: int) -> None:
        for project in (self.big_project, self.run_project, self.empty_project):
            (project / ".uet").mkdir(parents=True)
        t0 = time.perf_counter()
        # Built by the code under test: its migrations make the schema its commands read.
        code = self.shim + ("import sys; from pathlib import Path; from tests.tui.stores import big; "
                            "print(big(Path(sys.argv[1]), runs=int(sys.argv[2]), steps=int(sys.argv[3]), "
                            "events=2 * int(sys.argv[3])))")
        built = self.python("-c", code, str(self.big_project / ".uet" / "uet.db"), str(runs), str(steps), cwd=REPO)
        self.big_id = built.output.split()[-1]
        print(f"store: {runs:,} runs and a {steps:,}-step run, built in {time.perf_counter() - t0:.1f} s")
        files = {
            "one.json": {"name": "one", "steps": [{"id": "first", "run": ["sh", "-c", "date +%s.%N > started"]}]},
            "noop1000.json": chain_workstream("noop", NOOP, 10, 100),
            "true200.json": chain_workstream("true", TRUE, 10, 20),
        }
        for name, doc in files.items():
            (self.run_project / name).write_text(json.dumps(doc))
        import yaml  # what people write; the 100,000 steps as templates, the file under the size limit

        for name, doc in (("plan10k.yaml", chain_workstream("plan", TRUE, 10, 1_000)),
                          ("plan100k.yaml", matrix_chains("plan", 10, 1_000, 10))):
            (self.run_project / name).write_text(yaml.safe_dump(doc, sort_keys=False))
        for kind, length in (("noop", 100), ("true", 20)):
            folder = self.dir / f"doit-{kind}"
            folder.mkdir()
            (folder / "dodo.py").write_text(DODO.format(chains=10, length=length, kind=kind))

    # -- measures -------------------------------------------------------------------------------

    def uet(self, *args: str, project: Path | None = None) -> Child:
        return run_child([*self.uet_argv, *args], project or self.big_project, self.env)

    def python(self, *args: str, cwd: Path | None = None) -> Child:
        return run_child([sys.executable, *args], cwd or self.dir, self.env)

    def first_step(self) -> float:
        """Seconds from exec of ``uet run`` to its one step's child writing the time."""
        marker = self.run_project / "started"
        marker.unlink(missing_ok=True)
        child = self.uet("run", "--plain", "one.json", project=self.run_project)
        return float(marker.read_text()) - child.started

    def plan(self, name: str, rows: list[Row]) -> float:
        """Validation and planning of a file in a fresh interpreter, after its imports (the
        child prints the seconds); peak RSS of that child recorded beside."""
        code = self.shim + ("import sys, time; from pathlib import Path; from engine.planner import plan_file; "
                "t = time.perf_counter(); plan = plan_file(Path(sys.argv[1]), Path('.')); "
                "print(time.perf_counter() - t, len(plan.steps))")
        child = self.python("-c", code, self.run_project / name, cwd=self.run_project)
        rows[0].samples.append(child.rss_mb)
        return float(child.output.split()[0])

    def first_paint(self, project: Path, runs: int) -> float:
        """Seconds from exec to the dashboard listing the runs, in a child that opens the app
        headless (as ``uet tui`` would in a terminal of 120x40)."""
        if self.shim:
            child = self.python("-c", self.shim + "import runpy; runpy.run_module('tests.bench.bench_commands', "
                                "run_name='__main__', alter_sys=True)",
                                "--paint", str(project), str(runs), cwd=REPO)
        else:
            child = self.python("-m", "tests.bench.bench_commands", "--paint", str(project), str(runs), cwd=REPO)
        return float(child.output.strip().splitlines()[-1]) - child.started

    def hello(self) -> float:
        """Seconds from exec to the first frame of a three-widget Textual app (header, text,
        footer), opened as ``first_paint`` opens the dashboard: the floor of any first paint."""
        child = self.python("-m", "tests.bench.bench_commands", "--hello", cwd=REPO)
        return float(child.output.strip().splitlines()[-1]) - child.started

    def make_rows(self) -> list[Row]:
        have_doit = importlib.util.find_spec("doit") is not None
        rss100k = Row("  peak RSS of 100,000-step planning", lambda: 0.0, "", 500, unit="MB")
        rss10k = Row("  peak RSS of 10,000-step planning", lambda: 0.0, "", 0, unit="MB")
        big = self.big_id
        rows = [
            Row("uet runs", lambda: self.uet("runs").seconds, "", 0.12),
            Row(f"uet status (the {self._steps:,}-step run)", lambda: self.uet("status", big).seconds, "", 0.3),
            Row("uet logs (the big run)", lambda: self.uet("logs", big).seconds, "", 0.12),
            Row("uet costs", lambda: self.uet("costs").seconds, "", 0.12),
            Row("uet patches", lambda: self.uet("patches").seconds, "", 0.12),
            Row("uet tools --no-version", lambda: self.uet("tools", "--no-version").seconds, "", 0.12),
            Row("uet validate, 1 step", lambda: self.uet("validate", "one.json", project=self.run_project).seconds,
                "", 0.2),
            Row("uet run, 1 step: exec to step started", self.first_step, "", 0.2),
            Row("uet run --plain, 1,000 no-op steps", lambda: self.uet(
                "run", "--plain", "noop1000.json", project=self.run_project).seconds,
                "doit, 1,000 no-op" if have_doit else "raw pool, 1,000 no-op", 1.0 if have_doit else 0),
            Row("uet run --plain, 200 `true` steps", lambda: self.uet(
                "run", "--plain", "true200.json", project=self.run_project).seconds, "raw pool, 200 true", 1.3),
            Row("uet run (no flag, piped), 200 `true`", lambda: self.uet(
                "run", "true200.json", project=self.run_project).seconds, "uet run --plain, 200 `true` steps", 1.05),
            Row("validate + plan 10,000 steps (in-process)", lambda: self.plan("plan10k.yaml", [rss10k]), "", 0.5),
            rss10k,
        ]
        if not self.quick:
            rows += [Row("validate + plan 100,000 steps (in-process)", lambda: self.plan("plan100k.yaml", [rss100k]),
                         "", 5.0), rss100k]
        rows += [
            Row("uet tui first paint, empty project", lambda: self.first_paint(self.empty_project, 0), "", 0.5),
            Row(f"uet tui first paint, {self._runs:,} runs", lambda: self.first_paint(self.big_project, self._runs),
                "", 1.0),
        ]
        return rows

    def rounds(self, count: int, before: Bench | None = None) -> tuple[list[Row], list[Row] | None]:
        """Every round: the baselines, then each command, and with ``before`` the same command of
        the other checkout right after it, so that both see the machine in the same state."""
        baselines: dict[str, list[float]] = {"python -c pass": [], "raw pool, 1,000 no-op": [],
                                             "raw pool, 200 true": [], "doit, 1,000 no-op": [],
                                             **{name: [] for name in FLOORS}, HELLO: []}
        have_doit = importlib.util.find_spec("doit") is not None
        rows = self.make_rows()
        old = before.make_rows() if before else None
        for n in range(count):
            print(f"round {n + 1} of {count}", file=sys.stderr)
            baselines["python -c pass"].append(self.python("-c", "pass").seconds)
            baselines["raw pool, 1,000 no-op"].append(self.python("-c", RAW_POOL, "noop", "10", "100").seconds)
            baselines["raw pool, 200 true"].append(self.python("-c", RAW_POOL, "true", "10", "20").seconds)
            for name, code in FLOORS.items():
                baselines[name].append(self.python("-c", code).seconds)
            baselines[HELLO].append(self.hello())
            if have_doit:
                db = self.dir / "doit.db"
                for leftover in self.dir.glob("doit.db*"):
                    leftover.unlink()
                baselines["doit, 1,000 no-op"].append(self.python(
                    "-m", "doit", "-f", str(self.dir / "doit-noop" / "dodo.py"), "--db-file", str(db),
                    cwd=self.dir / "doit-noop").seconds)
            for i, row in enumerate(rows):
                if row.unit == "s":
                    row.samples.append(row.measure())
                    if old is not None:
                        old[i].samples.append(old[i].measure())
        self.baselines = {name: median(values) for name, values in baselines.items()}
        self.baselines.update({row.name: median(row.samples) for row in rows})
        return rows, old

    def table(self, rows: list[Row], old: list[Row] | None = None) -> None:
        base = self.baselines["python -c pass"]
        print(f"\nwhole-process timings ({os.cpu_count()} cores, Python {sys.version.split()[0]}), medians of "
              f"{len(rows[0].samples)} rounds; this run's `python -c pass`: {base:.3f} s"
              + ("; `before`: the --compare checkout, each command right after this one's" if old else ""))
        lines = [("command", "median", "baseline", "ratio", "target", "", *(("before",) if old else ()))]
        for i, row in enumerate(rows):
            value = median(row.samples)
            then = ()
            if old is not None:
                was = median(old[i].samples)
                then = (f"{was:.0f} MB" if row.unit == "MB" else f"{was:.3f} s",)
            if row.unit == "MB":
                lines.append((row.name, f"{value:.0f} MB", "", "", f"<= {row.target:.0f} MB" if row.target else "",
                              ("OK" if value <= row.target else "MISS") if row.target else "", *then))
                continue
            if row.baseline:
                ref = self.baselines[row.baseline]
                ratio = value / ref
                target = f"<= {row.target:.2f}x {row.baseline}" if row.target else f"(vs {row.baseline})"
                verdict = ("OK" if ratio <= row.target else "MISS") if row.target else ""
                lines.append((row.name, f"{value:.3f} s", f"{ref:.3f} s", f"{ratio:.2f}x", target, verdict, *then))
            else:
                lines.append((row.name, f"{value:.3f} s", f"{base:.3f} s", f"{value / base:.1f}x",
                              f"<= {row.target:.2f} s", "OK" if value <= row.target else "MISS", *then))
        for name in ("raw pool, 1,000 no-op", "raw pool, 200 true", "doit, 1,000 no-op"):
            if self.baselines[name] == self.baselines[name]:  # not nan: measured
                lines.append((f"baseline: {name}", f"{self.baselines[name]:.3f} s"))
        if self.baselines["doit, 1,000 no-op"] != self.baselines["doit, 1,000 no-op"]:
            lines.append(("baseline: doit", "not installed"))
        for name in (*FLOORS, HELLO):  # what the fixed stack costs before a line of uet runs
            lines.append((f"floor: {name}", f"{self.baselines[name]:.3f} s"))
        lines = [line + ("",) * (len(lines[0]) - len(line)) for line in lines]
        widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
        for line in lines:
            print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())

    _runs = 1_000
    _steps = 10_000


def hello() -> None:
    """The child of ``Bench.hello``: the time.time() of a minimal Textual app's first frame."""
    import asyncio

    from textual.app import App, ComposeResult
    from textual.widgets import Footer, Header, Static

    class Hello(App[None]):
        def compose(self) -> ComposeResult:
            yield Header()
            yield Static("hello")
            yield Footer()

    frame = first_frame()

    async def main() -> float:
        async with Hello().run_test(size=(120, 40)) as pilot:
            while not frame:
                await pilot.pause(0.002)
            return frame[0]

    print(asyncio.run(main()))


def first_frame() -> list[float]:
    """A list that gets the time.time() of the first frame an app hands to its terminal (its
    ``_display`` of a screen's update): what a user sees first, not the test driver's "ready",
    which comes later (0.15 s for the dashboard here)."""
    from textual.app import App

    at: list[float] = []
    display = App._display

    def recorded(app: App, screen: object, renderable: object) -> None:
        if renderable is not None and not at:
            at.append(time.time())
        display(app, screen, renderable)  # type: ignore[arg-type]

    App._display = recorded  # type: ignore[method-assign]
    return at


def paint(project: Path, runs: int) -> None:
    """The child of ``first_paint``: the app over ``project``'s store, the time.time() of the
    first line drawn with every run listed (of its first frame handed to the terminal, when
    the store holds no run)."""
    import asyncio

    from tests.bench.bench_tui import FirstDraw

    async def main() -> float:
        from tui.app import make_app
        from tui.widgets.line_table import LineTable

        draws = FirstDraw()
        draws.install()
        wanted = min(runs, 1)  # finished runs older than a week are listed on request only

        def listed(widget: object) -> bool:
            return isinstance(widget, LineTable) and widget.id == "runs" and len(widget.keys) >= wanted

        app = make_app(project, project / ".uet" / "uet.db")
        draws.wants["first"] = listed
        frame = first_frame()
        async with app.run_test(size=(120, 40)) as pilot:
            if not runs:  # nothing to list: the app's first frame is its first paint
                while not frame:
                    await pilot.pause(0.002)
                return frame[0]
            await draws.wait("first", listed)
        return draws.at["first"] - time.perf_counter() + time.time()

    print(asyncio.run(main()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3 rounds, 200 runs and a 2,000-step run, no 100k")
    parser.add_argument("--rounds", type=int, help="rounds of every command (default 5, 3 with --quick)")
    parser.add_argument("--tree", type=Path, metavar="DIR", help="time the commands of the checkout in DIR "
                        "(e.g. `git archive REV | tar -x -C DIR`) with this interpreter: before and after a change")
    parser.add_argument("--compare", type=Path, metavar="DIR", help="also time the commands of the checkout in "
                        "DIR, each right after this one's, and print them as `before`")
    parser.add_argument("--paint", nargs=2, metavar=("PROJECT", "RUNS"), help=argparse.SUPPRESS)
    parser.add_argument("--hello", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hello:
        hello()
        return
    if args.paint:
        paint(Path(args.paint[0]), int(args.paint[1]))
        return
    for other in (args.tree, args.compare):
        if other and not (other / "tests" / "bench" / "bench_commands.py").exists():
            import shutil  # the first-paint child runs this module from the other checkout

            shutil.copy(__file__, other / "tests" / "bench" / "bench_commands.py")
    benches = [Bench(Path(tempfile.mkdtemp(prefix="uet-bench-cmd-")), args.quick, tree.resolve() if tree else None)
               for tree in (args.tree, *((args.compare,) if args.compare else ()))]
    for bench in benches:
        if args.quick:
            bench._runs, bench._steps = 200, 2_000
        bench.build(bench._runs, bench._steps)
    try:
        rows, old = benches[0].rounds(args.rounds or (3 if args.quick else 5), benches[1] if args.compare else None)
        benches[0].table(rows, old)
    finally:
        import shutil

        for bench in benches:
            shutil.rmtree(bench.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
