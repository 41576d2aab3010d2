"""Patch review from the command line: show (coloured diff, gate results, the rounds and their
comments), comment and request changes (a revision round), approve, reject, apply, revert; and
``gc`` for scratch worktrees. Listing patches and costs reads only: ``tui.cli.ledger``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.errors import UsageError
from engine.session import operator
from schemas.patch import PatchRecord
from store import queries
from tui.cli.exits import EXIT_FAILED, EXIT_OK
from tui.cli.output import patch_label
from tui.format import duration
from tui.project import open_existing


def cmd_patch(args: argparse.Namespace) -> int:
    from engine.patches.ledger import Ledger

    store = open_existing(args)
    try:
        ledger = Ledger(store)
        action = args.patch_command
        who = operator()
        if action == "show":
            return _show(ledger.get(args.id), args)
        if action in ("hunks", "split", "regate"):
            return _hunk_action(store, ledger, args, who)
        if action in ("comment", "request-changes", "revise"):
            return _review_action(store, args, who)
        if action == "approve":
            patch = ledger.approve(args.id, who, comment=args.comment, override=args.override)
        elif action == "reject":
            patch = ledger.reject(args.id, who, args.reason)
        elif action == "apply":
            patch = ledger.apply(args.id, who, commit=args.commit)
        else:
            patch = ledger.revert(args.id, who, commit=args.commit)
        print(f"patch {patch.id} {patch_label(patch.state.value)}"
              + (f": {patch.reason}" if patch.reason else "")
              + (f" (commit {patch.applied_commit[:12]})" if action == "apply" and patch.applied_commit else ""))
        return EXIT_OK
    finally:
        store.close()


def _show(patch: PatchRecord, args: argparse.Namespace) -> int:
    diff = queries.patch_diff(patch.id)
    gates = queries.gate_results(patch.id)
    if args.json:
        from engine.operations import patch_document

        print(json.dumps(patch_document(patch), indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    console.print(Text.assemble(("patch ", "bold"), (patch.id, "bold cyan"), "  ", patch_label(patch.state.value),
                                f"  run {patch.run_id} step {patch.step_id} attempt {patch.attempt}"))
    console.print(f"base {patch.base_commit[:12]}  {len(patch.files)} file(s)  +{patch.added} -{patch.removed}"
                  + (f"  round {patch.round}" if patch.round > 1 else "")
                  + (f"  decided by {patch.decided_by}" if patch.decided_by else "")
                  + (f": {patch.reason}" if patch.reason else ""))
    for f in patch.files:
        what = f"{f.old_path} → {f.path}" if f.old_path and f.old_path != f.path else f.path
        console.print(f"  {f.status:9} {what}  +{f.added} -{f.removed}" + ("  (binary)" if f.binary else ""))
    console.print()
    for line in diff.splitlines():
        style = ("green" if line.startswith("+") and not line.startswith("+++") else
                 "red" if line.startswith("-") and not line.startswith("---") else
                 "cyan" if line.startswith("@@") else "bold" if line.startswith(("diff ", "+++", "---")) else "")
        console.print(Text(line, style=style, no_wrap=True, overflow="ignore"), crop=False, soft_wrap=True)
    _show_rounds(console, patch)
    if gates:
        console.print()
        console.print(Text(f"gate {patch.gate}", style="bold"))
        for g in gates:
            mark = "✔" if g.outcome == "succeeded" else "✘"
            code = "" if g.exit_code in (None, 0) else f" exit {g.exit_code}"
            console.print(f"  {mark} round {g.round} `{' '.join(g.command)}` {g.outcome}{code} in {duration(g.duration)}")
            if g.outcome != "succeeded" and g.output_tail.strip():
                for tail_line in g.output_tail.rstrip().splitlines()[-15:]:
                    console.print(Text("      " + tail_line, style="dim"))
    elif patch.gate:
        console.print(f"gate {patch.gate}: not run yet")
    return EXIT_OK


def _show_rounds(console, patch: PatchRecord) -> None:  # noqa: ANN001
    """The patch's round history (round n of max, kind, state, size, who asked for what) and
    every round's comments, drafts marked."""
    from rich.text import Text

    from engine.review.rounds import max_rounds

    rounds = queries.patch_rounds(patch.id)
    comments = {p.id: queries.patch_comments(p.id) for p in rounds}
    if len(rounds) < 2 and not comments[patch.id]:
        return
    limit = max_rounds(patch)
    console.print()
    console.print(Text(f"rounds of step {patch.step_id} (review.max_rounds {limit})", style="bold"))
    for p in rounds:
        mark = "→" if p.id == patch.id else " "
        sent = [c for c in comments[p.id] if c.submitted_at is not None]
        said = f"  {p.decided_by}: {p.reason}" if p.decided_by and p.reason else ""
        if sent:
            said = f"  changes requested by {', '.join(sorted({c.by for c in sent}))}: {len(sent)} comment(s)"
        console.print(Text(f" {mark} round {p.round} of {limit}  {p.round_kind:8}  {p.id}  "
                           f"{patch_label(p.state.value):20} +{p.added}/-{p.removed}{said}"), crop=False,
                      soft_wrap=True)
    for p in rounds:
        for c in comments[p.id]:
            where = (c.path if c.path is not None else "the whole patch") + (
                f":{c.line}" if c.line is not None else f" hunk {c.hunk}" if c.hunk is not None else "")
            status = "draft" if c.submitted_at is None else f"round {p.round}"
            console.print(Text(f"  #{c.id} {status}, {c.by} on {where}:", style="bold"), crop=False, soft_wrap=True)
            for line in c.body.splitlines():
                console.print(Text("      " + line), crop=False, soft_wrap=True)
            for line in c.context.splitlines()[:12]:
                console.print(Text("      | " + line, style="dim"), crop=False, soft_wrap=True)


