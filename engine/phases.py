"""From a profile's phase template and the scanner's facts to a concrete workstream.

This is where ``{facts.NAME}`` gets its meaning (documented at ``schemas.profile.FACT_NAMES``):
a list item that is exactly one placeholder of a list-valued fact becomes that list's items,
so a command fact fills a whole ``run``; inside longer text a list is written shell-quoted.
Keeping the rule in one function means the generator, the tests and the docs agree on it.

A step's ``prompt`` is a template of its own, rendered by the engine for each attempt: only its
``{facts.NAME}`` are filled here, and ``{description}``, ``{steps.ID.output}`` and
``{gate.feedback}`` pass through as written (:func:`fill_prompt`).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from engine.errors import Problem, ValidationFailed
from schemas.profile import COMMAND_FACTS, FACT_REF, LIST_FACTS, TEXT_FACTS, Profile, facts_used
from schemas.workstream import Workstream

FactValue = str | Sequence[str]


def fact_problems(facts: Mapping[str, FactValue]) -> list[str]:
    """Facts of the wrong shape: commands must be non-empty argv lists, folders lists, words text."""
    out = []
    for name, value in facts.items():
        if name in TEXT_FACTS and not isinstance(value, str):
            out.append(f"fact {name} must be a string, not {type(value).__name__}")
        elif name in (*COMMAND_FACTS, *LIST_FACTS) and (
            isinstance(value, str) or not all(isinstance(item, str) for item in value)
        ):
            out.append(f"fact {name} must be a list of strings")
        elif name in COMMAND_FACTS and not value:
            out.append(f"fact {name} is an empty command")
    return out


def _text(text: str, facts: Mapping[str, FactValue]) -> str:
    def one(match: Any) -> str:
        value = facts[match.group(2)]
        return value if isinstance(value, str) else shlex.join(value)

    return FACT_REF.sub(one, text)


def _words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}" if items else ""


def fill_prompt(text: str, facts: Mapping[str, FactValue], workdirs: Mapping[str, str] | None = None) -> str:
    """A step's prompt with its ``{facts.NAME}`` filled for a reader, and nothing else touched.

    The prompt is a template the engine renders for each attempt (``{description}``,
    ``{steps.ID.output}``, ``{gate.feedback}``, …): those stay as written, and braces in a filled
    value are doubled so the engine reads them as text, not as a placeholder. A command is
    written as a shell line; one that runs in a sub-folder (``workdirs``: fact -> folder) as
    ``cd FOLDER && COMMAND``, the way a person would run it from the project root. A list of
    paths is written as words, ``.`` as "the project root": ``the project root and src``.
    """
    def one(match: Any) -> str:
        name = match.group(2)
        value = facts[name]
        if isinstance(value, str):
            shown = value
        elif name in COMMAND_FACTS:
            shown = shlex.join(value)
        else:
            shown = _words(["the project root" if item == "." else shlex.quote(item) for item in value])
        if workdirs and name in workdirs and name in COMMAND_FACTS:
            shown = f"cd {shlex.quote(workdirs[name])} && {shown}"
        return shown.replace("{", "{{").replace("}", "}}")

    return FACT_REF.sub(one, text)


def fill_facts(value: Any, facts: Mapping[str, FactValue]) -> Any:
    """``value`` (plain data: strings, lists, mappings) with every ``{facts.NAME}`` filled.

    Raises KeyError for a fact that is not in ``facts``; callers check ``requires`` first.
    """
    if isinstance(value, str):
        return _text(value, facts)
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            whole = FACT_REF.fullmatch(item) if isinstance(item, str) else None
            if whole is not None and not isinstance(facts[whole.group(2)], str):
                out.extend(facts[whole.group(2)])
            else:
                out.append(fill_facts(item, facts))
        return out
    if isinstance(value, dict):
        return {key: fill_facts(item, facts) for key, item in value.items()}
    return value


def missing_facts(profile: Profile, phase: str, facts: Mapping[str, FactValue]) -> list[str]:
    """Facts the phase needs (listed in ``requires`` or used by it) that ``facts`` lacks."""
    template = profile.phases[phase]
    gates = [profile.gates[step.gate] for step in template.steps if step.gate in profile.gates]
    needed = set(template.requires) | facts_used(template) | facts_used(gates)
    return sorted(name for name in needed if name not in facts)


def _fill_step(step: dict[str, Any], facts: Mapping[str, FactValue], workdirs: Mapping[str, str] | None) -> dict[str, Any]:
    return {key: fill_prompt(value, facts, workdirs) if key == "prompt" else fill_facts(value, facts)
            for key, value in step.items()}


def render_phase(profile: Profile, phase: str, facts: Mapping[str, FactValue],
                 workdirs: Mapping[str, str] | None = None) -> Workstream:
    """The workstream ``phase`` of ``profile`` becomes for a project with these facts.

    Bootstrap asks :func:`missing_facts` first and skips a phase it cannot fill; a call with
    facts missing or misshapen is refused here with the names, never filled with blanks.
    A step's ``prompt`` is filled by :func:`fill_prompt` (``workdirs``: command facts that run
    in a sub-folder, fact -> folder); its other fields by :func:`fill_facts`.
    """
    field = f"phases.{phase}"
    template = profile.phases[phase]
    missing = missing_facts(profile, phase, facts)
    wrong = fact_problems(facts)
    if missing or wrong:
        reasons = wrong + ([f"facts not found: {', '.join(missing)}"] if missing else [])
        raise ValidationFailed([Problem(f"cannot fill phase {phase!r}: {'; '.join(reasons)}", profile.name, field=field)])
    used_gates = sorted({step.gate for step in template.steps if step.gate is not None})
    document: dict[str, Any] = {
        "name": phase,
        "description": template.description,
        "max_parallel": template.max_parallel or profile.defaults.max_parallel,
        "retry": profile.defaults.retry,
        "budget": profile.defaults.budget,
        "steps": [_fill_step(step.model_dump(mode="json", exclude_defaults=True), facts, workdirs)
                  for step in template.steps],
        "gates": {gate: fill_facts([list(argv) for argv in profile.gates[gate]], facts) for gate in used_gates},
    }
    try:
        return Workstream.model_validate({key: value for key, value in document.items() if value is not None})
    except ValidationError as exc:
        raise ValidationFailed([
            Problem(f"phase {phase!r} filled with these facts is not a valid workstream: "
                    f"{'.'.join(map(str, error['loc']))}: {error['msg']}", profile.name, field=field)
            for error in exc.errors(include_url=False)
        ]) from None
