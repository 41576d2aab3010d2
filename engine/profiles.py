"""Finding, loading, resolving and checking domain profiles.

Built-in profiles ship as package data in the ``profiles`` package, so they are found the same
way after an editable or a plain ``pip install``. A project's ``.uet/profiles/NAME.yaml``
replaces the built-in ``NAME``; a profile that ``extends`` its own name builds on the built-in
it replaces. Profiles are found by file name (``NAME.yaml``), so ``name:`` must match it.

Schema problems come from the model (located by ``engine.documents.validate_document``); what
needs the whole ``extends`` chain — tools, gates, routable kinds, facts a phase uses but does
not require, step DAGs — is checked here, each problem located in the file that wrote it.
"""

from __future__ import annotations

import difflib
import graphlib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from engine.documents import validate_document
from engine.errors import NotFound, Problem, ValidationFailed
from engine.yamlsafe import Loc, Located, load, parse
from schemas.profile import FACT_REF, Profile, facts_used, merge, placeholder_problems, walk_strings

LOCAL_DIR = Path(".uet") / "profiles"
BUILTIN = "builtin"


@dataclass(frozen=True)
class ProfileSource:
    """Where a profile named ``name`` is read from, and the built-in file it shadows, if any."""

    name: str
    path: Path
    builtin: bool
    overrides: Path | None = None

    @property
    def origin(self) -> str:
        """``builtin``, or the path of the project-local file."""
        return BUILTIN if self.builtin else str(self.path)


@dataclass(frozen=True)
class Loaded:
    """One file of an ``extends`` chain: its source, its own model and where its values are."""

    source: ProfileSource
    profile: Profile
    located: Located


@dataclass(frozen=True)
class Resolved:
    """A profile with its ``extends`` chain applied; ``chain[0]`` is the file asked for."""

    profile: Profile
    chain: tuple[Loaded, ...]


def builtin_dir() -> Path:
    """The folder of the installed ``profiles`` package, which holds the built-in YAML files."""
    return Path(str(files("profiles")))


def local_dir(project_root: Path) -> Path:
    return project_root / LOCAL_DIR


def available_profiles(project_root: Path | None) -> dict[str, ProfileSource]:
    """Every profile by name: the built-ins, then the project's own files replacing them.

    Files are only listed here, not parsed, so one broken file does not hide the others.
    """
    found = {path.stem: ProfileSource(path.stem, path, True) for path in sorted(builtin_dir().glob("*.yaml"))}
    if project_root is not None:
        for path in sorted(local_dir(project_root).glob("*.yaml")):
            shadowed = found.get(path.stem)
            found[path.stem] = ProfileSource(path.stem, path, False, shadowed.path if shadowed else None)
    return found


def _load(path: Path, text: str | None = None) -> tuple[Profile, Located]:
    """Parse and validate one file (or ``text`` as if it were that file); misused placeholders
    are reported at their exact string."""
    located = load(path) if text is None else parse(text, str(path))
    exact = [located.problem(message, loc) for loc, message in placeholder_problems(located.data)]
    try:
        profile: Profile = validate_document(located, Profile)
    except ValidationFailed as exc:
        # the model reports the same placeholder issues under the enclosing phase: keep the exact ones
        rest = [p for p in exc.problems if not any(q.message in p.message for q in exact)]
        raise ValidationFailed(exact + rest) from None
    if path.stem != profile.name:
        raise ValidationFailed([located.problem(
            f"the profile is named {profile.name!r} but its file is {path.name!r}: profiles are found by "
            f"file name, so rename the file to {profile.name}.yaml or set name: {path.stem}", ("name",))])
    return profile, located


def load_profile_file(path: Path) -> Profile:
    """One profile file as written (``extends`` not applied); errors name file, line and field."""
    return _load(path)[0]


