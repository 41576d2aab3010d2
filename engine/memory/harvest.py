"""Harvest: the lessons a run taught, read from the store after the fact rather than gathered by
hooks all over the engine.

A step teaches when something failed, and more when a later attempt or round got past it:

* **error**: an attempt failed (its error and the end of its output, or of its log); fixed when a later
  attempt of the step succeeded (the fix is the diff of the patch that attempt proposed, if any);
* **gate**: a patch's gate failed (the failing commands' output); fixed when a later round of
  the step passed its gate (the fix is that round's diff);
* **review**: a reviewer's submitted comments on a patch; fixed when a later round of the step
  was approved or applied.

A failure nothing got past is kept as *unresolved*: what not to do. Each lesson names its source
(an attempt or a patch), unique in the store, so harvesting a run again updates what changed (an
unresolved lesson a resumed run fixed) and never adds a copy. Everything is bounded before it
reaches the store, and the values of secret-looking environment variables and of the step's own
``env`` are masked.

``harvest`` runs when a run ends (``engine.runner``); ``catch_up`` runs when a run starts, for the
runs whose patches were decided since (an approval or a request for changes made after the run
ended teaches too).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from typing import Any

from engine.agents.stream import mask, secrets_of
from engine.prompts import CONTEXT_SECTIONS, PROMPT_TOKEN
from store import Store, ops
from store import lessons as stored
from store.codec import dumps

MAX_TASK_CHARS = 2_000
MAX_FAILURE_CHARS = 4_000
MAX_FIX_CHARS = 16 * 1024
MAX_FILES = 50
MAX_LESSONS_PER_STEP = 20
#: What a failed attempt's lesson quotes of its output or log.
LOG_TAIL_CHARS = 1_500
#: Patch states that passed their gate, and those a person accepted.
PASSED = frozenset({"gate_passed", "approved", "applied"})
ACCEPTED = frozenset({"approved", "applied"})
FAILED_ATTEMPT = frozenset({"failed", "timed_out", "crashed"})
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION", re.IGNORECASE)


def bound(text: str | None, limit: int, *, tail: bool = False) -> str:
    """``text`` cut to ``limit`` characters with a note (keeping its end when ``tail``)."""
    text = (text or "").replace("\0", "")
    if len(text) <= limit:
        return text
    return ("[… cut]\n" + text[-limit:]) if tail else (text[:limit] + "\n[… cut]")


def task_text(spec: dict[str, Any]) -> str:
    """What a step was asked, as words to compare: its description and its prompt without
    placeholders (``{gate.feedback}`` is not what the task is about)."""
    parts = [spec.get("description") or "", PROMPT_TOKEN.sub(" ", spec.get("prompt") or "")]
    return bound(" ".join(p.strip() for p in parts if p and p.strip()), MAX_TASK_CHARS)


def step_files(spec: dict[str, Any]) -> list[str]:
    """The files a step is pointed at (its ``context``, sections aside)."""
    return [c for c in spec.get("context", []) if c not in CONTEXT_SECTIONS]


def _secrets(spec: dict[str, Any]) -> tuple[str, ...]:
    values = [v for k, v in os.environ.items() if _SECRET_NAME.search(k)]
    values += [v for v in (spec.get("env") or {}).values() if isinstance(v, str)]
    return secrets_of(values)


def _files(*groups: Iterable[str]) -> list[str]:
    found: dict[str, None] = {}
    for group in groups:
        for name in group:
            if name and len(found) < MAX_FILES:
                found[bound(name, 500)] = None
    return list(found)


def lessons_of_run(run_id: str, now: float) -> list[Any]:
    """The store statements that keep the run's lessons (see the module docstring): those not
    kept yet, or known better now; never one a person forgot."""
    attempts = stored.run_attempts(run_id)
    patches = stored.run_patches(run_id)
    ids = [p["id"] for p in patches]
    gates = stored.failed_gates(ids)
    comments = stored.submitted_comments(ids)
    out: list[Any] = []
    kept = stored.kept_for_run(run_id)
    forgotten = stored.forgotten_sources(run_id)
    for sid, kind, spec in stored.run_steps(run_id, (a[0] for a in attempts)):
        mine = [a for a in attempts if a[0] == sid]
        if not mine:
            continue
        rounds = sorted((p for p in patches if p["step_id"] == sid), key=lambda p: p["round"])
        tools = {a[1]: a[2] for a in mine}
        secrets = _secrets(spec)
        task = task_text(spec)
        context = step_files(spec)
        found: list[tuple[Any, ...]] = []  # (tool, files, failure kind, failure, fix, outcome, rounds, source)
        gated = set()
        for index, patch in enumerate(rounds):
            later = [q for q in rounds[index + 1:] if q["round"] > patch["round"]]
            tool = tools.get(patch["attempt"], "?")

            def lesson(failure_kind: str, failure: str, fixed: dict[str, Any] | None, source: str,
                       patch: dict[str, Any] = patch, tool: str = tool,
                       context: list[str] = context) -> tuple[Any, ...]:
                return (tool, _files(patch["files"], fixed["files"] if fixed else (), context), failure_kind,
                        failure, fixed["diff"] if fixed else "", "fixed" if fixed else "unresolved",
                        fixed["round"] - patch["round"] + 1 if fixed else 1, f"patch:{patch['id']}:{source}")

            failed = gates.get(patch["id"])
            if failed:
                gated.add(patch["attempt"])
                last = max(r[0] for r in failed)
                text = "\n".join(f"$ {_command(cmd)} (exit {code})\n{tail.rstrip()}"
                                 for round_, cmd, code, tail in failed if round_ == last)
                fixed = next((q for q in later if not gates.get(q["id"]) and q["state"] in PASSED), None)
                found.append(lesson("gate", f"gate {patch['gate']} failed:\n{text}", fixed, "gate"))
            said = comments.get(patch["id"])
            if said:
                text = "\n".join(f"{path or '(patch)'}{f':{line}' if line else ''}: {body}" for path, line, body in said)
                fixed = next((q for q in later if q["state"] in ACCEPTED), None)
                found.append(lesson("review", f"a reviewer asked for changes:\n{text}", fixed, "review"))
        seen_errors: set[str] = set()
        for _sid, number, tool, state, error, output, log in mine:
            if state not in FAILED_ATTEMPT or number in gated:
                continue
            said = output or log_tail(log)
            failure = (error or state) + (f"\n{bound(said, LOG_TAIL_CHARS, tail=True)}" if said else "")
            if failure in seen_errors:  # the same failure retried is one lesson
                continue
            seen_errors.add(failure)
            success = next((a for a in mine if a[1] > number and a[3] == "succeeded"), None)
            patch = next((p for p in rounds if success is not None and p["attempt"] == success[1]), None)
            found.append((tool, _files(patch["files"] if patch else (), context), "error",
                          f"the attempt {state}: {failure}", patch["diff"] if patch else "",
                          "fixed" if success else "unresolved", success[1] - number + 1 if success else 1,
                          f"attempt:{run_id}:{sid}:{number}"))
        for tool, files, failure_kind, failure, fix, outcome, count, source in found[:MAX_LESSONS_PER_STEP]:
            failure = bound(mask(failure, secrets), MAX_FAILURE_CHARS, tail=True)
            fix = bound(mask(fix, secrets), MAX_FIX_CHARS)
            if source in forgotten or kept.get(source) == (outcome, fix, dumps(files), failure):
                continue
            out.append(stored.upsert_lesson(now, run_id, sid, kind, tool, task, files, failure_kind, failure, fix,
                                            outcome, count, source))
    return out


def log_tail(path: str | None) -> str:
    """The end of an attempt's log (what it printed, stderr included), read bounded; empty when
    the log is gone."""
    if not path:
        return ""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - LOG_TAIL_CHARS * 4))
            data = handle.read(LOG_TAIL_CHARS * 4)
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")[-LOG_TAIL_CHARS:].strip()


def _command(text: str) -> str:
    import json

    try:
        argv = json.loads(text)
    except ValueError:
        return text
    return " ".join(str(a) for a in argv) if isinstance(argv, list) else text


def harvest(store: Store, run_id: str, now: float | None = None) -> int:
    """Keep the lessons of one run; returns how many were new or changed (a ``memory.harvested``
    event says so when any were)."""
    ts = time.time() if now is None else now
    unit = lessons_of_run(run_id, ts)
    count = len(unit)
    if count:
        store.execute_now([*unit, ops.insert_event(ts, "memory.harvested", run_id, None, {"lessons": count})])
    return count


def catch_up(store: Store, now: float | None = None) -> list[str]:
    """Harvest again the ended runs whose patches were decided since the last catch-up (at most
    50, the latest); returns their ids."""
    ts = time.time() if now is None else now
    since = stored.harvested_at()
    runs = stored.runs_changed_since(since or 0.0)
    for run_id in runs:
        harvest(store, run_id, ts)
    if since is None or runs:
        store.execute_now([stored.set_harvested_at(ts)])
    return runs