def _review_action(store, args: argparse.Namespace, who: str) -> int:  # noqa: ANN001
    """``comment`` (a draft), ``request-changes`` (submit, then the revision round in the
    foreground, or the background with --detach) and ``revise`` (start that round later)."""
    from engine.patches.ledger import Ledger
    from engine.review.comments import CommentError, ReviewComment
    from engine.review.rounds import add_comment, request_changes, revision_problem, start_revision

    patch = Ledger(store).get(args.id)
    action = args.patch_command
    if action != "revise":
        if args.comment is None and (args.file or args.line is not None or args.hunk is not None):
            raise CommentError("--file, --line and --hunk say where a --comment goes; give the --comment")
        comment = (ReviewComment(args.comment, args.file, args.line, args.hunk) if args.comment is not None
                   else None)
        if action == "comment":
            assert comment is not None
            added = add_comment(store, patch.id, comment, who)
            print(f"draft comment #{added.id} on patch {patch.id}; send it with: uet patch request-changes {patch.id}")
            return EXIT_OK
        patch = request_changes(store, patch.id, who, [comment] if comment is not None else [])
        print(f"patch {patch.id} {patch_label(patch.state.value)}: {patch.reason}")
        problem = revision_problem(patch)
        if problem is not None:
            print(problem)
            return EXIT_OK
    if args.detach:
        print(start_revision(store, patch.id, who, detach=True))
        return EXIT_OK
    from tui.cli.foreground import run_in_foreground

    run_id = start_revision(store, patch.id, who, detach=False)
    print(f"revision round {patch.round + 1} of patch {patch.id} (step {patch.step_id}, run {run_id})")
    code = run_in_foreground(store, run_id, args, revise=patch.id)
    after = queries.get_patch(patch.id)
    if after.superseded_by:
        new = queries.get_patch(after.superseded_by)
        print(f"patch {new.id} {patch_label(new.state.value)}: round {new.round} of patch {patch.id}; "
              f"review it with: uet patch show {new.id}")
    else:
        print(f"patch {patch.id} is still {after.state.value}: the revision round proposed no new patch")
    return code


