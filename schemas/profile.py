"""The domain profile: how to recognise a kind of repository and what to run in it.

A profile (``software-dev-python``, ``documentation``, …) holds detection signals with weights,
the tools it uses (router entries), routing rules, phase templates (workstreams with
``{facts.NAME}`` placeholders that bootstrap fills from what the scanner found), gates and
defaults. Built-ins live in ``profiles/*.yaml``; a project's ``.uet/profiles/*.yaml`` override
them by name, and ``extends`` layers one profile on another (see :func:`merge`).

What this module checks is what can be checked in one file: shapes, regexes, paths and fact
names. Whether a step's tool or gate exists is known only once ``extends`` is resolved, so that
check lives in ``engine.profiles``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from schemas.router import BreakerPolicy, RoutingRule, ToolSpec
from schemas.workstream import NAME, Argv, Budget, RetryPolicy, Step

COMMAND_FACTS: tuple[str, ...] = (
    "test_command",
    "lint_command",
    "format_command",
    "typecheck_command",
    "build_command",
    "docs_command",
    "validate_command",
)
"""Commands the scanner inferred, one per kind it reports, each an argv list, e.g.
``[python, -m, pytest, -q]``. ``format_command`` checks formatting without changing files
(``ruff format --check .``); ``docs_command`` builds the documentation; ``validate_command``
checks configuration without running it (``terraform validate``, ``dbt parse``)."""

LIST_FACTS: tuple[str, ...] = (
    "source_dirs",
    "test_dirs",
    "terraform_dirs",
    "helm_charts",
    "ansible_playbooks",
    "dockerfiles",
    "compose_files",
    "kubernetes_manifests",
    "notebooks",
)
"""Lists of paths relative to the project root: folders of source and tests, folders holding
``*.tf`` files, Helm chart folders (with ``Chart.yaml``), Ansible playbook files, Dockerfiles,
Docker Compose files, Kubernetes manifests (outside Helm charts) and Jupyter notebooks."""

TEXT_FACTS: tuple[str, ...] = (
    "package_manager",
    "docs_dir",
)
"""Single words: the package manager's executable (``uv``, ``poetry``, ``pip``, ``npm``,
``pnpm``, ``yarn``, ``bun``) and the folder the documentation sources are in (``docs``)."""

FACT_NAMES: tuple[str, ...] = COMMAND_FACTS + LIST_FACTS + TEXT_FACTS
"""Every name a template may use as ``{facts.NAME}``; anything else is a typo and an error.

How a placeholder is filled (``engine.phases.fill_facts``): a list item that is exactly
``{facts.NAME}`` of a command or list fact is replaced by that fact's items, so
``run: "{facts.test_command}"`` becomes the whole argv and ``matrix: {dir: ["{facts.source_dirs}"]}``
one value per folder. Inside longer text a list is written as a shell-quoted line
(``shlex.join``) and a text fact as itself. A phase lists in ``requires`` the facts it uses:
bootstrap generates the phase only when all of them are known."""

FACT_REF = re.compile(r"\{(facts?)\.([^{}\s]*)\}")
"""``{facts.NAME}``; also matches ``{fact.NAME}`` so the common slip is reported, not kept."""

SECTIONS_WITH_FACTS = ("phases", "gates")
"""Where placeholders are filled. Tools and rules are written to ``router.yaml`` as they are."""

_GLOB_CHARS = re.compile(r"[*?\[]")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def fact_issue(text: str) -> str | None:
    """Why the placeholders in ``text`` are wrong, or None when every one names a known fact."""
    for match in FACT_REF.finditer(text):
        prefix, name = match.groups()
        if prefix == "fact":
            return f"write {{facts.{name}}} (with an s), not {match.group(0)}"
        if name not in FACT_NAMES:
            hint = difflib.get_close_matches(name, FACT_NAMES, n=1)
            return f"unknown fact {match.group(0)}" + (
                f"; did you mean {{facts.{hint[0]}}}?" if hint else f"; known facts: {', '.join(FACT_NAMES)}"
            )
    return None


def facts_used(value: Any) -> set[str]:
    """Names of the known facts referenced anywhere inside a string, list or mapping."""
    found: set[str] = set()
    for _path, text in walk_strings(value, ()):
        found.update(name for prefix, name in FACT_REF.findall(text) if prefix == "facts" and name in FACT_NAMES)
    return found


def walk_strings(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string inside a value, with the keys and indexes that lead to it."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk_strings(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from walk_strings(item, (*path, index))
    elif isinstance(value, BaseModel):
        yield from walk_strings(value.model_dump(mode="json", exclude_defaults=True), path)


def placeholder_problems(document: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, message) for each misused ``{facts.…}`` in a raw profile document.

    The engine reports these at the exact line of the string; the model reports the same text
    under the phase, so programs that build profiles in Python get the same protection.
    ``detect`` is skipped: its ``contains`` are regular expressions, where braces mean counts.
    """
    if not isinstance(document, dict):
        return
    for section, value in document.items():
        if section == "detect":
            continue
        for path, text in walk_strings(value, (str(section),)):
            issue = fact_issue(text) if section in SECTIONS_WITH_FACTS else _unfilled_issue(text)
            if issue:
                yield path, issue