def _parent(loaded: Loaded, name: str, available: dict[str, ProfileSource]) -> ProfileSource:
    """The source ``loaded`` extends; a local file naming itself means the built-in it replaces."""
    found = available.get(name)
    if found is not None and found.path == loaded.source.path:
        if loaded.source.overrides is not None:  # a local profile building on the built-in it replaces
            return ProfileSource(name, loaded.source.overrides, True)
        raise ValidationFailed([loaded.located.problem(f"the profile {name!r} extends itself", ("extends",))])
    if found is None:
        hint = difflib.get_close_matches(name, sorted(available), n=1)
        raise ValidationFailed([loaded.located.problem(
            f"extends unknown profile {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
            + f"; available: {', '.join(sorted(available)) or 'none'}", ("extends",))])
    return found


def resolve_source(source: ProfileSource, available: dict[str, ProfileSource], text: str | None = None) -> Resolved:
    """Load ``source`` (or ``text`` in its place) and every profile it extends, and merge them,
    base first."""
    chain = [Loaded(source, *_load(source.path, text))]
    while (name := chain[-1].profile.extends) is not None:
        parent = _parent(chain[-1], name, available)
        if any(item.source.path == parent.path for item in chain):
            names = " → ".join([item.profile.name for item in chain] + [parent.name])
            raise ValidationFailed([chain[-1].located.problem(f"extends cycle: {names}", ("extends",))])
        chain.append(Loaded(parent, *_load(parent.path)))
    profile = chain[-1].profile
    for child in reversed(chain[:-1]):
        profile = merge(profile, child.profile)
    return Resolved(profile, tuple(chain))