def _hunk_action(store, ledger, args: argparse.Namespace, who: str) -> int:  # noqa: ANN001
    from engine.patches import diffs, hunks

    patch = ledger.get(args.id)
    if args.patch_command == "hunks":
        from store import queries

        for file in diffs.parse(queries.patch_diff(patch.id)):
            print(f"{file.path}")
            if not file.hunks:
                print(f"  {', '.join(file.unit_ids):6} the whole file (no text hunks)")
            for hunk in file.hunks:
                added = sum(1 for line in hunk.lines if line.startswith("+"))
                removed = sum(1 for line in hunk.lines if line.startswith("-"))
                print(f"  {hunk.id:6} {hunk.header}  +{added} -{removed}")
                if getattr(args, "lines", False):
                    for number, line in enumerate(hunk.lines, 1):
                        print(f"  {number:>6} {line}")
        return EXIT_OK
    if args.patch_command == "split":
        keep = {part.strip() for part in args.hunks.split(",") if part.strip()}
        lines = _line_choices(args.lines)
        if not keep and not lines:
            raise UsageError("patch split: say what to keep with --hunks 0.1,1.0 or --lines 0.1:3-5")
        chosen = ", ".join([*sorted(keep), *(f"{unit} lines {text}" for unit, text in _raw_lines(args.lines))])
        new = hunks.approve_hunks(store, patch.id, keep, who, args.reason, lines=lines,
                                  on_split=lambda p: print(f"patch {p.id} holds {chosen}; patch {patch.id} rejected"))
        print(f"patch {new.id} {patch_label(new.state.value)}" + (f": {new.reason}" if new.reason else ""))
        why_not = hunks.not_approved(new)
        if why_not:
            print(f"uet: patch {new.id} {why_not}", file=sys.stderr)
            return EXIT_FAILED
        return EXIT_OK
    new, _outcome = hunks.regate(store, patch.id, who)
    print(f"patch {new.id} {patch_label(new.state.value)}" + (f": {new.reason}" if new.reason else ""))
    return EXIT_OK


def _raw_lines(items: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        unit, sep, numbers = item.partition(":")
        if not sep or not unit.strip() or not numbers.strip():
            raise UsageError(f"--lines {item!r}: write HUNK:LINES, e.g. 0.1:3-5,7")
        out.append((unit.strip(), numbers.strip()))
    return out


def _line_choices(items: list[str]) -> dict[str, set[int]]:
    """``["0.1:3-5", "0.1:7"]`` → {"0.1": {3, 4, 5, 7}}; bad text is a usage error (exit 2)."""
    from engine.patches.lines import LineChoiceError, parse_ranges

    lines: dict[str, set[int]] = {}
    for unit, numbers in _raw_lines(items):
        try:
            lines.setdefault(unit, set()).update(parse_ranges(numbers))
        except LineChoiceError as exc:
            raise UsageError(f"--lines {unit}:{numbers}: {exc}") from None
    return lines


def cmd_gc(args: argparse.Namespace) -> int:
    """Remove scratch worktrees nothing needs any more: those of decided patches and of runs
    that are over without a patch waiting for review. What is kept is read whole from the store
    (every patch still to be decided, however old; the runs whose folders are there), so the
    work does not grow with the history."""
    from engine.patches.worktree import remove_worktree
    from engine.states import RUN_TERMINAL

    store = open_existing(args)
    try:
        removed = 0
        live = queries.worktrees_in_use()
        for root in queries.run_roots():
            folder = Path(root) / ".uet" / "worktrees"
            bases = sorted(path for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else []
            states = {run.id: run.state for run in queries.runs_by_id(base.name for base in bases)}
            for base in bases:
                state = states.get(base.name)
                if state is None:  # no run of this store: another store's, or unknown; left alone
                    continue
                running = state not in RUN_TERMINAL and state != "paused"
                for path in sorted(base.iterdir()):
                    if str(path) in live or running:
                        continue
                    if not args.dry_run:
                        remove_worktree(Path(root), path)
                    removed += 1
                    print(("would remove " if args.dry_run else "removed ") + str(path))
                if not args.dry_run and base.exists() and not any(base.iterdir()):
                    base.rmdir()
        print(f"{removed} worktree(s) {'to remove' if args.dry_run else 'removed'}; "
              f"{len(live)} kept for patches under review")
        return EXIT_OK
    finally:
        store.close()