def _unfilled_issue(text: str) -> str | None:
    match = FACT_REF.search(text)
    if match is None:
        return None
    return f"{match.group(0)} is not filled here: placeholders work in `phases` and `gates` only"


def _render(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _known_fact(name: str) -> str:
    if name not in FACT_NAMES:
        hint = difflib.get_close_matches(name, FACT_NAMES, n=1)
        raise ValueError(f"unknown fact {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else
                                                     f"; known facts: {', '.join(FACT_NAMES)}"))
    return name


FactName = Annotated[str, AfterValidator(_known_fact), WithJsonSchema({"enum": list(FACT_NAMES), "type": "string"})]
Weight = Annotated[float, Field(strict=True, ge=-100, le=100, allow_inf_nan=False)]
"""A number: strict, so that ``weight: "5"`` or ``weight: yes`` is an error, not a guess."""


class Signal(Strict):
    """One piece of evidence that a repository is of the profile's kind.

    Paths are relative to the project root, with ``/`` separators. ``file`` and ``dir`` need the
    exact path (``.`` is the root itself); ``glob`` counts matches of a pattern (``**`` crosses
    folders) and needs ``min_count`` of them; ``content`` needs ``min_count`` files matching
    ``path`` (a file or a glob) whose first 256 KiB match the regex ``contains``. A matched
    signal adds ``weight`` to the profile's score; a negative weight is a counter-signal.
    """

    kind: Literal["file", "glob", "content", "dir"]
    path: str = Field(min_length=1, max_length=1000)
    contains: str | None = Field(None, max_length=2000, description="Regular expression; for kind content only.")
    weight: Weight = Field(description="Added to the score when the signal matches; negative for counter-signals.")
    min_count: int = Field(1, ge=1, le=1_000_000, description="Matches needed (glob and content).")
    description: str = Field(min_length=1, max_length=500, description="Shown as evidence, e.g. 'pytest configured'.")

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
            raise ValueError(f"{value!r} is absolute: signal paths are relative to the project root")
        if "\\" in value:
            raise ValueError(f"{value!r} uses backslashes: separate folders with /")
        if ".." in value.split("/"):
            raise ValueError(f"{value!r} leaves the project with '..'")
        return value

    @field_validator("contains")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _shape(self) -> Signal:
        if self.kind == "content" and self.contains is None:
            raise ValueError("a content signal needs `contains:` (a regular expression)")
        if self.kind != "content" and self.contains is not None:
            raise ValueError(f"`contains` is for kind content; this signal is kind {self.kind}")
        globbed = bool(_GLOB_CHARS.search(self.path))
        if self.kind in ("file", "dir") and globbed:
            raise ValueError(f"{self.path!r} is a pattern: use kind glob (or content) for patterns")
        if self.kind == "glob" and not globbed:
            raise ValueError(f"{self.path!r} has no * ? or [: use kind file or dir for one exact path")
        if self.kind in ("file", "dir") and self.min_count != 1:
            raise ValueError(f"min_count counts matches of a pattern; a {self.kind} signal matches once")
        return self


class PhaseTemplate(Strict):
    """A workstream template: bootstrap fills its ``{facts.…}`` and writes
    ``.uet/workstreams/<phase>.yaml``, or skips the phase when a fact in ``requires`` is unknown."""

    description: str | None = Field(None, max_length=4000)
    max_parallel: int | None = Field(None, ge=1, le=1024, description="Default: the profile's defaults.")
    requires: list[FactName] = Field(
        default_factory=list, description="Facts that must be known for this phase to be generated."
    )
    steps: list[Step] = Field(min_length=1, max_length=1000)

    @field_validator("requires")
    @classmethod
    def _requires_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a fact is listed twice")
        return value

    @model_validator(mode="after")
    def _known_facts(self) -> PhaseTemplate:
        """Backstop for profiles built in Python: the check the engine makes with line numbers."""
        for path, text in walk_strings({"description": self.description, "steps": self.steps}):
            issue = fact_issue(text)
            if issue:
                raise ValueError(f"{_render(path)}: {issue}")
        return self


