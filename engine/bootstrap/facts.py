"""From a walked tree to facts: which tools, managers, CI, docs and infrastructure a project
uses, and the commands it already runs.

Only files already picked out by name during the walk are opened, each at most
``HEAD_LIMIT`` bytes, and at most ``MAX_READS_PER_KEY`` of each name (shallowest first), so a
monorepo of a thousand ``package.json`` files still scans in well under a second. A file that
cannot be read or parsed becomes a skip with its reason, never an error.

The ecosystem rules live in ``rules_python``, ``rules_node`` and ``rules_other``; each is a
function of a ``Context``.
"""

from __future__ import annotations

import configparser
import json
import tomllib
from dataclasses import dataclass, field
from typing import Any

from engine.bootstrap.catalog import CODE_LANGUAGES, LANGUAGES, NOT_SOURCE_DIRS, TEST_DIR_NAMES
from engine.bootstrap.commands import Commands
from engine.bootstrap.index import HEAD_LIMIT, ScanIndex
from engine.bootstrap.walker import Skips, Walk
from schemas.scan import Detected, PackageManager

MAX_READS_PER_KEY = 200
MAX_EVIDENCE = 10
CATEGORIES = ("test_frameworks", "linters", "formatters", "ci", "docs", "iac", "data")


def folder_of(path: str) -> str:
    """The folder of a relative path, '.' for the root."""
    return path.rpartition("/")[0] or "."


def in_folder(folder: str, name: str) -> str:
    return name if folder == "." else f"{folder}/{name}"


def shallowest_first(paths: list[str]) -> list[str]:
    return sorted(paths, key=lambda p: (p.count("/"), p))


@dataclass
class Managers:
    """Package managers by name, with the manifests and lockfiles that show them."""

    found: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)

    def manifest(self, name: str, path: str) -> None:
        manifests, _ = self.found.setdefault(name, ([], []))
        if path not in manifests:
            manifests.append(path)

    def lockfile(self, name: str, path: str) -> None:
        _, lockfiles = self.found.setdefault(name, ([], []))
        if path not in lockfiles:
            lockfiles.append(path)

    def report(self) -> list[PackageManager]:
        def depth(item: tuple[str, tuple[list[str], list[str]]]) -> tuple[int, str]:
            paths = item[1][0] + item[1][1]
            return (min((p.count("/") for p in paths), default=0), item[0])

        return [
            PackageManager(name=name, manifests=shallowest_first(m), lockfiles=shallowest_first(lf))
            for name, (m, lf) in sorted(self.found.items(), key=depth)
        ]


@dataclass(frozen=True)
class Origin:
    """One sighting of a tool: the file, what in it matched, and whether the project set the
    tool up there (a config section) rather than merely depending on it."""

    path: str
    detail: str = ""
    configured: bool = True

    @property
    def evidence(self) -> str:
        return f"{self.path} {self.detail}" if self.detail else self.path

    @property
    def folder(self) -> str:
        return folder_of(self.path)


