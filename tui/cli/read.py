"""Read commands: runs, status, logs. Each takes ``--json``; ``logs --follow`` is driven by
the store's change feed.

They read with ``store.reads`` on a plain ``sqlite3`` connection (``read_existing``): no ORM, no
Pydantic, no asyncio unless a log is followed, so a command costs little more than Python's
start. ``uet logs`` writes each event as it is read, a batch at a time.
"""

from __future__ import annotations

import argparse
import codecs
import json
import sqlite3
import sys
import time
from collections.abc import Callable, Collection, Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

from engine.errors import NotFound, UsageError
from engine.liveness import RunEngine, live_owner, run_engines
from engine.progress import Tally
from engine.states import RUN_TERMINAL, STEP_TERMINAL
from schemas.states import RunState, StepState
from store import reads
from store.reads import AttemptRow, RunRow
from tui.cli.exits import EXIT_OK
from tui.cli.output import (
    activity_fields,
    elapsed,
    engine_fields,
    print_table,
    status_document,
    status_parts,
    step_document,
)
from tui.format import (
    describe,
    duration,
    engine_lost,
    glyph,
    label,
    step_state_words,
    waiting,
    when,
)
from tui.project import read_existing

_LOG_CHUNK = 1 << 16  # bytes of a log read at a time
_STDERR_MARK = "2| "  # before a line of stderr in ``uet logs`` text on a terminal
_EVENT_BATCH = 2_000  # events written at a time


def _state_text(run: RunRow, engine: RunEngine | None, now: float) -> str:
    if engine is None or engine.live:
        if run.state is RunState.RUNNING and run.pausing:
            return f"{glyph('paused')} pausing"
        if run.state is RunState.RUNNING and run.waiting_on:
            return waiting(run.waiting_on, run.waiting_until, now).line
        return label(run.state.value)
    return f"{glyph('lost')} {engine_lost(engine.lost_for(now) or 0.0)}"


def _stopped_at(run: RunRow, engine: RunEngine | None) -> float | None:
    """Where the run's clock stops: its end, or the last sign of life of its lost engine."""
    return run.ended_at if engine is None or engine.live else run.ended_at or engine.last_seen


def _resume_hint(run_id: str, engine: RunEngine | None, now: float) -> str | None:
    if engine is None or engine.live:
        return None
    return f"{engine_lost(engine.lost_for(now) or 0.0)} — uet resume {run_id}"


def progress_words(tally: Tally) -> str:
    """``57/61 95% ✘ 2 ↷ 2``: succeeded of all, the percent that succeeded, the other ends."""
    return " ".join([f"{tally.succeeded}/{tally.total} {tally.percent:3.0f}%",
                     *(f"{glyph(state)} {n}" for state, n in tally.ends() if state != "succeeded")])


def cmd_runs(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UsageError(f"--limit must be at least 1 (got {args.limit})")
    states = _asked_states(args.state, RunState, RUN_TERMINAL)
    path, conn = read_existing(args)
    try:
        runs = reads.list_runs(conn, limit=args.limit, states=states)
        now = time.time()
        engines = run_engines(runs, now, conn)
        if args.json:
            out = []
            for run in runs:
                tally = Tally.of_run(run)
                out.append({"id": run.id, "state": run.state.value, "workstream": run.workstream,
                            "steps": tally.total, "finished": tally.finished, "failed": tally.failed,
                            "progress": tally.as_dict(), **activity_fields(run),
                            "created_at": run.created_at, "started_at": run.started_at, "ended_at": run.ended_at,
                            **engine_fields(engines.get(run.id))})
            print(json.dumps(out, indent=2))
            return EXIT_OK
        if not runs:
            if states is None:
                print("no runs yet: start one with `uet run FILE`")
            else:
                print(f"no run {' or '.join(args.state)}")
            return EXIT_OK
        rows = [("ID", "WORKSTREAM", "STATE", "PROGRESS", "DURATION", "CREATED")]
        hints = []
        for run in runs:
            engine = engines.get(run.id)
            rows.append((run.id, run.workstream, _state_text(run, engine, now), progress_words(Tally.of_run(run)),
                         duration(elapsed(run.started_at, _stopped_at(run, engine))),
                         time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created_at))))
            hint = _resume_hint(run.id, engine, now)
            if hint:
                hints.append(f"{run.id} ({run.state.value}): {hint}")
        print_table(rows)
        if hints:
            print()
            print("\n".join(hints))
        return EXIT_OK
    finally:
        conn.close()