class ProfileDefaults(Strict):
    """Defaults written into every generated workstream and the router config."""

    retry: RetryPolicy | None = Field(None, description="Default retry policy of generated workstreams.")
    breaker: BreakerPolicy | None = Field(None, description="Default breaker of the generated router config.")
    budget: Budget | None = Field(None, description="Budget of generated workstreams.")
    max_parallel: int | None = Field(None, ge=1, le=1024, description="max_parallel of phases that set none.")


ToolName = Annotated[str, Field(pattern=NAME, max_length=64)]


class Profile(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, title="UET profile")

    name: str = Field(pattern=NAME, max_length=100, description="Must match the file name (NAME.yaml).")
    description: str | None = Field(None, max_length=4000)
    extends: str | None = Field(None, pattern=NAME, max_length=100, description="A profile to build on.")
    priority: int = Field(0, ge=-1000, le=1000, description="Breaks ties between equal scores; higher wins.")
    detect: list[Signal] = Field(default_factory=list, max_length=1000)
    tools: dict[ToolName, ToolSpec] = Field(default_factory=dict)
    rules: list[RoutingRule] = Field(default_factory=list)
    phases: dict[Annotated[str, Field(pattern=NAME, max_length=100)], PhaseTemplate] = Field(default_factory=dict)
    gates: dict[Annotated[str, Field(pattern=NAME)], list[Argv]] = Field(
        default_factory=dict, description="Named checks a patch must pass: argv lists, run in order."
    )
    defaults: ProfileDefaults = Field(default_factory=ProfileDefaults)

    @field_validator("gates")
    @classmethod
    def _gate_facts(cls, value: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
        for gate, commands in value.items():
            for i, argv in enumerate(commands):
                for j, arg in enumerate(argv):
                    issue = fact_issue(arg)
                    if issue:
                        raise ValueError(f"{gate}[{i}][{j}]: {issue}")
        return value

    @model_validator(mode="after")
    def _facts_only_where_filled(self) -> Profile:
        for section in ("description", "tools", "rules", "defaults"):
            for path, text in walk_strings(getattr(self, section), (section,)):
                issue = _unfilled_issue(text)
                if issue:
                    raise ValueError(f"{_render(path)}: {issue}")
        return self


def merge(base: Profile, child: Profile) -> Profile:
    """``child`` laid over ``base``, as ``extends`` means it.

    Keys the child wrote win; keys it left out come from the base. ``tools``, ``gates`` and
    ``defaults`` merge key by key; ``rules`` by their ``kind``; ``phases`` are replaced whole,
    phase by phase (a half-inherited DAG would be hard to read); ``detect`` signals add up, so
    a child can only add evidence or counter-evidence. The result stands alone: ``extends`` is
    cleared and the fields set on either side stay marked as set, so merges chain.
    """
    data: dict[str, Any] = {"name": child.name}
    for key in ("description", "priority"):
        if key in child.model_fields_set:
            data[key] = getattr(child, key)
        elif key in base.model_fields_set:
            data[key] = getattr(base, key)
    if base.detect or child.detect:
        data["detect"] = [*base.detect, *child.detect]
    for key in ("tools", "phases", "gates"):
        if key in base.model_fields_set or key in child.model_fields_set:
            data[key] = {**getattr(base, key), **getattr(child, key)}
    if "rules" in base.model_fields_set or "rules" in child.model_fields_set:
        by_kind = {rule.kind: rule for rule in base.rules}
        by_kind.update({rule.kind: rule for rule in child.rules})
        data["rules"] = list(by_kind.values())
    if "defaults" in base.model_fields_set or "defaults" in child.model_fields_set:
        defaults: dict[str, Any] = {}
        for source in (base.defaults, child.defaults):
            defaults.update({key: getattr(source, key) for key in source.model_fields_set})
        data["defaults"] = ProfileDefaults.model_validate(defaults)
    return Profile.model_validate(data)
