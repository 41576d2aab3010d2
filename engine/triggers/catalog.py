"""The project's triggers: every workstream file under ``.uet/workstreams/`` that has ``on:``,
planned and checked as ``uet run`` would, so a fire never starts a run of a file that does not
validate. A reload keeps, for each file that no longer validates, the last version that did:
an edit with a typo is reported and the triggers go on as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import NotFound, UetError
from engine.planner import Plan, plan_file
from schemas.triggers import Trigger, trigger_names

#: Where a project's workstream files live (bootstrap writes them there).
WORKSTREAMS = Path(".uet") / "workstreams"
ROUTER = Path(".uet") / "router.yaml"


@dataclass(frozen=True)
class TriggerSpec:
    """One trigger of one workstream file, with the plan a fire runs."""

    workstream: str  # the file, relative to the project root (what the store keys fires by)
    name: str
    trigger: Trigger
    plan: Plan = field(compare=False, repr=False)

    @property
    def kind(self) -> str:
        return self.trigger.kind

    @property
    def key(self) -> tuple[str, str]:
        return self.workstream, self.name

    @property
    def label(self) -> str:
        return f"{self.plan.workstream.name}/{self.name}"


@dataclass
class Catalog:
    specs: dict[tuple[str, str], TriggerSpec] = field(default_factory=dict)
    #: Files that do not validate now (relative path → the first problem), their last valid
    #: triggers kept in ``specs``.
    problems: dict[str, str] = field(default_factory=dict)

    def find(self, name: str) -> TriggerSpec:
        """A trigger by ``name``, ``workstream/name`` or ``file:name``; ambiguous or unknown
        names are an error that lists what there is."""
        wanted = [spec for spec in self.specs.values()
                  if name in (spec.name, spec.label, f"{spec.workstream}:{spec.name}")]
        if len(wanted) == 1:
            return wanted[0]
        known = ", ".join(sorted(spec.label for spec in self.specs.values())) or "none"
        if not wanted:
            raise NotFound(f"no trigger named {name!r} (triggers: {known})")
        raise NotFound(f"{name!r} names {len(wanted)} triggers; write WORKSTREAM/TRIGGER ({known})")


def relative(root: Path, file: Path) -> str:
    try:
        return file.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return file.resolve().as_posix()


def workstream_files(root: Path) -> list[Path]:
    folder = root / WORKSTREAMS
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def file_triggers(root: Path, file: Path) -> list[TriggerSpec]:
    """The triggers of one file (raising ValidationFailed when it does not validate)."""
    plan = plan_file(file, root)
    rel = relative(root, file)
    triggers = plan.workstream.on
    return [TriggerSpec(rel, name, trigger, plan) for name, trigger in zip(trigger_names(triggers), triggers,
                                                                           strict=True)]


def load_catalog(root: Path, files: list[Path] | None = None, previous: Catalog | None = None) -> Catalog:
    """Every trigger of ``files`` (default: the project's workstream files). A file that does
    not validate keeps the triggers it had in ``previous`` and is named in ``problems``."""
    out = Catalog()
    for file in workstream_files(root) if files is None else files:
        rel = relative(root, file)
        try:
            specs = file_triggers(root, file)
        except UetError as exc:
            out.problems[rel] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            specs = [s for s in (previous.specs.values() if previous else ()) if s.workstream == rel]
        for spec in specs:
            out.specs[spec.key] = spec
    return out
