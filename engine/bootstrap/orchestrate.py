"""The Bootstrap Orchestrator: scan → select → generate → validate → write, each stage timed,
into one ``BootstrapReport``.

The router routes plan, code_edit and review to the AI coding agents found on PATH
(``engine.bootstrap.agents``); with none, the next steps say the profile's simulated tool
takes them, and a found agent without an API key in the environment is named there too.

Nothing is written when any stage found an error or a file is in conflict (without
``force``), or on a dry run; otherwise every file that is new or changed is written, the
manifest last, so it never names a file that is not on disk. A second run over an unchanged
tree finds every file ``unchanged`` and writes nothing.

Errors that stop before there is anything to report — the path is missing or not a
directory, ``--profile`` names no profile — are raised (``InputError``, exit 2).
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from engine.bootstrap.agents import agents_on_path, missing_keys_note
from engine.bootstrap.check import check
from engine.bootstrap.checks import profile_of, projects
from engine.bootstrap.generate import (
    GITIGNORE,
    MANIFEST,
    Artifact,
    Generated,
    digest,
    generate,
    gitignore,
    manifest_text,
    same_content,
    verified_manifest,
)
from engine.bootstrap.issues import from_problem
from engine.bootstrap.project_facts import ECOSYSTEMS, ProjectFacts, project_facts
from engine.bootstrap.scanner import scan
from engine.bootstrap.select import Selection, select
from engine.bootstrap.write import Plan, apply, plan_files, read_existing, safe_target
from engine.profiles import semantic_problems
from schemas.bootstrap import BootstrapReport, Issue, ProjectManifest, StageTiming, SubProject
from schemas.scan import ScanProgress, ScanReport

STAGES = ("scan", "select", "generate", "validate", "write")


def _existing_text(root: Path, relpath: str) -> str | None:
    path, _ = safe_target(root, relpath)
    return read_existing(path).text if path is not None else None


def _manifest(root: Path, report: ScanReport, selection: Selection, facts: ProjectFacts, generated: Generated,
              previous: ProjectManifest | None, now: str) -> ProjectManifest:
    """The new manifest; when only its date would change, the previous one as it is."""
    ours = [*generated.workstreams, *([generated.router] if generated.router else [])]
    manifest = ProjectManifest(
        name=root.name or str(root), profile=selection.profile.name, profile_source=selection.origin,
        confidence=selection.confidence, generated_at=now, languages=report.languages, facts=facts.values,
        fact_sources=facts.sources, workdirs=facts.workdirs,
        phases={p.name: p.file if p.generated and p.file else f"skipped: {p.reason}" for p in generated.phases},
        files={artifact.path: digest(artifact.text) for artifact in ours},
        sandbox=previous.sandbox if previous is not None else None,
        mcp=previous.mcp if previous is not None else None,
    )
    return previous if previous is not None and same_content(previous, manifest) else manifest


def _projects(report: ScanReport) -> list[SubProject]:
    """The per-folder breakdown of a tree whose checks live in more than one folder."""
    found = projects(report, every=True)
    if len(found) < 2:
        return []
    return [SubProject(folder=p.folder, profile=profile_of(p, ECOSYSTEMS),
                       commands={"test": list(p.test.argv), **({"lint": list(p.lint.argv)} if p.lint else {})})
            for p in found]


def _next_steps(plans: list[Plan], generated: Generated, selection: Selection, dry_run: bool,
                blocked: bool, environ: Mapping[str, str]) -> list[str]:
    steps: list[str] = []
    if any(plan.planned.action == "conflict" for plan in plans):
        steps.append("uet bootstrap --force   # overwrite the files in conflict")
    elif dry_run and not blocked:
        steps.append("uet bootstrap           # write these files")
    unsure = selection.ambiguous or selection.chosen_by == "fallback" or selection.confidence < 0.5
    if selection.runner_up and unsure and selection.chosen_by != "option":
        steps.append(f"uet bootstrap --profile {selection.runner_up}")
    first = next((p for p in generated.phases if p.generated and p.file), None)
    if first is not None and not blocked:
        steps += [f"uet validate {first.file}", f"uet run {first.file}"]
    if not blocked:
        keys = missing_keys_note(generated.agents, environ)
        steps += [note for note in (generated.no_agent_note, keys) if note is not None]
    return steps


def bootstrap(
    path: str | os.PathLike[str],
    *,
    profile: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    on_progress: Callable[[ScanProgress], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    exec_path: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> BootstrapReport:
    """Bootstrap the project at ``path``; see the module docstring for what is written when.

    ``exec_path``: the PATH the AI coding agents and the tools' programs are looked for on
    (None: this process's PATH); ``environ``: where their API keys are looked for (None: this
    process's environment)."""
    timings: list[StageTiming] = []

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        if on_stage is not None:
            on_stage(name)
        started = time.perf_counter()
        yield
        timings.append(StageTiming(name=name, seconds=round(time.perf_counter() - started, 4)))

    with stage("scan"):
        scanned = scan(path, on_progress=on_progress)
    root = Path(scanned.report.root)
    with stage("select"):
        selection = select(scanned.index, root, profile)
    issues: list[Issue] = list(selection.issues)
    with stage("generate"):
        facts = project_facts(scanned.report, scanned.index, selection.profile)
        template_problems = semantic_problems(selection.resolved)
        issues += [from_problem(p, "error", "generate", str(root)) for p in template_problems]
        broken = frozenset(name for name in selection.profile.phases for p in template_problems
                           if f"{p.field}.".startswith(f"phases.{name}."))
        generated = generate(selection.profile, facts, broken, agents_on_path(exec_path))
        issues += generated.issues
        previous_text = _existing_text(root, MANIFEST)
        previous = verified_manifest(previous_text) if previous_text is not None else None
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        manifest = _manifest(root, scanned.report, selection, facts, generated, previous, now)
        artifacts = [
            *generated.workstreams,
            *([generated.router] if generated.router else []),
            Artifact(GITIGNORE, "gitignore", gitignore(_existing_text(root, GITIGNORE))),
            Artifact(MANIFEST, "manifest", manifest_text(manifest)),
        ]
        plans, found = plan_files(root, artifacts, previous.files if previous else {}, previous is not None, force)
        issues += found
        for stale in sorted(set(previous.files if previous else ()) - {a.path for a in artifacts}):
            if _existing_text(root, stale) is None:
                continue
            issues.append(Issue(severity="warning", stage="generate", file=stale,
                                message="generated by an earlier bootstrap and no longer part of this profile's "
                                        "output; left in place (delete it if you do not need it)"))
    with stage("validate"):
        issues += check(generated, root, exec_path)
    blocked = any(i.severity == "error" for i in issues) or any(p.planned.action == "conflict" for p in plans)
    written: list[str] = []
    with stage("write"):
        if not dry_run and not blocked:
            written, failed = apply(plans)
            issues += failed
    return BootstrapReport(
        root=str(root), profile=selection.profile.name, profile_source=selection.origin,
        chosen_by=selection.chosen_by, detected=selection.detected, confidence=selection.confidence,
        ambiguous=selection.ambiguous, runner_up=selection.runner_up, margin=selection.margin,
        scores=selection.scores, evidence=selection.evidence, facts=facts.values,
        fact_sources={name: source + (f" (runs in {facts.workdirs[name]}/)" if name in facts.workdirs else "")
                      for name, source in facts.sources.items()},
        phases=generated.phases, files=[plan.planned for plan in plans], problems=issues, stages=timings,
        agents=generated.agents, agent_kinds=generated.agent_kinds, dry_run=dry_run, written=bool(written),
        next_steps=_next_steps(plans, generated, selection, dry_run, blocked,
                               os.environ if environ is None else environ),
        projects=_projects(scanned.report), scan=scanned.report,
    )
