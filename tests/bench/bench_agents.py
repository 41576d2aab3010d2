"""Agents at scale: 50 agent steps at once through ``uet run``, each a stand-in for Claude Code
(tests/bench/standin_agent.py) streaming its stream-json lines at 100 a second for 30 s, read
by the claude family's parser, in bubblewrap's sandbox in a scratch copy of the project (a git
repo with a commit), while a dashboard follows the store.

Prints, with a baseline measured in the same run (one asyncio loop in a process of its own
reading the same 50 streams through the same parser into the same files: no sandbox, store,
events or routing):

- the engine process's CPU (user + sys of the ``uet run`` process alone, read from
  ``/proc/PID/stat`` once it has exited and before it is reaped, so none of its children's CPU
  is in it) over its wall time, and per line read, as a ratio to the baseline's;
- the store's write rate: the run's event rows and attempt and step rows per second of the run;
- the dashboard's feed latency (p50, p95 over every event the run wrote: from the event's
  timestamp to the dashboard applying it, as ``bench_tui`` measures it; target p95 < 250 ms);
- that nothing was dropped: every attempt's log holds every readable line the parser makes of
  the stand-in's script (the same text, in order), its raw stream every JSON line in order, and
  its row the stand-in's tokens and dollars.

    python -m tests.bench.bench_agents                      # 50 steps, 100 lines/s, 30 s
    python -m tests.bench.bench_agents --quick              # 2 s each
    python -m tests.bench.bench_agents --steps 5 --seconds 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STANDIN = Path(__file__).resolve().with_name("standin_agent.py")
TICK = os.sysconf("SC_CLK_TCK")
#: How long past the streams' own length a run may take before it is called stuck.
SLACK_SECONDS = 600


def step_names(steps: int) -> list[str]:
    return [f"agent-{i:02d}" for i in range(steps)]


def install_standin(prefix: Path) -> Path:
    """The stand-in installed as a program of its own (``PREFIX/bin/standin-agent``, run by this
    Python): agent steps run in the sandbox, which covers /tmp and the home and shows again only
    a program's install prefix, so a script run from a checkout under /tmp would not be found."""
    program = prefix / "bin" / "standin-agent"
    program.parent.mkdir(parents=True, exist_ok=True)
    program.write_text(f"#!{sys.executable}\n" + STANDIN.read_text())
    program.chmod(0o755)
    return program


def standin_argv(rate: float, seconds: float, name: str, program: Path | None = None) -> list[str]:
    head = [str(program)] if program is not None else [sys.executable, str(STANDIN)]
    return [*head, "--rate", str(rate), "--seconds", str(seconds), "--name", name]