@dataclass
class Context:
    """What a rule function sees: the index, the walk, and the places to put what it finds."""

    index: ScanIndex
    walk: Walk
    skips: Skips
    commands: Commands = field(default_factory=Commands)
    managers: Managers = field(default_factory=Managers)
    found: dict[str, dict[str, list[Origin]]] = field(default_factory=lambda: {c: {} for c in CATEGORIES})
    test_dir_hints: list[str] = field(default_factory=list)
    memo: dict[str, list[str]] = field(default_factory=dict)
    """Lists worked out once and used by several rules (the playbooks found by content)."""
    _text: dict[str, str | None] = field(default_factory=dict)

    def paths(self, *keys: str) -> list[str]:
        """Files filed under these interesting-name keys, shallowest first, capped."""
        paths: list[str] = []
        for key in keys:
            paths.extend(self.walk.interesting.get(key, ()))
        return shallowest_first(paths)[:MAX_READS_PER_KEY]

    def add(self, category: str, name: str, path: str, detail: str = "", configured: bool = True) -> None:
        seen = self.found[category].setdefault(name, [])
        origin = Origin(path, detail, configured)
        if origin not in seen and len(seen) < MAX_EVIDENCE:
            seen.append(origin)

    def origin(self, category: str, name: str) -> Origin | None:
        """Where a tool was best seen: the first place it was configured, else the first place."""
        seen = self.found[category].get(name)
        if not seen:
            return None
        return next((o for o in seen if o.configured), seen[0])

    def text(self, path: str, limit: int = HEAD_LIMIT) -> str | None:
        """A file's head as text; a failure is recorded as a skip once."""
        if path not in self._text:
            head = self.index.read(path, limit)
            if head.text is None:
                self.skips.add(path, head.reason or "not readable")
            self._text[path] = head.text
        return self._text[path]

    def _whole(self, path: str, what: str) -> str | None:
        head = self.index.read(path)
        if head.text is None:
            self.skips.add(path, head.reason or "not readable")
            return None
        if head.truncated:
            self.skips.add(path, f"larger than {HEAD_LIMIT // 1024} KiB; not parsed as {what}")
            return None
        return head.text

    def toml(self, path: str) -> dict[str, Any] | None:
        text = self._whole(path, "TOML")
        if text is None:
            return None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            self.skips.add(path, f"invalid TOML: {exc}")
            return None

    def json(self, path: str) -> dict[str, Any] | None:
        text = self._whole(path, "JSON")
        if text is None:
            return None
        try:
            data = json.loads(text)
        except ValueError as exc:
            self.skips.add(path, f"invalid JSON: {exc}")
            return None
        if not isinstance(data, dict):
            self.skips.add(path, "invalid JSON: expected an object at the top")
            return None
        return data

    def ini(self, path: str) -> configparser.ConfigParser | None:
        text = self._whole(path, "INI")
        if text is None:
            return None
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(text, source=path)
        except configparser.Error as exc:
            self.skips.add(path, f"invalid INI: {str(exc).splitlines()[0]}")
            return None
        return parser

    def detected(self, category: str) -> list[Detected]:
        return [Detected(name=name, evidence=[o.evidence for o in seen]) for name, seen in self.found[category].items()]


def table(value: Any, *keys: str) -> dict[str, Any]:
    """A nested TOML/JSON table, or {} when any step is missing or not a table."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def languages(extensions: dict[str, int], walk: Walk) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ext, n in extensions.items():
        language = LANGUAGES.get(ext)
        if language:
            counts[language] = counts.get(language, 0) + n
    dockerfiles = len(walk.interesting.get("Dockerfile", ())) + len(walk.interesting.get("Dockerfile.*", ()))
    if dockerfiles:
        counts["Dockerfile"] = counts.get("Dockerfile", 0) + dockerfiles
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def lower_extensions(raw: dict[str, int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ext, n in raw.items():
        key = ext.lower()
        counts[key] = counts.get(key, 0) + n
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def layout(index: ScanIndex, hints: list[str]) -> tuple[list[str], list[str]]:
    """Source folders (top-level folders ranked by code files, '.' when code sits at the root)
    and test folders (named like tests, or listed in a test runner's config)."""
    per_top: dict[str, int] = {}
    for path in index.files:
        top, slash, rest = path.partition("/")
        dot = (rest or top).rfind(".")
        if dot <= 0 or LANGUAGES.get((rest or top)[dot:].lower()) not in CODE_LANGUAGES:
            continue
        key = top if slash else "."
        per_top[key] = per_top.get(key, 0) + 1
    source = [
        top for top, _ in sorted(per_top.items(), key=lambda kv: (-kv[1], kv[0]))
        if top == "." or (top not in NOT_SOURCE_DIRS and not top.startswith("."))
    ][:10]
    tests: list[str] = []
    known = set(index.dirs)
    hinted = [h.strip("/") for h in hints]
    for folder in hinted + shallowest_first(list(index.dirs)):
        name = folder.rpartition("/")[2]
        if folder in tests or folder not in known:
            continue
        nested = any(folder.startswith(t + "/") for t in tests)
        if (folder in hinted or name in TEST_DIR_NAMES) and not nested:
            tests.append(folder)
        if len(tests) >= 20:
            break
    return source, tests