def resolve_chain(name: str, project_root: Path | None) -> Resolved:
    """The profile ``name`` as bootstrap uses it (local file first, ``extends`` applied), with
    the files it came from."""
    available = available_profiles(project_root)
    source = available.get(name)
    if source is None:
        hint = difflib.get_close_matches(name, sorted(available), n=1)
        raise NotFound(f"no profile named {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                       + f"; available: {', '.join(sorted(available))}")
    return resolve_source(source, available)


def resolve(name: str, project_root: Path | None) -> Profile:
    """The profile ``name`` with its ``extends`` chain applied."""
    return resolve_chain(name, project_root).profile


def source_for(path: Path, available: dict[str, ProfileSource]) -> ProfileSource:
    """The source of a file named on the command line: its listed entry, or a stand-alone one."""
    resolved = path.resolve()
    for source in available.values():
        if source.path.resolve() == resolved:
            return source
    if resolved.parent == builtin_dir().resolve():  # a built-in shadowed by a project file
        return ProfileSource(path.stem, path, True)
    builtin = available.get(path.stem)
    return ProfileSource(path.stem, path, False, builtin.path if builtin and builtin.builtin else None)


def validate_profile_file(path: Path, project_root: Path | None = None) -> list[Problem]:
    """Every problem of one profile file: schema, ``extends`` chain, then cross-references."""
    available = available_profiles(project_root)
    try:
        resolved = resolve_source(source_for(path, available), available)
    except ValidationFailed as exc:
        return exc.problems
    return semantic_problems(resolved)


def validate_profile_text(text: str, path: Path, project_root: Path | None = None) -> list[Problem]:
    """Every problem ``text`` would have if it were saved as ``path``: what an editor checks
    before anything is written. The profiles it extends are read from disk as usual."""
    available = available_profiles(project_root)
    try:
        resolved = resolve_source(source_for(path, available), available, text)
    except ValidationFailed as exc:
        return exc.problems
    return semantic_problems(resolved)


# -- cross-references, checked on the resolved profile ------------------------------------------


def _origin(resolved: Resolved, has: Any) -> Loaded:
    """The most derived file of the chain for which ``has(profile)`` holds (who wrote a key)."""
    return next(item for item in resolved.chain if has(item.profile))


def _hint(name: str, known: list[str], what: str) -> str:
    """'did you mean' when a known name is close, else the names there are (``what``)."""
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; {what}: {', '.join(known) or 'none'}"


def _fact_loc(raw: Any, base: Loc, fact: str) -> Loc:
    """Where in a raw step the first ``{facts.<fact>}`` is written (for the error's line)."""
    for loc, text in walk_strings(raw, base):
        if any(match.group(2) == fact for match in FACT_REF.finditer(text)):
            return loc
    return base


def _phase_problems(resolved: Resolved, name: str) -> list[Problem]:
    profile = resolved.profile
    origin = _origin(resolved, lambda p: name in p.phases)
    phase = profile.phases[name]
    raw_steps = origin.located.data["phases"][name]["steps"]
    tools = sorted(profile.tools)
    routable = {kind for tool in profile.tools.values() for kind in tool.capabilities}
    routable |= {rule.kind for rule in profile.rules}
    problems: list[Problem] = []

    def at(loc: Loc, message: str) -> None:
        problems.append(origin.located.problem(message, ("phases", name, *loc)))

    ids: dict[str, int] = {}
    for index, step in enumerate(phase.steps):
        if step.id in ids:
            at(("steps", index, "id"), f"duplicate step id {step.id!r} (also steps[{ids[step.id]}])")
        ids.setdefault(step.id, index)
    for index, step in enumerate(phase.steps):
        for j, need in enumerate(step.needs):
            if need not in ids:
                at(("steps", index, "needs", j), f"needs unknown step {need!r}" + _hint(need, sorted(ids), "the phase's steps"))
        if step.tool is not None and step.tool not in profile.tools:
            at(("steps", index, "tool"), f"unknown tool {step.tool!r}" + _hint(step.tool, tools, "the profile's tools"))
        if step.run is None and step.call is None and step.tool is None and step.kind not in routable:
            at(("steps", index, "kind"), f"no tool of the profile can do kind {step.kind!r}: give the step `run` "
               "or `tool`, add the kind to a tool's capabilities, or add a rule for it")
        if step.gate is not None and step.gate not in profile.gates:
            at(("steps", index, "gate"), f"unknown gate {step.gate!r}" + _hint(step.gate, sorted(profile.gates), "the profile's gates"))
        for fact in sorted(facts_used(step) - set(phase.requires)):
            loc = _fact_loc(raw_steps[index], ("steps", index), fact)
            at(loc, f"uses {{facts.{fact}}}, which the phase does not require: add {fact} to `requires`")
        if step.gate in profile.gates:
            for fact in sorted(facts_used(profile.gates[step.gate]) - set(phase.requires)):
                at(("steps", index, "gate"), f"gate {step.gate!r} uses {{facts.{fact}}}, which the phase does not "
                   f"require: add {fact} to `requires`")
    for fact in sorted(facts_used(phase.description) - set(phase.requires)):
        at(("description",), f"uses {{facts.{fact}}}, which the phase does not require: add {fact} to `requires`")
    if not problems:
        sorter = graphlib.TopologicalSorter({step.id: step.needs for step in phase.steps})
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            cycle: list[str] = exc.args[1]
            at(("steps", ids[cycle[0]], "needs"), "dependency cycle: " + " → ".join(cycle))
    return problems


def semantic_problems(resolved: Resolved) -> list[Problem]:
    """What one file cannot show alone: names that must exist once ``extends`` is applied."""
    profile = resolved.profile
    problems: list[Problem] = []
    for rule in profile.rules:
        origin = _origin(resolved, lambda p, kind=rule.kind: any(r.kind == kind for r in p.rules))
        index = next(i for i, r in enumerate(origin.profile.rules) if r.kind == rule.kind)
        for j, tool in enumerate(rule.tools):
            if tool not in profile.tools:
                problems.append(origin.located.problem(
                    f"unknown tool {tool!r}" + _hint(tool, sorted(profile.tools), "the profile's tools"), ("rules", index, "tools", j)))
    for name in profile.phases:
        problems.extend(_phase_problems(resolved, name))
    return problems


SCHEMA_URL = "https://uet.dev/schemas/profile.v1.json"


def project_copy(text: str) -> str:
    """A built-in profile's text as it should read inside a project's ``.uet/profiles/``: the
    built-ins name their schema by a path inside this package, which means nothing there, so
    the copy names it by its URL (the schema's ``$id``). Everything else is kept byte for byte."""
    lines = text.split("\n", 1)
    if lines[0].startswith("# yaml-language-server: $schema="):
        lines[0] = f"# yaml-language-server: $schema={SCHEMA_URL}"
    return "\n".join(lines)

