"""``uet map [PATH] [--tokens N] [--focus FILE…] [--json] [--no-cache]``: the repository map an
agent is given (``engine.repomap``), so a person can read it.

The map goes to stdout; a summary (files, parsed, cached, time) and the files that could not be
mapped go to stderr, so ``uet map > map.txt`` holds only the map. ``PATH`` (default: the
project) must be a folder inside the project, whose ``.uet/cache/repomap`` keeps the cache;
``--focus`` files are named as the shell sees them (relative to the current folder) and must be
inside ``PATH``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.errors import UsageError
from engine.repomap import MAX_TOKENS, MIN_TOKENS, build_map, default_cache_dir
from tui.cli.exits import EXIT_OK
from tui.project import project_root

#: Skipped files listed on stderr; the rest are counted.
SKIPPED_SHOWN = 20


def cmd_map(args: argparse.Namespace) -> int:
    root = project_root(args)
    target = _folder(args.path, root)
    if not MIN_TOKENS <= args.tokens <= MAX_TOKENS:
        raise UsageError(f"--tokens {args.tokens}: give a number from {MIN_TOKENS} to {MAX_TOKENS}")
    focus = [_focus(name, target) for name in args.focus]
    found = build_map(target, focus=focus, tokens=args.tokens, cache=not args.no_cache,
                      cache_dir=default_cache_dir(root))
    if args.json:
        print(json.dumps({"root": found.root, "focus": found.focus, "files": found.files, "text": found.text,
                          "skipped": [{"path": path, "why": why} for path, why in found.skipped],
                          "stats": found.stats.as_dict()}, indent=2))
        return EXIT_OK
    sys.stdout.write(found.text)
    sys.stdout.flush()
    s = found.stats
    print(f"{s.files:,} files: {s.parsed:,} parsed, {s.cached:,} from the cache, {s.skipped:,} skipped; "
          f"{len(found.files):,} shown in ~{s.tokens:,} tokens; {s.took:.2f} s"
          + (f" ({s.cache})" if s.cache.startswith("cache off") else ""), file=sys.stderr)
    for path, why in found.skipped[:SKIPPED_SHOWN]:
        print(f"  skipped {path}: {why}", file=sys.stderr)
    if len(found.skipped) > SKIPPED_SHOWN:
        print(f"  … and {len(found.skipped) - SKIPPED_SHOWN:,} more (--json lists them all)", file=sys.stderr)
    return EXIT_OK


def _folder(path: Path | None, root: Path) -> Path:
    """PATH as an absolute folder inside the project; an error naming it otherwise."""
    if path is None:
        return root
    target = path.resolve()
    if not target.exists():
        raise UsageError(f"PATH {path}: no such folder")
    if not target.is_dir():
        raise UsageError(f"PATH {path}: not a folder")
    if target != root and root not in target.parents:
        raise UsageError(f"PATH {path}: outside the project {root} (pass --project to map another one)")
    return target


def _focus(name: str, target: Path) -> str:
    """A --focus file relative to the mapped folder; an error naming it when it is missing or
    outside."""
    full = Path(name).resolve()
    if not full.is_file():
        raise UsageError(f"--focus {name}: no such file")
    if target not in full.parents:
        raise UsageError(f"--focus {name}: outside {target}")
    return full.relative_to(target).as_posix()