def _asked_states(asked: list[str] | None, states: Iterable[StrEnum], finished: Collection[StrEnum]) -> list[str] | None:
    """The states ``--state`` asks for, of runs or of steps; ``active`` stands for every state of
    ``states`` not ``finished``. None when it was not given."""
    if not asked:
        return None
    chosen = {state for state in asked if state != "active"}
    if "active" in asked:
        chosen |= {state.value for state in states if state not in finished}
    return sorted(chosen)


def cmd_status(args: argparse.Namespace) -> int:
    if args.state and args.step is not None:
        raise UsageError("--state lists the run's steps: give it without a step")
    shown = _asked_states(args.state, StepState, STEP_TERMINAL)
    path, conn = read_existing(args)
    try:
        run_id = reads.resolve_run_id(conn, args.run)
        if args.step is not None:
            return _step_status(step_document(run_id, args.step, conn), args.json)
        if args.json:
            print(json.dumps(status_document(run_id, conn, shown), indent=2))
            return EXIT_OK
        doc, steps = status_parts(run_id, conn, shown)
        progress = doc["progress"]
        now = time.time()
        lost = doc["engine"] == "lost"
        print(f"run {doc['id']}  {doc['workstream']}  {label(doc['state'])}"
              + (f": {doc['reason']}" if doc["reason"] else ""))
        if lost:
            print(f"  {engine_lost(max(0.0, now - doc['engine_lost_at']))} — uet resume {doc['id']}")
        stopped = doc["ended_at"] or (doc["engine_lost_at"] if lost else None)
        tally = Tally(**{k: progress[k] for k in ("total", "succeeded", "failed", "skipped", "canceled", "running")})
        print(f"  {tally.succeeded}/{tally.total} succeeded ({tally.percent:.0f}%)"
              + "".join(f", {glyph(state)} {n} {state}" for state, n in tally.ends() if state != "succeeded")
              + (f", {tally.running} running" if tally.running else "")
              + (f", {tally.remaining - tally.running} not started" if tally.remaining > tally.running else "")
              + f"; elapsed {duration(elapsed(doc['started_at'], stopped))}"
              + (f"; engine {doc['worker'][:8]}" if doc["worker"] else ""))
        if doc["pausing"]:
            print(f"  pausing ({doc['pausing']}): no new step starts; the run pauses when its "
                  f"{tally.running} running step(s) finish")
        elif doc["waiting_on"] and not lost:
            print(f"  {waiting(doc['waiting_on'], doc['waiting_until'], now).words}: nothing executes until then")
        rows = [("STEP", "STATE", "ATTEMPTS", "TOOL", "EXIT", "DURATION", "NOTE")]
        labels: dict[str, str] = {}
        for step in steps:
            state = step.state
            note = f"until {when(step.due_at, now)}" if state == "waiting" and step.due_at else \
                (step.reason or "")[:60]
            rows.append((step.id, labels.get(state) or labels.setdefault(state, label(state)), str(step.attempts),
                         step.tool or "-", "-" if step.exit_code is None else str(step.exit_code),
                         duration(step.ended_at - step.started_at if step.ended_at and step.started_at is not None
                                  else None), note))
        print()
        if shown is None:
            print_table(rows)
        elif steps:
            print_table(rows)
            print(f"{len(steps):,} of {tally.total:,} steps: {' or '.join(args.state)}")
        else:
            print(f"no step {' or '.join(args.state)}")
        if doc["breakers"]:
            print()
            rows = [("TOOL", "BREAKER", "FAILURES IN A ROW", "RECENT FAILURES", "PROBE AT")]
            for b in doc["breakers"]:
                probe = "-"
                if b["state"] == "open" and b["opened_at"]:
                    probe = time.strftime("%H:%M:%S", time.localtime(b["opened_at"]))
                rows.append((b["tool"], label(b["state"]), str(b["consecutive_failures"]),
                             f"{sum(b['window'])}/{len(b['window'])}", probe))
            print_table(rows)
        return EXIT_OK
    finally:
        conn.close()


