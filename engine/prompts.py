"""A step's prompt: the placeholders it may use, their check at validation, and the rendering of
the prompt an attempt receives.

A prompt is text with placeholders in braces:

* ``{steps.ID.output}``: what the upstream step ``ID`` answered (its last successful attempt's
  output: an agent's final message, the file it names, or the last block of its output). ``ID``
  must be upstream of the step (reachable through ``needs``), so its output exists when the
  step starts; in a matrix template, ``{steps.test-{pkg}.output}`` names the instance's own
  upstream once ``{pkg}`` is filled.
* ``{steps.ID.patch}``: the diff of the patch the upstream step ``ID`` (a ``produces: patch``
  step) proposed last, for a step that reviews it (the review's own copy is at the base commit).
* ``{gate.feedback}``: in a fix round, what the gate's failure said (empty in the first round);
  only in a step with a ``gate``.
* ``{description}``, ``{root}``, ``{run}``, ``{step}``, ``{attempt}`` and the matrix keys.
* Sections (``SECTIONS``): text made for the attempt from outside the step, such as the
  repository map or the lessons of earlier runs. Each has a heading under which it is put after
  the prompt when the step asks for it in ``context:`` instead, and some belong only to a step
  with ``produces: patch``. Their text is computed only when a prompt or a context names them.
* ``{{`` and ``}}`` are literal braces.

Anything else in the shape of a placeholder (``{name}`` or ``{a.b}``) is an error at
validation, with a suggestion when it looks like a misspelling: a prompt is written for a tool
to read, and a placeholder sent as written would be a silent mistake. Braces around anything
else (``{ "a": 1 }``, ``{x, y}``) are text.

``{facts.NAME}`` belongs to profile templates and is filled by ``uet bootstrap``; one left in a
workstream is reported as such.

Rendering bounds what it puts in: each upstream output is at most ``MAX_OUTPUT_CHARS`` (the
store already holds no more), and the whole prompt at most ``MAX_RENDERED_CHARS``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from schemas.placeholders import BUILT_IN_PLACEHOLDERS

#: A placeholder: a name, or dotted names (``steps.build.output``); or an escaped brace.
PROMPT_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_][A-Za-z0-9_.-]*)?)\}")
STEP_OUTPUT = re.compile(r"steps\.(.+)\.output")
STEP_PATCH = re.compile(r"steps\.(.+)\.patch")
PROMPT_NAMES = (*BUILT_IN_PLACEHOLDERS, "description")
GATE_FEEDBACK = "gate.feedback"
MAX_OUTPUT_CHARS = 256 * 1024
MAX_RENDERED_CHARS = 1024 * 1024


@dataclass(frozen=True)
class Section:
    """A placeholder filled per attempt by a provider (``engine.agents.task.prepare``)."""

    heading: str  # the heading it gets when appended after the prompt
    what: str  # what it holds, for messages and docs
    patch_only: bool = False  # only a ``produces: patch`` step has it


#: The sections, by placeholder name. The names in ``CONTEXT_SECTIONS`` may also be written as
#: an entry of ``context:`` (``context: [repo_map]``), which appends the section after the prompt.
SECTIONS: dict[str, Section] = {
    "review.comments": Section("Review comments on your previous patch", "a revision round's review comments",
                               patch_only=True),
    "round.patch": Section("Your previous round's patch", "the previous round's diff", patch_only=True),
    "repo_map": Section("Repository map", "a ranked map of the repository's files and definitions"),
    "memory": Section("Lessons from earlier runs", "past failures and their fixes that resemble this step"),
}
CONTEXT_SECTIONS = frozenset({"repo_map", "memory"})


@dataclass(frozen=True)
class PromptProblem:
    offset: int  # where in the prompt text the placeholder starts
    token: str  # the placeholder as written
    message: str


def fill_matrix(text: str, values: Mapping[str, str]) -> str:
    """``{key}`` of the matrix keys filled (not inside ``{{…}}``), so that
    ``{steps.test-{pkg}.output}`` becomes ``{steps.test-core.output}``."""
    if not values:
        return text
    pattern = re.compile(r"(?<!\{)\{(" + "|".join(map(re.escape, values)) + r")\}(?!\})")
    return pattern.sub(lambda m: values[m.group(1)], text)


def referenced_steps(text: str, what: re.Pattern[str] = STEP_OUTPUT) -> list[str]:
    """The step ids whose output (or with ``what=STEP_PATCH``, whose patch) the matrix-filled
    prompt uses, in order, once each."""
    found: dict[str, None] = {}
    for match in PROMPT_TOKEN.finditer(text):
        name = match.group(1)
        if name and (ref := what.fullmatch(name)):
            found[ref.group(1)] = None
    return list(found)


def referenced_sections(text: str | None) -> list[str]:
    """The section names a prompt uses, in order, once each."""
    if not text:
        return []
    found: dict[str, None] = {}
    for match in PROMPT_TOKEN.finditer(text):
        if match.group(1) in SECTIONS:
            found[match.group(1)] = None
    return list(found)


def check(text: str, *, simple: Iterable[str], step_ids: Iterable[str], upstream: set[str] | None,
          has_gate: bool, patch_steps: set[str] | None = None, produces_patch: bool = True) -> list[PromptProblem]:
    """Problems with the placeholders of one prompt. ``simple``: the plain names it may use;
    ``step_ids``: every step of the workstream (for hints); ``upstream``: the steps whose output
    it may use (None: not known yet, skip that check); ``patch_steps``: the steps that produce
    a patch (None: any may); ``produces_patch``: whether this step proposes one."""
    names = set(simple)
    problems: list[PromptProblem] = []
    ids: list[str] | None = None
    for match in PROMPT_TOKEN.finditer(text):
        name = match.group(1)
        if not name or name in names:
            continue
        token = match.group(0)
        if (section := SECTIONS.get(name)) is not None:
            if section.patch_only and not produces_patch:
                problems.append(PromptProblem(match.start(), token, f"{token} is {section.what}: only a step with "
                                              "`produces: patch` has one"))
            continue
        ref = STEP_OUTPUT.fullmatch(name) or STEP_PATCH.fullmatch(name)
        if ref is not None and name.endswith(".patch") and patch_steps is not None \
                and ref.group(1) in set(step_ids) and ref.group(1) not in patch_steps:
            problems.append(PromptProblem(match.start(), token, f"{token} names step {ref.group(1)!r}, which "
                                          "proposes no patch (it has no `produces: patch`)"))
            continue
        if ref is not None:
            sid = ref.group(1)
            if upstream is None or sid in upstream:
                continue
            ids = ids if ids is not None else sorted(set(step_ids))
            if sid in ids:
                message = (f"{token} names step {sid!r}, which is not upstream of this step: add it to `needs` "
                           "(directly or through a step it needs) so its output exists when this step starts")
            else:
                hint = difflib.get_close_matches(sid, [i for i in ids if i in upstream] or ids, n=1)
                kind = "patch" if name.endswith(".patch") else "output"
                message = f"{token} names no step of this workstream" + (
                    f"; did you mean {{steps.{hint[0]}.{kind}}}?" if hint else "")
            problems.append(PromptProblem(match.start(), token, message))
            continue
        if name == GATE_FEEDBACK:
            if has_gate:
                continue
            problems.append(PromptProblem(match.start(), token, f"{token} is a fix round's gate failure: "
                                          "only a step with a `gate` (and `fix_loop`) has one"))
            continue
        if name.startswith(("facts.", "fact.")):
            problems.append(PromptProblem(match.start(), token, f"{token} is a profile placeholder that "
                                          "`uet bootstrap` fills; in a workstream, write the value itself"))
            continue
        known = (sorted(names) + ["steps.ID.output", "steps.ID.patch"] + ([GATE_FEEDBACK] if has_gate else [])
                 + [n for n, sec in SECTIONS.items() if produces_patch or not sec.patch_only])
        hint = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        message = f"{token} is no placeholder of a prompt" + (
            f"; did you mean {{{hint[0]}}}?" if hint else f" (known: {', '.join('{' + k + '}' for k in known)}); "
            "write {{ and }} for literal braces")
        problems.append(PromptProblem(match.start(), token, message))
    return problems


def render(text: str, values: Mapping[str, str], outputs: Mapping[str, str | None], feedback: str = "",
           patches: Mapping[str, str | None] | None = None, sections: Mapping[str, str] | None = None) -> str:
    """The prompt an attempt receives. Placeholders were checked at validation; one that still
    has no value (an output lost with its store row) becomes empty text, said in brackets. A
    section without text (no review round, nothing remembered) becomes empty text."""

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        if name in values:
            return values[name]
        if name == GATE_FEEDBACK:
            return feedback[:MAX_OUTPUT_CHARS]
        if name in SECTIONS:
            return (sections or {}).get(name, "")[:MAX_OUTPUT_CHARS]
        ref = STEP_OUTPUT.fullmatch(name)
        if ref is not None:
            found = outputs.get(ref.group(1))
            return found[:MAX_OUTPUT_CHARS] if found is not None else f"[step {ref.group(1)} gave no output]"
        ref = STEP_PATCH.fullmatch(name)
        if ref is not None:
            diff = (patches or {}).get(ref.group(1))
            return diff[:MAX_OUTPUT_CHARS] if diff else f"[step {ref.group(1)} proposed no patch]"
        return token

    rendered = PROMPT_TOKEN.sub(one, text)
    if len(rendered) > MAX_RENDERED_CHARS:
        rendered = rendered[:MAX_RENDERED_CHARS] + "\n[prompt cut at 1 MiB]"
    return rendered


def with_context(prompt: str, files: list[str], truncated: int = 0) -> str:
    """The prompt with the files in scope listed after it."""
    if not files:
        return prompt
    more = f"\n- … and {truncated} more" if truncated else ""
    return prompt.rstrip("\n") + "\n\nFiles in scope:\n" + "\n".join(f"- {name}" for name in files) + more + "\n"


def with_sections(prompt: str, texts: Mapping[str, str]) -> str:
    """The prompt with sections appended, each under its heading; empty ones are left out."""
    parts = [prompt.rstrip("\n")]
    for name, text in texts.items():
        if text.strip():
            parts.append(f"## {SECTIONS[name].heading}\n\n{text[:MAX_OUTPUT_CHARS].rstrip()}")
    return "\n\n".join(parts) + "\n" if len(parts) > 1 else prompt
