"""Notifications a terminal can show: the bell and an OSC 9 / OSC 777 desktop notification,
for a run that ended or a patch that waits for review.

The sequences are built here, as plain strings, and written by the faces (``uet run`` to its
terminal, the dashboard through its Textual driver). Run names, step ids and reasons come from
workstream files and tools, so every text is cleaned first: a control character (an ``ESC`` or
a ``BEL`` above all) in a name could end the sequence early and make the terminal obey what
follows, so none gets through, and each field is cut to a bounded length.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from schemas.settings import NotifySettings
    from schemas.settings_defaults import Notify

#: Longest title and body, in characters; terminals show a line or two of either.
TITLE_LIMIT = 60
BODY_LIMIT = 160

BEL = "\a"
ESC = "\x1b"


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing worth telling a person who is not looking: ``kind`` is what ``notify.when``
    selects (failed, succeeded, review)."""

    kind: str
    title: str
    body: str
    run_id: str | None = None


def clean(text: object, limit: int) -> str:
    """``text`` with no control characters (C0, DEL, C1, and Unicode's format and separator
    controls such as bidi overrides), whitespace runs made one space, at most ``limit`` long."""
    out: list[str] = []
    for char in str(text):
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Zl", "Zp"):
            char = " "
        if char.isspace():
            if out and out[-1] != " ":
                out.append(" ")
            continue
        out.append(char)
    cleaned = "".join(out).strip()
    if len(cleaned) > limit:
        cleaned = cleaned[: max(limit - 1, 0)].rstrip() + "…"
    return cleaned


def sequence(notice: Notice, settings: Notify | NotifySettings) -> str:
    """What to write to the terminal for ``notice`` (empty when the settings want nothing).

    OSC 9 (iTerm2, WezTerm, Windows Terminal, kitty, foot) carries one text; OSC 777
    (rxvt-unicode, VTE terminals such as GNOME Terminal) a title and a body separated by ``;``,
    so a ``;`` inside the title would shift the fields and is written as ``,``."""
    if notice.kind not in settings.when:
        return ""
    title = clean(notice.title, TITLE_LIMIT)
    body = clean(notice.body, BODY_LIMIT)
    out = BEL if settings.bell else ""
    if settings.desktop == "osc9":
        text = f"{title}: {body}" if body else title
        out += f"{ESC}]9;{text}{BEL}"
    elif settings.desktop == "osc777":
        out += f"{ESC}]777;notify;{title.replace(';', ',')};{body}{BEL}"
    return out


def run_notice(run_id: str, workstream: str, state: str, reason: str | None = None) -> Notice | None:
    """The notice for a run that reached ``state``; None for a state nobody waits for."""
    if state == "succeeded":
        return Notice("succeeded", f"uet: {workstream} succeeded", f"run {run_id}", run_id)
    if state in ("failed", "quarantined"):
        body = f"run {run_id}" + (f": {reason}" if reason else "")
        return Notice("failed", f"uet: {workstream} {state}", body, run_id)
    return None


def event_notice(kind: str, run_id: str | None, step_id: str | None, data: dict[str, Any],
                 workstream: str | None = None) -> Notice | None:
    """The notice an event calls for: a run that ended (succeeded, failed, quarantined), or a
    patch whose gate has judged it (or that has no gate), so it waits for a person."""
    name = workstream or "run"
    if kind == "run.state" and run_id is not None:
        return run_notice(run_id, name, str(data.get("to")), data.get("reason"))
    if kind == "patch.state":
        target = data.get("to")
        ungated = target == "proposed" and "gate" in data and data["gate"] is None
        if target in ("gate_passed", "gate_failed") or ungated:
            gate = {"gate_passed": "gate passed", "gate_failed": "gate failed"}.get(str(target), "no gate")
            where = f"step {step_id}" if step_id else f"run {run_id}"
            return Notice("review", f"uet: patch {data.get('patch')} waits for review", f"{where}, {gate}", run_id)
    return None
