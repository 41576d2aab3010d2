"""Commands that start or steer runs: validate, run, resume, retry, cancel, pause, and the
detached engine (``_exec``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from engine.errors import UsageError
from engine.liveness import live_owner
from engine.placement import ran_detached, record_placement
from engine.planner import plan_file
from engine.session import (
    cancel_offline,
    create_run,
    operator,
    raise_budget,
)
from engine.states import RUN_TERMINAL
from schemas.records import RunRecord
from schemas.states import RunState
from store import ChangeFeed, Store, queries
from tui.cli.exits import EXIT_FAILED, EXIT_OK
from tui.cli.foreground import run_in_foreground
from tui.cli.output import status_document
from tui.project import db_path, open_existing, project_root


def _warn(plan) -> None:  # noqa: ANN001
    """What is allowed but probably not meant, on stderr, before anything runs."""
    for problem in plan.warnings:
        print(f"uet: warning: {problem.render()}", file=sys.stderr)


# -- executing ------------------------------------------------------------------------------


def _detach(store: Store, root: Path, run_id: str, args: argparse.Namespace, extra: list[str]) -> int:
    from engine.steering import EngineDidNotStart, spawn_engine

    try:
        started = spawn_engine(store, root, run_id, extra)
    except EngineDidNotStart as exc:
        print(f"uet: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if getattr(args, "json", False):
        doc = status_document(run_id)
        doc["detached"] = {"pid": started.pid, "log": str(started.log)}
        print(json.dumps(doc, indent=2))
    else:
        print(run_id)
    print(f"running in the background (pid {started.pid}); follow it with: uet logs {run_id} --follow",
          file=sys.stderr)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    root = project_root(args, args.file)
    plan = plan_file(args.file, root)  # every check happens before the store is touched
    _warn(plan)
    store = Store(db_path(args, root))
    try:
        run_id = create_run(store, plan)
        if args.detach:
            return _detach(store, root, run_id, args, [])
        return run_in_foreground(store, run_id, args)
    finally:
        store.close()


def cmd_exec(args: argparse.Namespace) -> int:
    store = Store(db_path(args, project_root(args)))
    try:
        run_id = queries.resolve_run_id(args.run)
        os.environ.setdefault("UET_DETACHED", "1")
        record_placement(store, run_id, detached=True)  # so a resume of it stays in the background
        return run_in_foreground(store, run_id, argparse.Namespace(plain=True), operator_resume=args.resume,
                                 reopen=args.reopen or None, revise=args.revise)
    finally:
        store.close()


def _resolve(args: argparse.Namespace) -> tuple[Store, str]:
    store = open_existing(args)
    try:
        return store, queries.resolve_run_id(args.run)
    except Exception:
        store.close()
        raise


def parse_budget(items: list[str]) -> dict[str, object]:
    """``usd=5 tokens=200000 wall=30m`` → a validated budget update (bad input: exit 2)."""
    from pydantic import ValidationError

    from schemas.workstream import Budget

    raw: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in ("usd", "tokens", "wall"):
            raise UsageError(f"--budget {item!r}: write usd=AMOUNT, tokens=COUNT or wall=DURATION")
        raw[name] = value
    try:
        return Budget.model_validate(raw).model_dump(exclude_none=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UsageError(f"--budget {first['loc'][0]}: {first['msg'].removeprefix('Value error, ')}") from None


def cmd_resume(args: argparse.Namespace) -> int:
    budget = parse_budget(args.budget)  # checked before anything is written
    store, run_id = _resolve(args)
    try:
        run = queries.get_run(run_id)
        owner = live_owner(run)
        if owner is not None:
            command_id = store.insert_command(run_id, "resume", {"budget": budget} if budget else {}, operator())
            return _report_resume(run_id, owner, _await_command(store, command_id), bool(budget))
        if budget:
            merged = raise_budget(store, run_id, budget, operator())
            print(f"budget of run {run_id} is now " + ", ".join(f"{k}={v}" for k, v in merged.items()))
        if run.state is RunState.SUCCEEDED:
            print(f"run {run_id} already succeeded; nothing to resume")
            return EXIT_OK
        operator_resume = run.state in (RunState.FAILED, RunState.CANCELED, RunState.QUARANTINED)
        if _stays_detached(args, run_id):
            return _detach(store, Path(run.root), run_id, args, ["--resume"] if operator_resume else [])
        record_placement(store, run_id, detached=False)
        return run_in_foreground(store, run_id, args, operator_resume=operator_resume)
    finally:
        store.close()


def _stays_detached(args: argparse.Namespace, run_id: str) -> bool:
    """A run goes on where it ran: in the background if its last engine was a detached one,
    unless ``--foreground`` takes it over into this terminal; ``--detach`` sends any run there."""
    if args.detach:
        return True
    return not getattr(args, "foreground", False) and ran_detached(run_id)


def _report_resume(run_id: str, owner: str, answer: str | None, budget: bool) -> int:
    engine = f"the engine running {run_id} (worker {owner[:8]})"
    raised = "; its budget is raised" if budget else ""
    if answer == "resumed":
        print(f"{engine} resumed it: new steps start again{raised}")
        return EXIT_OK
    if answer == "not paused":
        print(f"run {run_id} is running (worker {owner[:8]}), not paused: nothing to resume{raised}")
        return EXIT_OK
    if answer is None:
        print(f"uet: {engine} has not answered the resume yet; it has the request", file=sys.stderr)
    else:
        print(f"uet: {answer}", file=sys.stderr)
    return EXIT_FAILED


def cmd_retry(args: argparse.Namespace) -> int:
    store, run_id = _resolve(args)
    try:
        step = queries.get_step(run_id, args.step)
        run = queries.get_run(run_id)
        owner = live_owner(run)
        if owner is not None:
            command_id = store.insert_command(run_id, "retry", {"step": step.id}, operator())
            answer = _await_command(store, command_id)
            if answer is None:
                print(f"uet: the engine running {run_id} has not answered the retry of {step.id} yet; "
                      "it has the request", file=sys.stderr)
                return EXIT_FAILED
            if not answer.startswith("retrying"):  # the engine refused: the step is not retryable now
                print(f"uet: {answer}", file=sys.stderr)
                return EXIT_FAILED
            print(answer)
            return EXIT_OK
        if step.state not in ("failed", "canceled", "skipped"):
            print(f"uet: step {step.id} is {step.state}; only failed, canceled or skipped steps are retried",
                  file=sys.stderr)
            return EXIT_FAILED
        if _stays_detached(args, run_id):
            return _detach(store, Path(run.root), run_id, args, ["--reopen", step.id])
        record_placement(store, run_id, detached=False)
        return run_in_foreground(store, run_id, args, reopen=[step.id])
    finally:
        store.close()


def _await_command(store: Store, command_id: int, timeout: float = 10.0) -> str | None:
    """The engine's answer to a command, once it has carried it out; None if it has not
    within ``timeout`` seconds, or the run has no live engine any more to answer it."""
    deadline = time.monotonic() + timeout
    owner_checked = time.monotonic()
    while time.monotonic() < deadline:
        command = queries.get_command(command_id)
        if command.done_at is not None:
            return command.result or "done"
        if time.monotonic() - owner_checked > 0.5:
            owner_checked = time.monotonic()
            if live_owner(queries.get_run(command.run_id)) is None:
                command = queries.get_command(command_id)
                return None if command.done_at is None else command.result or "done"
        time.sleep(0.05)
    return None


async def _await_state(store: Store, run_id: str, timeout: float) -> RunState:
    stop = asyncio.Event()
    feed = ChangeFeed(store.path, tick=0.25)
    loop = asyncio.get_running_loop()
    loop.call_later(timeout, stop.set)
    run = queries.get_run(run_id)
    if run.state in RUN_TERMINAL:
        return run.state
    async for _ in feed.changes(stop):
        run = queries.get_run(run_id)
        if run.state in RUN_TERMINAL or run.state is RunState.PAUSED or stop.is_set():
            break
    return run.state


def cmd_cancel(args: argparse.Namespace) -> int:
    store, run_id = _resolve(args)
    try:
        run = queries.get_run(run_id)
        if run.state in RUN_TERMINAL:
            print(f"run {run_id} is already {run.state.value}")
            return EXIT_OK
        reason = args.reason or f"canceled by {operator()}"
        owner = live_owner(run)
        if owner is None:
            state = cancel_offline(store, run_id, reason)
            print(f"run {run_id} {state.value} (no engine was running it)")
            return EXIT_OK
        started = time.monotonic()
        store.insert_command(run_id, "cancel", {"reason": reason}, operator())
        if args.no_wait:
            print(f"cancel requested for run {run_id}")
            return EXIT_OK
        state = asyncio.run(_await_state(store, run_id, 15.0))
        took = time.monotonic() - started
        if state is RunState.CANCELED:
            print(f"run {run_id} canceled in {took:.2f}s")
            return EXIT_OK
        print(f"run {run_id} is {state.value} after {took:.1f}s; the engine has the request")
        return EXIT_FAILED
    finally:
        store.close()


def cmd_pause(args: argparse.Namespace) -> int:
    from engine import steering

    store, run_id = _resolve(args)
    try:
        run = queries.get_run(run_id)
        if live_owner(run) is None:
            if run.state is RunState.PAUSED:
                print(f"run {run_id} is already paused; continue with: uet resume {run_id}")
                return EXIT_OK
            if run.state is not RunState.RUNNING:
                return _cannot_pause(run_id, run.state)
            message = steering.pause(store, run_id, operator(), args.reason)
            if message.endswith("(no engine was running it)"):
                print(f"{message}; continue with: uet resume {run_id}")
                return EXIT_OK
            # an engine took the run meanwhile: the request went to it, as below
            command_id = queries.run_commands(run_id, ("pause",))[-1].id
        else:
            reason = args.reason or f"paused by {operator()}"
            command_id = store.insert_command(run_id, "pause", {"reason": reason}, operator())
        return _report_pause(store, run_id, command_id)
    finally:
        store.close()


def _cannot_pause(run_id: str, state: RunState) -> int:
    print(f"uet: run {run_id} is {state.value}; only a running run can be paused", file=sys.stderr)
    return EXIT_FAILED


def _report_pause(store: Store, run_id: str, command_id: int) -> int:
    """Wait until the engine has taken the pause request, not until its running steps end
    (they may take hours): no step starts after the answer."""
    started = time.monotonic()
    answer = _await_command(store, command_id, timeout=15.0)
    run = queries.get_run(run_id)
    if answer is None:
        if run.state is RunState.PAUSED:
            print(f"run {run_id} paused")
            return EXIT_OK
        if run.state in RUN_TERMINAL:
            return _cannot_pause(run_id, run.state)
        print(f"run {run_id} is {run.state.value} after {time.monotonic() - started:.1f}s; the pause request is "
              "recorded, the engine has not taken it yet")
        return EXIT_FAILED
    running = len(queries.running_attempts(run_id))
    if running == 0 and run.state is RunState.RUNNING:  # nothing to wait for: it pauses at once
        run = asyncio.run(_await_run(store, run_id, 5.0))
    if run.state is RunState.PAUSED:
        print(f"run {run_id} paused; continue with: uet resume {run_id}")
        return EXIT_OK
    if run.state is not RunState.RUNNING:
        return _cannot_pause(run_id, run.state)
    print(f"pause requested for run {run_id}: no new step starts; the run is paused when its {running} "
          f"running step(s) finish (see: uet status {run_id})")
    return EXIT_OK


async def _await_run(store: Store, run_id: str, timeout: float) -> RunRecord:
    await _await_state(store, run_id, timeout)
    return queries.get_run(run_id)