def _tokens(count: int | None) -> str:
    if count is None:
        return "?"
    return f"{count / 1000:.1f}k" if count >= 10_000 else f"{count:,}"


def _step_status(doc: dict[str, Any], as_json: bool) -> int:
    """``uet status RUN STEP``: the step, each attempt (outcome, time, tokens, dollars, why it
    ended), and its output, whole."""
    if as_json:
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    print(f"step {doc['id']}  {label(doc['state'])}  kind {doc['kind']}  tool {doc['tool'] or '-'}"
          + (f"  ({duration(doc['duration'])})" if doc["duration"] is not None else ""))
    if doc["state"] == "waiting" and doc["due_at"]:
        print(f"  waits until {when(doc['due_at'], time.time())}")
    if doc["reason"]:
        print(f"  {doc['reason']}")
    rows = [("ATTEMPT", "STATE", "TOOL", "DURATION", "TOKENS IN/OUT", "COST", "MODEL", "ERROR")]
    for a in doc["attempts"]:
        tokens = "-" if a["tokens_in"] is None and a["tokens_out"] is None else \
            f"{_tokens(a['tokens_in'])}/{_tokens(a['tokens_out'])}"
        cost = "-" if a["usd"] is None else f"${a['usd']:.4f}"
        rows.append((str(a["number"]), label(a["state"]), a["tool"], duration(a["duration"]), tokens, cost,
                     (a["model"] or "-")[:24], (a["error"] or "")[:50]))
    if len(rows) > 1:
        print()
        print_table(rows)
    last = doc["attempts"][-1] if doc["attempts"] else None
    if last is not None:
        print()
        if last["prompt_path"]:
            print(f"prompt: {last['prompt_path']}")
        if last["log_path"]:
            print(f"log:    {last['log_path']}")
    print()
    if doc["output"] is None:
        print("output: none yet" if doc["state"] not in STEP_TERMINAL else "output: none")
    else:
        print("output:")
        for line in doc["output"].splitlines() or [""]:
            print(f"  {line}")
    return EXIT_OK


def _finished(conn: sqlite3.Connection, run_id: str) -> bool:
    run = reads.get_run(conn, run_id)
    return (run.state in RUN_TERMINAL or run.state is RunState.PAUSED) and live_owner(run, conn) is None


class _EventLines:
    """Writes a run's events from a sequence number on, as lines of words or, with ``--json``,
    one object per line (the fields of ``EventRecord``). Rows are written as the cursor yields
    them, ``_EVENT_BATCH`` lines a write: a run of any length costs the same memory."""

    def __init__(self, conn: sqlite3.Connection, run_id: str, as_json: bool) -> None:
        self.conn, self.run_id, self.as_json = conn, run_id, as_json
        self.seq = 0  # the last event written
        self._stamps: dict[int, str] = {}  # whole second -> HH:MM:SS; events come many a second
        self._words: dict[str, str] = {}  # a step.state body as stored -> its words after the step

    def _stamp(self, ts: float) -> str:
        second = int(ts)
        stamp = self._stamps.get(second)
        if stamp is None:
            if len(self._stamps) > 4_096:
                self._stamps.clear()
            stamp = self._stamps[second] = time.strftime("%H:%M:%S", time.localtime(second))
        return stamp

    def _lines(self, batch: list[tuple]) -> list[str]:
        """A batch in words. A step's state change says the same after the step's name whenever
        its body is the same (every start of attempt 1 with one tool), so each distinct body of a
        ``step.state`` is decoded and worded once; the rest are decoded in one call. Events come
        in time order, many a second: the clock is worded again only when the second changes."""
        words = self._words
        if len(words) > 16_384:
            words.clear()
        fresh = dict.fromkeys(raw for _, _, _, kind, raw in batch if kind != "step.state" or raw not in words)
        decoded = dict(zip(fresh, json.loads("[" + ",".join(fresh) + "]"), strict=True)) if fresh else {}
        lines: list[str] = []
        add = lines.append
        stamp, lo, hi, now = self._stamp, 1.0, 0.0, ""
        for _, ts, step_id, kind, raw in batch:
            if not lo <= ts < hi:
                now = stamp(ts)
                lo = float(int(ts))
                hi = lo + 1.0
            if kind == "step.state":
                said = words.get(raw)
                if said is None:
                    said = words[raw] = step_state_words(decoded[raw])
                add(f"{now} step {step_id}{said}" if step_id else f"{now} {said}")
            else:
                add(f"{now} {describe(kind, step_id, decoded[raw])}")
        return lines

    def write_new(self) -> None:
        """Write every event after the last one written. A batch's ``data`` is decoded in one
        call of the JSON decoder (one array of them all), not one call per event."""
        cursor = reads.events(self.conn, self.run_id, self.seq)
        run_id = self.run_id
        while batch := cursor.fetchmany(_EVENT_BATCH):
            if self.as_json:
                datas = json.loads("[" + ",".join([row[4] for row in batch]) + "]")
                lines = [json.dumps({"seq": seq, "ts": ts, "run_id": run_id, "step_id": step_id, "kind": kind,
                                     "data": data}) for (seq, ts, step_id, kind, _), data in zip(batch, datas, strict=True)]
            else:
                lines = self._lines(batch)
            sys.stdout.write("\n".join(lines) + "\n")
            self.seq = batch[-1][0]
        sys.stdout.flush()


