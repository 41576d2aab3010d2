"""What the faces ask of UET outside a run's own control, one function each, so the command line
and the MCP server (``uet mcp``) give the same answers: a workstream checked from its text, the
profile list, a patch as one document, a log or a diff cut to a size, the project's ``mcp:``
setting, and the event that records a call a program made.

Text that leaves through these functions is bounded: a log keeps its last lines, a diff its first,
each within a byte limit, and says how many lines it left out (``… N more lines``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.documents import validate_document
from engine.errors import Problem, ValidationFailed
from engine.events import Event, EventBus, Recorder
from engine.planner import Plan, build_plan
from engine.profiles import ProfileSource, available_profiles, load_profile_file
from engine.yamlsafe import MAX_BYTES, load, parse
from schemas.bootstrap import McpSettings
from schemas.patch import PatchRecord
from schemas.workstream import Workstream
from store import Store, queries

MANIFEST = ".uet/project.yaml"
#: What one recorded call keeps of each argument it was given (events are not a copy of the input).
ARGUMENT_CHARS = 200


# -- workstreams and profiles -------------------------------------------------------------------


def plan_text(text: str, name: str, root: Path) -> Plan:
    """The plan of a workstream given as text, checked as ``uet validate`` checks a file (schema,
    DAG, prompts, tools); problems name ``name`` with their line and column. Nothing is written."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise ValidationFailed([Problem(f"the text is over {MAX_BYTES // (1024 * 1024)} MiB", name, 1, 1)])
    located = parse(text, name)
    workstream = validate_document(located, Workstream)
    return build_plan(workstream, located, root / name, root)


def profile_entry(source: ProfileSource) -> dict[str, Any]:
    """One row of ``uet profiles list --json``: where the profile comes from, what it extends, and
    whether it reads; a broken file is listed with its first problem, not left out."""
    entry: dict[str, Any] = {"name": source.name, "source": source.origin, "path": str(source.path),
                             "overrides": str(source.overrides) if source.overrides else None}
    try:
        profile = load_profile_file(source.path)
    except ValidationFailed as exc:
        return {**entry, "extends": None, "description": None, "valid": False, "error": exc.problems[0].render()}
    return {**entry, "extends": profile.extends, "description": profile.description, "valid": True}


def profile_entries(root: Path | None) -> list[dict[str, Any]]:
    return [profile_entry(source) for source in available_profiles(root).values()]


# -- patches -------------------------------------------------------------------------------------


def patch_document(patch: PatchRecord) -> dict[str, Any]:
    """``uet patch show --json``: the patch, its diff, gate results, rounds and their comments."""
    rounds = queries.patch_rounds(patch.id)
    return {**patch.model_dump(mode="json"), "diff": queries.patch_diff(patch.id),
            "gate_results": [g.model_dump(mode="json") for g in queries.gate_results(patch.id)],
            "rounds": [p.model_dump(mode="json") for p in rounds],
            "comments": [c.model_dump(mode="json") for p in rounds for c in queries.patch_comments(p.id)]}


# -- bounded text --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cut:
    """Text cut to a size: what is kept, and how many lines were left out."""

    text: str
    omitted: int


def _more(count: int) -> str:
    return f"… {count} more line{'s' if count != 1 else ''}"


def head(text: str, lines: int, max_bytes: int) -> Cut:
    """The first ``lines`` lines of ``text`` within ``max_bytes`` (UTF-8), then ``… N more lines``."""
    all_lines = text.splitlines(keepends=True)
    kept: list[str] = []
    size = 0
    for line in all_lines[:lines]:
        size += len(line.encode("utf-8", "replace"))
        if size > max_bytes:
            break
        kept.append(line)
    omitted = len(all_lines) - len(kept)
    body = "".join(kept)
    if omitted:
        body += ("" if not body or body.endswith("\n") else "\n") + _more(omitted) + "\n"
    return Cut(body, omitted)


def tail(text: str, lines: int, max_bytes: int) -> Cut:
    """The last ``lines`` lines of ``text`` within ``max_bytes``, after ``… N more lines`` (above)."""
    all_lines = text.splitlines(keepends=True)
    kept: list[str] = []
    size = 0
    for line in reversed(all_lines[-lines:] if lines > 0 else []):
        size += len(line.encode("utf-8", "replace"))
        if size > max_bytes:
            break
        kept.append(line)
    kept.reverse()
    omitted = len(all_lines) - len(kept)
    return Cut((f"{_more(omitted)} above\n" if omitted else "") + "".join(kept), omitted)


def tail_file(path: Path, lines: int, max_bytes: int) -> Cut:
    """The end of a log file, read from its end (a log may be gigabytes): at most ``max_bytes``
    are read. When the file is longer, the lines before those bytes are not counted, and the
    note says how many bytes were left unread instead."""
    with open(path, "rb") as file:
        file.seek(0, 2)
        size = file.tell()
        start = max(0, size - max_bytes)
        file.seek(start)
        data = file.read()
    text = data.decode("utf-8", "replace")
    if start == 0:
        return tail(text, lines, max_bytes)
    text = text.split("\n", 1)[1] if "\n" in text else ""  # the first line read is a piece of one
    cut = tail(text, lines, max_bytes)
    body = cut.text.split("\n", 1)[1] if cut.omitted else cut.text
    unread = size - len(text.encode("utf-8", "replace"))
    note = f"… {cut.omitted} more lines, and {unread:,} bytes before them, above\n"
    return Cut(note + body, cut.omitted)


# -- the project's mcp: setting and the record of a call ------------------------------------------


def mcp_settings(root: Path) -> McpSettings:
    """The ``mcp:`` key of the project's manifest (defaults when the file or the key is absent).
    Only that key is read; a bad value is ValidationFailed naming file:line."""
    path = root / MANIFEST
    if not path.exists():
        return McpSettings()
    located = load(path)
    if not isinstance(located.data, dict) or located.data.get("mcp") is None:
        return McpSettings()
    try:
        return McpSettings.model_validate(located.data["mcp"])
    except ValidationError as exc:
        raise ValidationFailed([located.problem(error["msg"], ("mcp", *error["loc"]))
                                for error in exc.errors()]) from None


def _bounded(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= ARGUMENT_CHARS else value[:ARGUMENT_CHARS] + f"… ({len(value)} chars)"
    if isinstance(value, bool | int | float) or value is None:
        return value
    return _bounded(str(value))


def record_call(store: Store, who: str, tool: str, arguments: dict[str, Any], outcome: str,
                run_id: str | None = None, error: str | None = None) -> None:
    """An ``mcp.call`` event: which program called which tool with what (each argument cut to
    ``ARGUMENT_CHARS``), and whether it was done, refused or failed."""
    data: dict[str, Any] = {"who": who, "tool": tool, "outcome": outcome,
                            "arguments": {str(k)[:40]: _bounded(v) for k, v in list(arguments.items())[:12]}}
    if error:
        data["error"] = error[:500]
    Recorder(store, EventBus()).write((), [Event(time.time(), "mcp.call", run_id, None, data)])
    store.sync()
