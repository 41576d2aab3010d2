"""``uet profiles list | show NAME | validate [FILE ...]``: the domain profiles this project
sees — built-ins and its own ``.uet/profiles/*.yaml`` — resolved and checked."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from engine.errors import Problem, UsageError
from engine.operations import profile_entries
from engine.profiles import builtin_dir, local_dir, resolve_chain, validate_profile_file
from tui.cli.exits import EXIT_INPUT, EXIT_OK
from tui.project import project_root

DESCRIPTION_WIDTH = 60


def cmd_profiles(args: argparse.Namespace) -> int:
    actions = {"list": _list, "show": _show, "validate": _validate}
    return actions[args.profiles_command](args)


def _shown(path: Path) -> str:
    """A path relative to the current directory when it is below it, else absolute."""
    relative = os.path.relpath(path.resolve())
    return str(path.resolve()) if relative.startswith("..") else relative


class _Dumper(yaml.SafeDumper):
    """Block style, except lists of plain values on one line (``run: [ruff, check, .]``), as
    the built-in files are written."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(isinstance(item, str | int | float | bool) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def _list(args: argparse.Namespace) -> int:
    entries = profile_entries(project_root(args))
    if args.json:
        print(json.dumps(entries, indent=2))
        return EXIT_OK
    rows = [("NAME", "SOURCE", "EXTENDS", "DESCRIPTION")]
    for entry in entries:
        source = "builtin" if entry["source"] == "builtin" else _shown(Path(entry["path"]))
        if entry["overrides"]:
            source += " (overrides builtin)"
        text = (entry["description"] or "") if entry["valid"] else "invalid: see `uet profiles validate`"
        if len(text) > DESCRIPTION_WIDTH:
            text = text[: DESCRIPTION_WIDTH - 1] + "…"
        rows.append((entry["name"], source, entry["extends"] or "-", text))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    resolved = resolve_chain(args.name, project_root(args))
    if args.json:
        print(json.dumps(resolved.profile.model_dump(mode="json"), indent=2))
        return EXIT_OK
    chain = " → ".join(f"builtin {item.source.name}" if item.source.builtin else _shown(item.source.path)
                       for item in resolved.chain)
    print(f"# profile {resolved.profile.name}, resolved from: {chain}")
    document = resolved.profile.model_dump(mode="json", exclude_defaults=True)
    print(yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100), end="")
    return EXIT_OK


def _targets(args: argparse.Namespace) -> list[tuple[Path, Path | None]]:
    """(file, project root) pairs: the files named, or every built-in and project-local file."""
    if args.files:
        return [(file, project_root(args, file)) for file in args.files]
    root = project_root(args)
    files = sorted(builtin_dir().glob("*.yaml")) + sorted(local_dir(root).glob("*.yaml"))
    if not files:
        raise UsageError(f"no profile files found in {builtin_dir()} or {local_dir(root)}: is UET installed completely?")
    return [(file, root) for file in files]


def _validate(args: argparse.Namespace) -> int:
    results: list[tuple[Path, list[Problem]]] = [
        (file, validate_profile_file(file, root)) for file, root in _targets(args)
    ]
    bad = [(file, problems) for file, problems in results if problems]
    if args.json:
        print(json.dumps({"valid": not bad, "files": [
            {"file": str(file), "valid": not problems, "problems": [p.__dict__ for p in problems]}
            for file, problems in results]}, indent=2))
        return EXIT_INPUT if bad else EXIT_OK
    for file, problems in results:
        if not problems:
            print(f"✔ {_shown(file)}")
    for _file, problems in bad:
        for problem in problems:
            print(problem.render(), file=sys.stderr)
    if bad:
        count = sum(len(problems) for _file, problems in bad)
        print(f"uet: {count} problem(s) in {len(bad)} of {len(results)} profile file(s)", file=sys.stderr)
        return EXIT_INPUT
    return EXIT_OK