async def _follow_events(path: Path, out: _EventLines) -> None:
    import asyncio

    from store.feed import ChangeFeed

    out.write_new()
    async for _ in ChangeFeed(path).changes(asyncio.Event()):
        out.write_new()
        if _finished(out.conn, out.run_id):
            out.write_new()
            return


class _StepLog:
    """Copies a step's attempt logs to stdout chunk by chunk (a log of any size costs the same
    memory), as text or, with ``--json``, one object per line.

    Where the log's stream index says a line came from stderr (``engine.logindex``), ``--json``
    says so in ``stream`` and text ``marks`` it with ``2| `` in front (on a terminal by default;
    a pipe gets the log as it is)."""

    def __init__(self, run_id: str, step_id: str, as_json: bool, marks: bool = False) -> None:
        self.run_id, self.step_id, self.as_json, self.marks = run_id, step_id, as_json, marks
        self.index: Any = None  # the log's stream index (engine.logindex.LogIndex), once read
        self.stream = "-"  # the stream of the line being printed
        self.line_begins = True  # the next byte read begins a line
        self.number: int | None = None
        self.path: str | None = None
        self.offset = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.pending = ""  # JSON: the line not ended yet
        self.at_line_start = True

    def switch(self, attempt: AttemptRow) -> None:
        """Finish the attempt being printed (its last bytes included), then go on with this one."""
        if self.number is not None:
            self.drain()
            self.end()
            if not self.as_json:
                if not self.at_line_start:
                    sys.stdout.write("\n")
                sys.stdout.write(f"── attempt {attempt.number} ({attempt.tool}) ──\n")
                self.at_line_start = True
        self.number, self.path, self.offset = attempt.number, attempt.log_path, 0
        self.index, self.stream, self.line_begins = None, "-", True
        self.decoder.reset()

    def drain(self) -> None:
        """Print what the attempt's log holds beyond what was printed already."""
        if not self.path:
            return
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return
        if self.as_json or self.marks:
            from engine.logindex import read_index  # standard library only

            self.index = read_index(self.path)
        with handle:
            handle.seek(self.offset)
            while chunk := handle.read(_LOG_CHUNK):
                start = self.offset
                self.offset += len(chunk)
                if self.index is None:
                    self._text(self.decoder.decode(chunk))
                else:
                    self._marked(start, chunk)
        sys.stdout.flush()

    def _marked(self, start: int, chunk: bytes) -> None:
        """Print ``chunk`` (read at ``start``) line by line, each with the stream it began on."""
        at, size = 0, len(chunk)
        while at < size:
            if self.line_begins:
                self.stream = self.index.stream_at(start + at)
                if self.marks and self.stream == "e":
                    sys.stdout.write(_STDERR_MARK)
            end = chunk.find(b"\n", at)
            end = size if end < 0 else end + 1
            self._text(self.decoder.decode(chunk[at:end]))
            self.line_begins = chunk[end - 1] == 0x0A
            at = end

    def end(self) -> None:
        """The attempt's output is complete: print a character cut short and the last line."""
        self._text(self.decoder.decode(b"", final=True))
        if self.as_json and self.pending:
            self._line(self.pending)
            self.pending = ""
        sys.stdout.flush()

    def _text(self, text: str) -> None:
        if not text:
            return
        if not self.as_json:
            sys.stdout.write(text)
            self.at_line_start = text.endswith("\n")
            return
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()
        for line in lines:
            self._line(line)
        while len(self.pending) >= _LOG_CHUNK:  # a line without end is cut, not held whole
            self._line(self.pending[:_LOG_CHUNK])
            self.pending = self.pending[_LOG_CHUNK:]

    def _line(self, text: str) -> None:
        stream = {"o": "stdout", "e": "stderr"}.get(self.stream)
        sys.stdout.write(json.dumps({"run": self.run_id, "step": self.step_id, "attempt": self.number,
                                     "stream": stream, "text": text}) + "\n")


