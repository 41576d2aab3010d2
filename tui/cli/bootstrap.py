"""``uet bootstrap [PATH] [--profile NAME] [--dry-run] [--force] [--json]``: scan a repository,
choose a profile, and write ``.uet/`` files for it.

Exit codes: 0 when the files were written, were already up to date, or a dry run found
nothing in the way; 2 when nothing was written because of bad input — the path is missing or
not a directory, an unknown ``--profile``, a generated file in conflict (the diff is shown;
``--force`` overwrites), or an error in the generated files. A dry run exits as the real run
would. The summary fits 80 columns; a progress line is drawn on stderr while scanning, when
stderr is a terminal.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from engine.agents.catalog import FAMILIES
from engine.bootstrap.orchestrate import bootstrap
from schemas.bootstrap import BootstrapReport, Issue
from schemas.scan import ScanProgress
from tui.cli.exits import EXIT_INPUT, EXIT_OK

ProgressCallback = Callable[[ScanProgress], None]
StageCallback = Callable[[str], None]
WIDTH = 80
LABEL = 11
EVIDENCE_SHOWN = 6
SKIPS_SHOWN = 5
STAGE_WORDS = {"scan": "scanning", "select": "scoring profiles", "generate": "generating files",
               "validate": "validating", "write": "writing"}


def cmd_bootstrap(args: argparse.Namespace) -> int:
    path = args.path or getattr(args, "project", None) or Path(".")
    with progress(Console(stderr=True) if sys.stderr.isatty() else None) as (on_progress, on_stage):
        report = bootstrap(path, profile=args.profile, dry_run=args.dry_run, force=args.force,
                           on_progress=on_progress, on_stage=on_stage)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print("\n".join(summary(report)))
    return exit_code(report)


def exit_code(report: BootstrapReport) -> int:
    blocked = any(i.severity == "error" for i in report.problems) or any(f.action == "conflict" for f in report.files)
    return EXIT_INPUT if blocked else EXIT_OK


@contextmanager
def progress(console: Console | None) -> Iterator[tuple[ProgressCallback | None, StageCallback | None]]:
    """A transient status line: the scan's counts as it walks, then the stage (no console: none)."""
    if console is None:
        yield None, None
        return
    with console.status("scanning…") as status:
        def on_progress(tick: ScanProgress) -> None:
            status.update(f"scanning: {tick.files:,} files, {tick.dirs:,} folders · {_clip(tick.current, 30)}")

        def on_stage(name: str) -> None:
            status.update(f"{STAGE_WORDS.get(name, name)}…")

        yield on_progress, on_stage


# -- the summary -------------------------------------------------------------------------------


def _items(label: str, items: list[str], separator: str = " · ") -> list[str]:
    """``items`` packed into lines beside ``label``, never splitting one item."""
    lines: list[str] = []
    current = ""
    for item in items:
        candidate = f"{current}{separator}{item}" if current else item
        if current and LABEL + len(candidate) + len(separator.rstrip()) > WIDTH:
            lines.append(current + separator.rstrip())
            candidate = item
        current = candidate
    lines.append(current)
    return [f"{label if n == 0 else '':<{LABEL}}{line}".rstrip() for n, line in enumerate(lines)]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _clip_left(text: str, width: int) -> str:
    """The end of a long path, which names the project."""
    return text if len(text) <= width else "…" + text[len(text) - width + 1:]


def _row(label: str, text: str, hang: int = 0) -> list[str]:
    """``label`` in the first column, ``text`` wrapped beside it within WIDTH; continuation
    lines indented ``hang`` more, so one long item reads apart from the next."""
    lines = textwrap.wrap(text, WIDTH - LABEL, subsequent_indent=" " * hang, break_on_hyphens=False) or [""]
    return [f"{label:<{LABEL}}{lines[0]}".rstrip()] + [" " * LABEL + line for line in lines[1:]]


def _shown(root: str, relpath: str) -> str:
    """A project path as the user can type it from the current directory."""
    full = os.path.join(root, relpath)
    relative = os.path.relpath(full)
    return full if relative.startswith("..") and len(relative) > len(full) else relative


def _number(value: float) -> str:
    return f"{value:g}"


def _evidence(report: BootstrapReport, profile: str) -> list[str]:
    """The profile's strongest signals: weight, what matched, where (file:line for content)."""
    lines: list[str] = []
    items = sorted(report.evidence.get(profile, []), key=lambda e: -abs(e.weight))
    room = WIDTH - LABEL - 7  # after the weight column
    column = min(max((len(item.signal) for item in items[:EVIDENCE_SHOWN]), default=0), 36)
    for item in items[:EVIDENCE_SHOWN]:
        where = ", ".join(f"{m.path}:{m.line}" if m.line else m.path for m in item.matches[:2])
        if item.count > 2:
            where += f" (+{item.count - 2})"
        text = f"{_clip(item.signal, column):<{column}}  {_clip(where, room - column - 2)}"
        lines.append(" " * LABEL + f"{item.weight:>+5g}  {text}".rstrip())
    if len(items) > EVIDENCE_SHOWN:
        lines.append(" " * LABEL + f"       … and {len(items) - EVIDENCE_SHOWN} more (--json lists them all)")
    return lines


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.2f}s"


def _problem(issue: Issue) -> str:
    where = issue.file or ""
    if issue.line is not None:
        where += f":{issue.line}" + (f":{issue.column}" if issue.column is not None else "")
    subject = f" {issue.field}:" if issue.field else ""
    return f"{where}:{subject} {issue.message}" if where else f"{subject.strip()} {issue.message}".strip()


