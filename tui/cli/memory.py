"""``uet memory``: the lessons earlier runs taught (``engine.memory``): list them, search them as
a step would be matched, show one whole, forget one. Each first harvests the runs whose patches
were decided since the last harvest, as a run's start does."""

from __future__ import annotations

import argparse
import json
import re

from engine.memory import catch_up, forget, recall
from engine.session import operator
from schemas.memory import Lesson
from store import Store
from store import lessons as stored
from tui.cli.exits import EXIT_OK
from tui.format import age
from tui.project import open_existing

OUTCOME = {"fixed": "✔ fixed", "unresolved": "✘ unresolved"}
#: Characters of a lesson's failure in a listing (``show`` prints it whole).
GIST = 60


def cmd_memory(args: argparse.Namespace) -> int:
    store = open_existing(args)
    try:
        # A patch approved or sent back since the last run teaches already: what is shown is
        # what the next run's start would harvest.
        catch_up(store)
        return COMMANDS[args.memory_command](args, store)
    finally:
        store.close()


def _gist(lesson: Lesson) -> str:
    """The line of the failure that says most: the last one naming an exception, else a failed
    test or assertion, else any error or failure, else its first line after the heading."""
    lines = [line.strip() for line in lesson.failure.splitlines()[1:] if line.strip() and not line.startswith("$ ")]
    text = lines[0] if lines else lesson.failure.strip()
    for pattern in (r"\w(Error|Exception)\b", r"\bFAILED\b|\bassert\b", r"error|fail"):
        telling = [line for line in lines if re.search(pattern, line, re.IGNORECASE)]
        if telling:
            text = re.sub(r"^FAILED \S+ - ", "", telling[-1])  # pytest's summary line: its error
            break
    return text if len(text) <= GIST else text[: GIST - 1] + "…"


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _list(args: argparse.Namespace, store: Store) -> int:
    found = stored.list_lessons(limit=args.limit)
    if args.json:
        print(json.dumps([lesson.model_dump(mode="json") for lesson in found], indent=2))
        return EXIT_OK
    if not found:
        print("no lessons yet: a step that fails, and what fixes it, is kept when its run ends")
        return EXIT_OK
    rows = [("ID", "OUTCOME", "KIND", "STEP", "TOOL", "FAILED", "AGE", "WHAT")]
    rows += [(str(le.id), OUTCOME[le.outcome], le.kind, le.step_id, le.tool, le.failure_kind, age(le.created_at),
              _gist(le)) for le in found]
    _table(rows)
    return EXIT_OK


def _search(args: argparse.Namespace, store: Store) -> int:
    found = recall(args.text, args.file, kind=args.kind, tokens=10**6, limit=args.limit)
    if args.json:
        print(json.dumps([item.model_dump(mode="json") for item in found], indent=2))
        return EXIT_OK
    if not found:
        print("no lesson is relevant enough to this (a step like it would be offered none)")
        return EXIT_OK
    rows = [("ID", "SCORE", "FILES", "TEXT", "OUTCOME", "KIND", "STEP", "WHAT")]
    rows += [(str(r.lesson.id), f"{r.score:.2f}", f"{r.files:.2f}", f"{r.text:.2f}", OUTCOME[r.lesson.outcome],
              r.lesson.kind, r.lesson.step_id, _gist(r.lesson)) for r in found]
    _table(rows)
    return EXIT_OK


def _show(args: argparse.Namespace, store: Store) -> int:
    lesson = stored.get_lesson(args.id)
    if args.json:
        print(json.dumps(lesson.model_dump(mode="json"), indent=2))
        return EXIT_OK
    print(f"lesson {lesson.id}  {OUTCOME[lesson.outcome]}  ({lesson.failure_kind}, {age(lesson.created_at)})")
    print(f"run {lesson.run_id}  step {lesson.step_id}  kind {lesson.kind}  tool {lesson.tool}  "
          f"rounds {lesson.rounds}")
    print(f"source: {lesson.source}")
    if lesson.files:
        print("files: " + ", ".join(lesson.files))
    if lesson.task:
        print(f"task:\n  {lesson.task}")
    print("failure:")
    for line in lesson.failure.splitlines():
        print(f"  {line}")
    if lesson.fix:
        print("fix:")
        for line in lesson.fix.splitlines():
            print(f"  {line}")
    return EXIT_OK


def _forget(args: argparse.Namespace, store: Store) -> int:
    lesson = forget(store, args.id, operator())
    print(f"lesson {lesson.id} forgotten (step {lesson.step_id} of run {lesson.run_id})")
    return EXIT_OK


COMMANDS = {"list": _list, "search": _search, "show": _show, "forget": _forget}
