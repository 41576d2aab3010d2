"""Episodic memory: what earlier attempts taught (``harvest``), offered to later steps that
resemble them (``recall``). What the router learns per tool and kind of step is read from the
same store (``store.tool_totals.kind_stats``; ``engine.router``'s ``auto``, ``uet tools``).

A step receives its lessons through the ``{memory}`` placeholder of its prompt, or with
``context: [memory]`` under the heading "Lessons from earlier runs"; ``memory: {tokens: N}``
bounds them (``recall.DEFAULT_TOKENS`` otherwise). Lessons of the step's own run are left out:
they are not earlier runs, and a fix round has its gate feedback already.
"""

from __future__ import annotations

import time
from typing import Any

from engine.memory.harvest import catch_up, harvest, step_files, task_text
from engine.memory.recall import DEFAULT_TOKENS, recall, render
from schemas.memory import Lesson
from store import Store, ops

__all__ = ["catch_up", "forget", "harvest", "recall", "render", "step_memory"]


def step_memory(spec: dict[str, Any], run_id: str, kind: str | None = None) -> str:
    """The lessons for a step, rendered within its budget (empty when none is relevant)."""
    from store.lessons import reading

    tokens = int((spec.get("memory") or {}).get("tokens", DEFAULT_TOKENS))
    with reading():
        found = recall(task_text(spec), step_files(spec), kind=kind or spec.get("kind", "task"), tokens=tokens,
                       exclude_run=run_id)
    return render(found, tokens)


def forget(store: Store, lesson_id: int, by: str) -> Lesson:
    """Delete a lesson (a person judged it wrong or stale), recorded as an event naming who."""
    from store import lessons as stored

    lesson = stored.get_lesson(lesson_id)
    now = time.time()
    store.execute_now([stored.delete_lesson(lesson_id),
                       ops.insert_event(now, "memory.forgotten", lesson.run_id, lesson.step_id,
                                        {"lesson": lesson_id, "by": by, "source": lesson.source})])
    return lesson