def make_project(root: Path, steps: int, rate: float, seconds: float) -> Path:
    """A git repo with a commit, a workstream of ``steps`` agent steps at once, and a router
    tool that sends them to the stand-in through the claude family."""
    (root / ".uet").mkdir(parents=True)
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("value = 1\n")
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (["init", "-q"], ["add", "."],
                 ["-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "start"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    lines = [f"name: agents-at-scale\nmax_parallel: {steps}\nsteps:"]
    for name in step_names(steps):
        lines.append(f"  - id: {name}\n    tool: standin\n    prompt: \"Work on {{step}} of {{run}}\"")
    (root / "ws.yaml").write_text("\n".join(lines) + "\n")
    argv = standin_argv(rate, seconds, "{step}", install_standin(root.parent / f"{root.name}-standin"))
    # A tool with a command runs that program (not the family's claude), read as claude's stream.
    (root / ".uet" / "router.yaml").write_text(
        f"tools:\n  standin:\n    agent: claude\n    command: {json.dumps(argv)}\n    max_parallel: {steps}\n")
    return root


# -- the engine process ------------------------------------------------------------------------


def proc_cpu(pid: int) -> tuple[float, float]:
    """(user, sys) seconds of the process's own threads, not its children's."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def proc_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class Engine:
    """``uet run`` in its own process; on exit, its own CPU is read before it is reaped (a
    zombie's /proc/PID/stat still holds it; the wait's rusage would add every child it reaped)."""

    def __init__(self, root: Path, seconds: float) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "UET_CONFIG": os.devnull}
        self.out = open(root / "uet-run.out", "wb")  # noqa: SIM115 - closed in wait()
        self.started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "run", "ws.yaml", "--plain"], cwd=root,
                                     env=env, stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.deadline = self.started + seconds + SLACK_SECONDS
        self.exited = threading.Event()
        self.cpu: tuple[float, float] = (0.0, 0.0)
        self.wall = 0.0
        self.rss_mb: float | None = None
        self.timeline: list[tuple[float, float]] = []  # (seconds since start, CPU seconds so far)
        threading.Thread(target=self._wait, daemon=True).start()

    def _wait(self) -> None:
        os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOWAIT)
        self.wall = time.monotonic() - self.started
        self.cpu = proc_cpu(self.proc.pid)
        self.exited.set()

    def sample(self) -> None:
        if not self.exited.is_set():
            self.rss_mb = proc_hwm_mb(self.proc.pid) or self.rss_mb
            with contextlib.suppress(OSError, ValueError, IndexError):
                self.timeline.append((time.monotonic() - self.started, sum(proc_cpu(self.proc.pid))))
        if time.monotonic() > self.deadline:
            self.proc.send_signal(signal.SIGINT)

    def wait(self) -> int:
        self.exited.wait()
        code = self.proc.wait()
        self.out.close()
        return code


async def follow(root: Path, seconds: float, dashboard: bool) -> dict[str, Any]:
    """Run the engine; with ``dashboard``, a headless dashboard follows the store meanwhile and
    every event it applies is timed (``bench_tui``'s way: the event's timestamp to the event
    log's ``add``)."""
    latencies: list[tuple[int, str, float]] = []  # (seq, kind, seconds from the event's timestamp to applied)
    engine: Engine | None = None
    visible = Visibility(root / ".uet" / "uet.db")

    cpu0 = 0.0

    async def run_engine() -> None:
        nonlocal engine, cpu0
        cpu0 = time.process_time()  # the dashboard's CPU from here on: following, not starting
        engine = Engine(root, seconds)
        while not engine.exited.is_set():
            engine.sample()
            await asyncio.sleep(0.25)

    visible.start()
    if not dashboard:
        await run_engine()
    else:
        from tui.app import make_app
        from tui.widgets.event_log import EventLog

        app = make_app(root, root / ".uet" / "uet.db")
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause(1.0)
            log = app.screen.query_one(EventLog)
            original = log.add

            def timed(events):  # noqa: ANN001, ANN202
                now = time.time()
                latencies.extend((e.seq, e.kind, now - e.ts) for e in events)
                return original(events)

            log.add = timed  # type: ignore[method-assign]
            await run_engine()
            assert engine is not None
            # The last events: the feed has seen them once the dashboard holds them all.
            expected = _count_events(root)
            settle = time.monotonic() + 10
            while len(latencies) < expected and time.monotonic() < settle:
                await pilot.pause(0.1)
    assert engine is not None
    code = engine.wait()
    visible.stop()
    user, system = engine.cpu
    return {"exit_code": code, "wall_s": engine.wall, "cpu_user_s": user, "cpu_sys_s": system,
            "rss_mb": engine.rss_mb, "latencies": latencies, "committed": visible.latencies(),
            "timeline": engine.timeline, "follower_cpu_s": time.process_time() - cpu0}


class Visibility:
    """When each event row first shows in the database, polled every 20 ms from a thread of
    its own: the engine's part of the feed's latency (its timestamp to its commit), apart from
    the dashboard's (the commit to the event log)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.seen: dict[int, tuple[float, float]] = {}  # seq -> (timestamp, first seen)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        time.sleep(0.1)
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        last = 0
        while not self._stop.is_set():
            try:
                rows = conn.execute("SELECT seq, ts FROM events WHERE seq > ? ORDER BY seq", (last,)).fetchall()
            except sqlite3.OperationalError:
                rows = []
            now = time.time()
            for seq, ts in rows:
                self.seen[seq] = (ts, now)
            if rows:
                last = rows[-1][0]
            self._stop.wait(0.02)
        conn.close()

    def latencies(self) -> dict[int, float]:
        return {seq: seen - ts for seq, (ts, seen) in self.seen.items()}


def _count_events(root: Path) -> int:
    with sqlite3.connect(root / ".uet" / "uet.db") as conn:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


# -- what the run left -------------------------------------------------------------------------


def expected_log(count: int, name: str) -> str:
    """The log the claude family makes of the stand-in's script: every readable line."""
    from engine.agents.claude import ClaudeParser
    from tests.bench.standin_agent import script

    parser = ClaudeParser()
    return "".join(line + "\n" for text in script(count, name) for line in parser.feed(text))


def check_run(root: Path, count: int) -> dict[str, Any]:
    """Counts of what the run left: attempts, their logs and raw streams against the script,
    the usage their rows hold, and the store's rows and the run's span."""
    from tests.bench.standin_agent import totals

    db = root / ".uet" / "uet.db"
    conn = sqlite3.connect(db)
    (run_id, state, started, ended), = conn.execute("SELECT id, state, started_at, ended_at FROM runs")
    attempts = conn.execute("SELECT step_id, state, log_path, tokens_in, tokens_out, usd, error FROM attempts "
                            "WHERE run_id = ?", (run_id,)).fetchall()
    events = dict(conn.execute("SELECT kind, count(*) FROM events GROUP BY kind").fetchall())
    span = conn.execute("SELECT min(ts), max(ts) FROM events WHERE run_id = ?", (run_id,)).fetchone()
    steps = conn.execute("SELECT count(*) FROM steps WHERE run_id = ?", (run_id,)).fetchone()[0]
    # When each agent was first heard from: its first output event, from the run's start.
    first = [ts - started for (ts,) in conn.execute(
        "SELECT min(ts) FROM events WHERE run_id = ? AND kind = 'step.output' GROUP BY step_id", (run_id,))]
    conn.close()
    want = totals(count)
    want_in = want["input_tokens"] + want["cache_read_input_tokens"] + want["cache_creation_input_tokens"]
    out: dict[str, Any] = {"run_id": run_id, "state": state, "attempts": len(attempts), "succeeded": 0,
                           "logs_whole": 0, "raw_whole": 0, "usage_whole": 0, "log_lines": [], "raw_lines": [],
                           "errors": [], "events": events, "steps_rows": steps,
                           "run_s": (ended or 0) - (started or 0), "events_span_s": span[1] - span[0],
                           "db_mb": db.stat().st_size / 1e6, "first_output_s": sorted(first)}
    for step_id, attempt_state, log_path, tokens_in, tokens_out, usd, error in attempts:
        out["succeeded"] += attempt_state == "succeeded"
        if error:
            out["errors"].append(f"{step_id}: {error}")
        log = Path(log_path).read_text() if log_path and Path(log_path).exists() else ""
        out["log_lines"].append(log.count("\n"))
        out["logs_whole"] += log == expected_log(count, step_id)
        raw_path = Path(log_path[: -len(".log")] + ".raw.jsonl") if log_path else None
        raw = raw_path.read_text().splitlines() if raw_path and raw_path.exists() else []
        out["raw_lines"].append(len(raw))
        out["raw_whole"] += len(raw) == count and all(_seq(line) == i for i, line in enumerate(raw))
        out["usage_whole"] += (tokens_in == want_in and tokens_out == want["output_tokens"]
                               and usd is not None and abs(usd - want["total_cost_usd"]) < 1e-9)
    return out


def _seq(line: str) -> int | None:
    try:
        return int(json.loads(line)["uuid"][-8:])
    except (ValueError, KeyError, TypeError):
        return None


def scenario_uet(steps: int, rate: float, seconds: float, dashboard: bool = True,
                 root: Path | None = None) -> dict[str, Any]:
    """The run, measured, and what it left, checked."""
    from engine.session import open_store

    root = make_project(root or Path(tempfile.mkdtemp(prefix="uet-bench-agents-")), steps, rate, seconds)
    open_store(root).close()  # the dashboard opens the store before the run writes to it
    load = os.getloadavg()[0]
    figures = asyncio.run(follow(root, seconds, dashboard))
    figures["load"] = (load, os.getloadavg()[0])
    figures.update(check_run(root, max(2, round(rate * seconds))))
    figures["root"] = str(root)
    return figures


# -- the baseline ------------------------------------------------------------------------------


def scenario_raw(steps: int, rate: float, seconds: float) -> dict[str, Any]:
    """One asyncio loop spawning the same stand-ins (no sandbox, straight from this process,
    the adapter's way: posix_spawn, a pipe, add_reader), cutting their output into lines, the
    claude parser reading each, readable lines to a log and the raw stream beside it."""
    from engine.agents.claude import ClaudeParser

    folder = Path(tempfile.mkdtemp(prefix="uet-bench-agents-raw-"))
    prompt = folder / "prompt.md"
    prompt.write_text("Work on it\n")
    env = dict(os.environ)

    async def one(name: str) -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        argv = standin_argv(rate, seconds, name)
        pid = os.posix_spawn(argv[0], argv, env, setsid=True, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, str(prompt), os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, write_fd, 1), (os.POSIX_SPAWN_DUP2, write_fd, 2)])
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        log = os.open(folder / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        raw = os.open(folder / f"{name}.raw.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        parser = ClaudeParser()
        pending = bytearray()
        lines = readable = 0
        done = loop.create_future()

        def readable_data() -> None:
            nonlocal lines, readable
            data = os.read(read_fd, 1 << 16)
            if not data:
                loop.remove_reader(read_fd)
                done.set_result(None)
                return
            pending.extend(data)
            end = pending.rfind(b"\n")
            if end < 0:
                return
            chunk = bytes(pending[: end + 1])
            del pending[: end + 1]
            os.write(raw, chunk)
            out: list[str] = []
            for line in chunk.decode("utf-8", errors="replace").splitlines():
                lines += 1
                out.extend(parser.feed(line))
            if out:
                readable += len(out)
                os.write(log, ("\n".join(out) + "\n").encode())

        loop.add_reader(read_fd, readable_data)
        await done
        await asyncio.to_thread(os.waitpid, pid, 0)
        parser.finish(str(folder))
        for fd in (read_fd, log, raw):
            os.close(fd)
        return lines, readable

    lags: list[float] = []

    async def ticker() -> None:
        """How late a 50 ms timer fires: the loop's lag, as the engine's commit timer would see it."""
        while True:
            due = time.monotonic() + 0.05
            await asyncio.sleep(0.05)
            lags.append(time.monotonic() - due)

    async def everything() -> list[tuple[int, int]]:
        tick = asyncio.ensure_future(ticker())
        counts = await asyncio.gather(*(one(name) for name in step_names(steps)))
        tick.cancel()
        return counts

    started = time.monotonic()
    counts = asyncio.run(everything())
    wall = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    shutil.rmtree(folder, ignore_errors=True)
    return {"wall_s": wall, "cpu_user_s": usage.ru_utime, "cpu_sys_s": usage.ru_stime,
            "rss_mb": usage.ru_maxrss / 1024, "lines": sum(c[0] for c in counts),
            "readable": sum(c[1] for c in counts), "lags": lags}


def parser_cpu_per_line(count: int) -> float:
    """The claude parser alone, in this process: seconds of CPU per line of the script."""
    from engine.agents.claude import ClaudeParser
    from tests.bench.standin_agent import script

    lines = list(script(count, "cost"))
    parser = ClaudeParser()
    t0 = time.process_time()
    for line in lines:
        parser.feed(line)
    return (time.process_time() - t0) / len(lines)


# -- the report --------------------------------------------------------------------------------


def _child(name: str, steps: int, rate: float, seconds: float, keep: bool = False) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "tests.bench.bench_agents", "--scenario", name, "--steps", str(steps),
                          "--rate", str(rate), "--seconds", str(seconds), *(["--keep"] if keep else [])],
                         capture_output=True, text=True, check=False, cwd=REPO)
    if out.returncode != 0:
        raise SystemExit(f"scenario {name} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)] if ordered else float("nan")


def report(uet: dict[str, Any], raw: dict[str, Any], parse_s: float, steps: int, rate: float, seconds: float,
           keep: bool = False) -> None:
    count = max(2, round(rate * seconds))
    lines = sum(uet["raw_lines"])
    uet_cpu = uet["cpu_user_s"] + uet["cpu_sys_s"]
    raw_cpu = raw["cpu_user_s"] + raw["cpu_sys_s"]
    rows = [
        ("scenario", "wall s", "lines", "lines/s", "CPU s (user+sys)", "CPU share", "CPU µs/line", "peak RSS MB"),
        ("uet run: the engine process", f"{uet['wall_s']:.1f}", f"{lines:,}", f"{lines / uet['wall_s']:,.0f}",
         f"{uet_cpu:.2f} ({uet['cpu_user_s']:.2f}+{uet['cpu_sys_s']:.2f})", f"{100 * uet_cpu / uet['wall_s']:.0f} %",
         f"{1e6 * uet_cpu / max(1, lines):.0f}", f"{uet['rss_mb']:.0f}" if uet["rss_mb"] else "?"),
        ("raw: one loop, same streams, same parser", f"{raw['wall_s']:.1f}", f"{raw['lines']:,}",
         f"{raw['lines'] / raw['wall_s']:,.0f}", f"{raw_cpu:.2f} ({raw['cpu_user_s']:.2f}+{raw['cpu_sys_s']:.2f})",
         f"{100 * raw_cpu / raw['wall_s']:.0f} %", f"{1e6 * raw_cpu / max(1, raw['lines']):.0f}",
         f"{raw['rss_mb']:.0f}"),
    ]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    print()
    ratio = (uet_cpu / max(1, lines)) / (raw_cpu / max(1, raw["lines"]))
    first = uet["first_output_s"]
    if first:
        print(f"agents first heard from {first[0]:.1f} to {first[-1]:.1f} s after the run started (median "
              f"{statistics.median(first):.1f} s): the sandboxes and scratch copies being made; the run took "
              f"{uet['run_s']:.1f} s for {seconds:g} s of streaming")
    print(f"the dashboard's process (the app, once started, and the commit poller) used {uet['follower_cpu_s']:.1f} s of CPU "
          f"({100 * uet['follower_cpu_s'] / uet['wall_s']:.0f} % of the run's wall time); no dashboard runs beside "
          f"the baseline")
    print(f"machine load (1-minute average) at the start and end: {uet['load'][0]:.1f}, {uet['load'][1]:.1f} on "
          f"{os.cpu_count()} cores")
    print(f"engine CPU per line, uet/raw: {ratio:.2f}x (the parser alone: {1e6 * parse_s:.0f} µs/line; "
          f"the run's start and end, sandboxes and scratch copies included in uet's)")
    events = uet["events"]
    total_events = sum(events.values())
    span = uet["events_span_s"] or 1.0
    rows_written = total_events + uet["attempts"] + uet["steps_rows"]
    print(f"store: {total_events:,} events ({events.get('step.output', 0):,} step.output, "
          f"{events.get('step.state', 0):,} step.state), {uet['attempts']} attempt rows, {uet['steps_rows']} step rows "
          f"over the run's {span:.1f} s: {total_events / span:,.0f} events/s, {rows_written / span:,.0f} rows/s; "
          f"database {uet['db_mb']:.1f} MB")
    lat = [seconds for _, _, seconds in uet["latencies"]]
    committed = uet["committed"]
    if lat:
        print(f"dashboard feed latency over {len(lat):,} events: p50 {1000 * statistics.median(lat):.0f} ms, "
              f"p95 {1000 * percentile(lat, 0.95):.0f} ms, max {1000 * max(lat):.0f} ms (target p95 < 250 ms)")
        kinds: dict[str, list[tuple[float, float]]] = {}
        for seq, kind, seconds in uet["latencies"]:
            kinds.setdefault(kind, []).append((seconds, committed.get(str(seq), float("nan"))))
        print("  of which the engine's (its timestamp to the row's commit, polled every 20 ms): "
              f"p50 {1000 * statistics.median(committed.values()):.0f} ms, "
              f"p95 {1000 * percentile(list(committed.values()), 0.95):.0f} ms; the baseline's loop, a 50 ms timer's "
              f"lateness: p50 {1000 * statistics.median(raw['lags']):.0f} ms, p95 {1000 * percentile(raw['lags'], 0.95):.0f}"
              f" ms, max {1000 * max(raw['lags']):.0f} ms")
        print("  by kind, p95 at the dashboard / at the commit: " + ", ".join(
            f"{kind} {1000 * percentile([a for a, _ in v], 0.95):.0f} / {1000 * percentile([c for _, c in v], 0.95):.0f}"
            f" ms ({len(v):,})" for kind, v in sorted(kinds.items(), key=lambda kv: -len(kv[1]))))
    else:
        print("dashboard feed latency: no events reached the dashboard")
    n = uet["attempts"]
    print(f"run {uet['state']}, {uet['succeeded']}/{steps} attempts succeeded; nothing dropped: "
          f"{uet['logs_whole']}/{steps} logs hold all {count:,} readable lines as the parser makes them "
          f"(lines per log {min(uet['log_lines'], default=0):,}..{max(uet['log_lines'], default=0):,}), "
          f"{uet['raw_whole']}/{steps} raw streams all {count:,} JSON lines in order, "
          f"{uet['usage_whole']}/{n} attempt rows the stand-in's tokens and dollars")
    for error in uet["errors"][:5]:
        print(f"  error: {error}")
    if keep:
        print(f"the project, its store and logs: {uet['root']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", choices=("uet", "raw"))
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100.0, help="lines per second of each agent")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long each agent streams")
    parser.add_argument("--quick", action="store_true", help="each agent streams for 2 s")
    parser.add_argument("--keep", action="store_true", help="keep the project the run left")
    args = parser.parse_args()
    seconds = 2.0 if args.quick else args.seconds
    if args.scenario == "uet":
        os.environ.setdefault("UET_CONFIG", os.devnull)  # the dashboard reads no user settings
        figures = scenario_uet(args.steps, args.rate, seconds)
        if not args.keep:
            shutil.rmtree(figures["root"], ignore_errors=True)
        print(json.dumps(figures))
        return
    if args.scenario == "raw":
        print(json.dumps(scenario_raw(args.steps, args.rate, seconds)))
        return
    from engine.adapters import sandbox

    if not (probe := sandbox.probe()).available:
        print(f"\nAgents at scale: skipped, agent steps run in bubblewrap's sandbox and it cannot run here "
              f"({probe.reason}); install it: sudo apt-get install bubblewrap")
        return
    count = max(2, round(args.rate * seconds))
    print(f"\nAgents at scale ({os.cpu_count()} cores): {args.steps} agent steps at once through `uet run`, each a "
          f"stand-in for Claude Code streaming {count:,} stream-json lines ({args.rate:g}/s for {seconds:g} s), "
          f"sandboxed in scratch copies, a dashboard following; each side in its own process\n")
    uet = _child("uet", args.steps, args.rate, seconds, args.keep)
    raw = _child("raw", args.steps, args.rate, seconds)
    report(uet, raw, parser_cpu_per_line(min(count, 5_000)), args.steps, args.rate, seconds, args.keep)


if __name__ == "__main__":
    main()