def _no_attempt(step_id: str, number: int, attempts: list[AttemptRow]) -> NotFound:
    have = ", ".join(str(a.number) for a in attempts)
    return NotFound(f"step {step_id} has no attempt {number}; "
                    + (f"its attempts are {have}" if have else "it has not run yet"))


def _print_step(path: Path, conn: sqlite3.Connection, run_id: str, step_id: str, wanted: int | None,
                follow: bool, as_json: bool, marks: bool = False) -> None:
    """Print the step's latest attempt (or ``wanted``); with ``follow``, keep printing as it is
    written, through the attempts that follow, until the step (or the run) is over. A step that
    ends without running — skipped, canceled while it waited — ends the follow too."""
    out = _StepLog(run_id, step_id, as_json, marks)
    if wanted is not None and wanted < 1:
        raise _no_attempt(step_id, wanted, reads.attempts(conn, run_id, step_id))

    def pump() -> bool:
        """Print what is new; True when there is nothing more to wait for."""
        # The step and the run are read before the attempts: once they say "over", the
        # attempts read after them are all there will be.
        step = reads.get_step(conn, run_id, step_id)
        over = step.state in STEP_TERMINAL or _finished(conn, run_id)
        attempts = reads.attempts(conn, run_id, step_id)
        if wanted is not None:
            target = next((a for a in attempts if a.number == wanted), None)
            if target is None:
                if follow and not over:
                    return False
                raise _no_attempt(step_id, wanted, attempts)
        elif attempts:
            target = attempts[-1]
        else:
            if follow and not over:
                return False
            print(f"step {step_id} has not run yet ({step.state})", file=sys.stderr)
            return True
        if out.number != target.number:
            out.switch(target)
        out.drain()
        if not follow or target.state != "running" and (over or wanted is not None):
            out.end()
            return True
        return False

    if pump():
        return
    import asyncio  # only to follow: what is there already is printed without it

    asyncio.run(_follow_step(path, pump))


async def _follow_step(path: Path, pump: Callable[[], bool]) -> None:
    import asyncio

    from store.feed import ChangeFeed

    async for _ in ChangeFeed(path, tick=0.25).changes(asyncio.Event()):
        if pump():
            return


def cmd_logs(args: argparse.Namespace) -> int:
    path, conn = read_existing(args)
    try:
        run_id = reads.resolve_run_id(conn, args.run)
        if args.step is None:
            out = _EventLines(conn, run_id, args.json)
            if args.follow:
                import asyncio  # only to follow: a run's events are read without it

                asyncio.run(_follow_events(path, out))
            else:
                out.write_new()
            return EXIT_OK
        step = reads.get_step(conn, run_id, args.step)
        marks = args.marks == "always" or args.marks == "auto" and sys.stdout.isatty()
        _print_step(path, conn, run_id, step.id, args.attempt, args.follow, args.json, marks)
        return EXIT_OK
    finally:
        conn.close()