def _headline(report: BootstrapReport) -> str:
    conflicts = [f for f in report.files if f.action == "conflict"]
    changes = [f for f in report.files if f.action in ("create", "update")]
    errors = [i for i in report.problems if i.severity == "error"]
    if errors:
        return f"nothing written: {len(errors)} error(s), listed above"
    if conflicts:
        return (f"nothing written: {len(conflicts)} file(s) changed since bootstrap wrote them; "
                "review the diff(s) above and rerun with --force to overwrite")
    if not changes:
        return "nothing to do: every file is up to date"
    if report.dry_run:
        return f"dry run: {len(changes)} file(s) would be written; nothing was"
    return f"wrote {len(changes)} file(s)"


def _agents(report: BootstrapReport) -> str:
    """The AI coding agents found, and what the router sends them."""
    if not report.agents:
        return f"none found on PATH ({', '.join(FAMILIES)})"
    found = ", ".join(report.agents)
    if not report.agent_kinds:
        return f"{found}, found; the profile's rules send plan, code_edit and review to its own tools"
    kinds = report.agent_kinds
    named = kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} and {kinds[-1]}"
    return f"{found}: {named} {'goes' if len(kinds) == 1 else 'go'} to {'it' if len(report.agents) == 1 else 'them'}"


def summary(report: BootstrapReport) -> list[str]:
    scan = report.scan
    title = "uet bootstrap " + ("(dry run) " if report.dry_run else "")
    out = [title + _clip_left(report.root, WIDTH - len(title))]
    skipped = f"; {scan.skipped_count} entries skipped" if scan.skipped_count else ""
    out += _row("scanned", f"{scan.files_seen:,} files in {scan.dirs_seen:,} folders in {_seconds(scan.duration_s)}{skipped}")
    if scan.languages:
        out += _items("languages", [f"{name} {count:,}" for name, count in list(scan.languages.items())[:6]], ", ")
    how = {"detection": f"detected, confidence {report.confidence:.2f}",
           "fallback": (f"the fallback: {report.runner_up} scored too little to be sure, see the warning"
                        if report.runner_up else "the fallback: no other profile found evidence"),
           "option": "--profile; " + ("detection agrees" if report.detected == report.profile else
                                      f"detection chose {report.detected}")
           + f", confidence {report.confidence:.2f}"}[report.chosen_by]
    out += _row("profile", f"{report.profile} ({how})")
    if report.ambiguous and report.runner_up and report.chosen_by == "detection":
        out += _row("", f"ambiguous: the runner-up, {report.runner_up}, scored only {_number(report.margin or 0)} "
                        "less")
    ranked = sorted(report.scores.items(), key=lambda kv: -kv[1])
    out += _items("scores", [f"{name} {_number(score)}" for name, score in ranked if score != 0] or ["none"])
    for name in dict.fromkeys([report.profile, report.detected, report.runner_up or ""]):
        if name and report.evidence.get(name):
            out += _row("evidence" if name == report.profile else "", name)
            out += _evidence(report, name)
    for n, project in enumerate(report.projects):
        commands = " · ".join(f"{kind}: {shlex.join(argv)}" for kind, argv in project.commands.items())
        out += _row("projects" if n == 0 else "", f"{project.folder}/ {project.profile} · {commands}", hang=2)
    for name, value in report.facts.items():
        text = value if isinstance(value, str) else " ".join(value)
        source = report.fact_sources.get(name)
        out += _row("facts" if name == next(iter(report.facts)) else "",
                    f"{name}: {_clip(text, 40)}" + (f"  ({source})" if source else ""))
    out += _row("agents", _agents(report))
    for phase in report.phases:
        label = "phases" if phase is report.phases[0] else ""
        if phase.generated and phase.file:
            out += _row(label, f"{phase.name}: {phase.file} ({phase.steps} step(s))")
        else:
            out += _row(label, f"{phase.name}: skipped, {phase.reason}")
    for planned in report.files:
        label = "files" if planned is report.files[0] else ""
        note = f"  {planned.reason}" if planned.action in ("conflict", "update") and planned.reason else ""
        out += _row(label, f"{planned.action:<9}  {planned.path}{note}", hang=11)
    for planned in report.files:
        if planned.diff and (planned.action == "conflict" or planned.forced):
            out += ["", *planned.diff.rstrip("\n").splitlines(), ""]
    for severity in ("error", "warning"):
        found = [i for i in report.problems if i.severity == severity]
        for n, issue in enumerate(found):
            out += _row(f"{severity}s" if n == 0 else "", _problem(issue), hang=2)
    if scan.skipped:
        shown = ", ".join(f"{s.path} ({s.reason})" for s in scan.skipped[:SKIPS_SHOWN])
        more = f" and {scan.skipped_count - SKIPS_SHOWN} more" if scan.skipped_count > SKIPS_SHOWN else ""
        out += _row("skipped", shown + more)
    if report.next_steps:
        here = os.path.realpath(os.getcwd()) == report.root
        steps = report.next_steps if here else [f"cd {_shown(report.root, '.')}", *report.next_steps]
        for n, step in enumerate(steps):
            out += _row("next" if n == 0 else "", step)
    total = sum(stage.seconds for stage in report.stages)
    out += _items("took", [f"{_seconds(total)}:", *(f"{s.name} {_seconds(s.seconds)}," for s in report.stages)], " ")
    out[-1] = out[-1].rstrip(",")
    return [*out, "", *textwrap.wrap(_headline(report), WIDTH)]
