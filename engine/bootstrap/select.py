"""The Profile Selector: score every profile against the scanned tree and pick one.

A profile's score is the sum of the weights of its detection signals that match (negative
weights are counter-signals). Every match is kept as evidence — the signal, the paths it
matched and, for content signals, the line — so the choice can be explained.

Rules, in order:

- ``--profile NAME`` wins; an unknown name is an input error listing the known ones.
- The highest score wins; equal scores go to the higher ``priority``, then the name. The
  fallback profile (``generic``) scores too: its signals are the build manifests of languages
  without a profile of their own (go.mod, Cargo.toml, pom.xml, …), so a Go library with many
  Markdown files is generic, not documentation. Its priority is the lowest.
- Evidence has a hierarchy, written in the weights: a project's own build and test manifests
  weigh 5-6, incidental files (Markdown, a Dockerfile, CI config) 1-2, and a profile counts
  another kind's manifest against itself (documentation: ``go.mod`` -5).
- A winner that is not sure enough — confidence under ``MIN_CONFIDENCE`` — gives way to the
  fallback, and is named as the runner-up with a warning that says how to choose it.
- The choice is *ambiguous* when the runner-up is closer than ``max(2, 20% of the best
  score)``: 2 is the weight of one supporting signal (a lockfile, a tests/ folder), and a fifth
  of the score is within what one more such signal would change.
- Confidence = strength × separation, each in [0, 1]: strength = best / 10 (10 is what a
  typical repository of a kind scores; see the weight scale in the built-in profiles),
  separation = margin / (best / 2) (full when the runner-up has at most half the best score).
  The fallback gets 0 when it was chosen for want of anything better.

Profiles are the built-ins plus the project's ``.uet/profiles/*.yaml`` (which replace
built-ins of the same name); a local file that does not load is reported and left out.
"""

from __future__ import annotations

import fnmatch
import heapq
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from engine.bootstrap.index import ScanIndex, compile_glob
from engine.bootstrap.issues import from_problem
from engine.errors import Problem, ValidationFailed
from engine.profiles import (
    ProfileSource,
    Resolved,
    available_profiles,
    resolve_chain,
    resolve_source,
)
from schemas.bootstrap import ChosenBy, Evidence, Issue, SignalMatch
from schemas.profile import Profile, Signal

FALLBACK = "generic"
STRONG_SCORE = 10.0
AMBIGUOUS_FLOOR = 2.0
AMBIGUOUS_RATIO = 0.2
MIN_CONFIDENCE = 0.3
"""Below this, detection is a guess: one supporting signal (weight 2) alone gives 0.2, a usual
manifest (5) with nothing against it 0.5."""
MATCHES_KEPT = 5
"""Matches listed per signal; a content signal stops reading files once it has this many
(or its ``min_count``, if larger)."""
MAX_PROBES = 200
"""Files a content signal reads at most (shallowest first)."""

_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Candidate:
    """A loaded profile and how it scored."""

    resolved: Resolved
    origin: str
    score: float
    evidence: list[Evidence]

    @property
    def profile(self) -> Profile:
        return self.resolved.profile


@dataclass(frozen=True)
class Selection:
    resolved: Resolved
    """The chosen profile with the files it came from (for problems located in them)."""
    origin: str
    chosen_by: ChosenBy
    detected: str
    confidence: float
    ambiguous: bool
    runner_up: str | None
    margin: float | None
    scores: dict[str, float]
    evidence: dict[str, list[Evidence]]
    issues: list[Issue] = field(default_factory=list)

    @property
    def profile(self) -> Profile:
        return self.resolved.profile


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _depth(path: str) -> tuple[int, str]:
    return path.count("/"), path


def _shallowest(paths: list[str], count: int) -> list[str]:
    """The ``count`` shallowest paths, without sorting a 100,000-path list."""
    return heapq.nsmallest(count, paths, key=_depth)


@dataclass
class _Tree:
    """The index with the lookups signals need, built once."""

    index: ScanIndex
    files: frozenset[str]
    dirs: frozenset[str]
    unread: dict[str, str] = field(default_factory=dict)

    by_name: dict[str, list[str]] = field(default_factory=dict)
    """Paths by file name, for patterns that name only a file (``**/*.csproj``, ``Chart.yaml``):
    one match per distinct name instead of one regex per path, which at 100,000 files and
    sixty signals is the difference between well under a second and several."""

    @classmethod
    def of(cls, index: ScanIndex) -> _Tree:
        by_name: dict[str, list[str]] = {}
        for path in index.files:
            by_name.setdefault(path.rpartition("/")[2], []).append(path)
        return cls(index, frozenset(index.files), frozenset(index.dirs), by_name=by_name)

    def _named(self, pattern: str) -> list[str] | None:
        """Matches of a glob by the file names first: a pattern of a name alone (``*.tf``,
        ``**/Chart.yaml``) is answered from them; one with folders (``**/roles/*/tasks/main.yml``)
        is tried only on the paths whose name fits its last part. None for the shapes left to
        the index (a last part of ``**``, a folder pattern, a character class)."""
        name = pattern[3:] if pattern.startswith("**/") else pattern
        last = name.rpartition("/")[2]
        if not last or "**" in last or "[" in pattern or pattern.endswith("/"):
            return None
        found = [p for n in fnmatch.filter(self.by_name, last) for p in self.by_name[n]]
        if "/" not in name:
            return found
        regex, _ = compile_glob(pattern)
        return [p for p in found if regex.search(p)]

    def paths(self, pattern: str) -> list[str]:
        """Files a signal's path names: the file itself, or a glob's matches (unordered).

        A glob without a slash matches at any depth (``*.sln``), as in .gitignore; ``./*.sln``
        only at the root, which is where a project's own manifest is."""
        if pattern.startswith("./"):
            rest = pattern[2:]
            return [p for p in self.paths(rest) if "/" not in p] if "/" not in rest else self.paths(rest)
        if _GLOB_CHARS.search(pattern):
            named = self._named(pattern)
            return named if named is not None else self.index.glob(pattern)
        return [pattern] if pattern in self.files else []

    def content_matches(self, signal: Signal) -> list[SignalMatch]:
        regex = _regex(signal.contains or "")
        wanted = max(signal.min_count, MATCHES_KEPT)
        found: list[SignalMatch] = []
        for path in _shallowest(self.paths(signal.path), MAX_PROBES):
            head = self.index.read(path)
            if head.text is None:
                self.unread.setdefault(path, head.reason or "not readable")
                continue
            match = regex.search(head.text)
            if match is not None:
                found.append(SignalMatch(path=path, line=head.text.count("\n", 0, match.start()) + 1))
                if len(found) >= wanted:
                    break
        return found


def _evaluate(signal: Signal, tree: _Tree) -> Evidence | None:
    """The evidence of one signal, or None when it does not match."""
    if signal.kind == "file":
        paths = [signal.path] if signal.path in tree.files else []
        matches = [SignalMatch(path=p) for p in paths]
    elif signal.kind == "dir":
        hit = signal.path == "." or signal.path.rstrip("/") in tree.dirs
        matches = [SignalMatch(path=signal.path)] if hit else []
    elif signal.kind == "glob":
        paths = tree.paths(signal.path)
        if len(paths) < signal.min_count:
            return None
        return Evidence(signal=signal.description, kind=signal.kind, pattern=signal.path, weight=signal.weight,
                        count=len(paths), matches=[SignalMatch(path=p) for p in _shallowest(paths, MATCHES_KEPT)])
    else:
        matches = tree.content_matches(signal)
    if not matches or len(matches) < signal.min_count:
        return None
    return Evidence(signal=signal.description, kind=signal.kind, pattern=signal.path, weight=signal.weight,
                    count=len(matches), matches=matches[:MATCHES_KEPT])


def score(resolved: Resolved, origin: str, tree: _Tree) -> Candidate:
    evidence = [found for signal in resolved.profile.detect if (found := _evaluate(signal, tree)) is not None]
    total = round(sum(item.weight for item in evidence), 2)
    return Candidate(resolved, origin, total, evidence)


def _origin(source: ProfileSource, root: Path) -> str:
    if source.builtin:
        return "builtin"
    try:
        return source.path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(source.path)


def load_profiles(root: Path) -> tuple[list[tuple[Resolved, str]], list[Issue]]:
    """Every profile this project sees, resolved; those that do not load become warnings."""
    available = available_profiles(root)
    loaded: list[tuple[Resolved, str]] = []
    issues: list[Issue] = []
    for source in available.values():
        try:
            loaded.append((resolve_source(source, available), _origin(source, root)))
        except ValidationFailed as exc:
            issues.extend(from_problem(p, "warning", "select", str(root)) for p in exc.problems)
            issues.append(Issue(severity="warning", stage="select", file=_origin(source, root),
                                message=f"profile {source.name!r} does not load and was not scored; "
                                        "check it with `uet profiles validate`"))
    return loaded, issues


def _rank(candidate: Candidate) -> tuple[float, int, str]:
    return (-candidate.score, -candidate.profile.priority, candidate.profile.name)


def confidence(best: float, runner_up: float | None) -> float:
    """strength × separation, rounded to two places (see the module docstring)."""
    if best <= 0:
        return 0.0
    margin = best - (runner_up if runner_up is not None and runner_up > 0 else 0.0)
    strength = min(1.0, best / STRONG_SCORE)
    separation = min(1.0, max(0.0, margin / (best / 2)))
    return round(strength * separation, 2)


def is_ambiguous(best: float, runner_up: float | None) -> bool:
    if runner_up is None or runner_up <= 0:
        return False
    return best - runner_up < max(AMBIGUOUS_FLOOR, AMBIGUOUS_RATIO * best)


def _floor(candidate: Candidate) -> float:
    """What the fallback scores on any tree (its catch-all signal): more is real evidence."""
    return sum(e.weight for e in candidate.evidence if e.kind == "dir" and e.pattern == ".")


def select(index: ScanIndex, root: Path, override: str | None = None) -> Selection:
    """Score every profile and choose one (``override`` is ``--profile``)."""
    profiles, issues = load_profiles(root)
    tree = _Tree.of(index)
    candidates = sorted((score(p, origin, tree) for p, origin in profiles), key=_rank)
    fallback = next((c for c in candidates if c.profile.name == FALLBACK), None)
    recognised = [c for c in candidates if c.score > 0 and (c is not fallback or c.score > _floor(c))]
    for path, reason in sorted(tree.unread.items()):
        issues.append(Issue(severity="warning", stage="select", file=path,
                            message=f"not read for content signals: {reason}"))

    runner_up: Candidate | None = None
    chosen_by: ChosenBy
    if recognised:
        best, chosen_by = recognised[0], "detection"
        runner_up = recognised[1] if len(recognised) > 1 else None
        second = runner_up.score if runner_up else None
        sure, ambiguous = confidence(best.score, second), is_ambiguous(best.score, second)
        margin: float | None = round(best.score - second, 2) if second is not None else None
        if sure < MIN_CONFIDENCE and fallback is not None and best is not fallback:
            close = f", {runner_up.profile.name} {runner_up.score:g}" if runner_up is not None else ""
            issues.append(Issue(severity="warning", stage="select", message=(
                f"{best.profile.name} scored only {best.score:g}{close} (confidence {sure:.2f}, under "
                f"{MIN_CONFIDENCE}): the {FALLBACK} profile was chosen instead; if {best.profile.name} fits, "
                f"choose it with --profile {best.profile.name}")))
            runner_up, best, chosen_by, sure, margin = best, fallback, "fallback", 0.0, None
    elif fallback is not None:
        best, chosen_by, sure, ambiguous, margin = fallback, "fallback", 0.0, False, None
    else:
        names = ", ".join(sorted(r.profile.name for r, _ in profiles)) or "none"
        raise ValidationFailed([Problem(
            f"no profile found evidence in this tree and the fallback profile {FALLBACK!r} is missing; "
            f"choose one with --profile (available: {names})")])

    chosen, origin = best.resolved, best.origin
    if override is not None:
        chosen = resolve_chain(override, root)
        origin, chosen_by = _origin(chosen.chain[0].source, root), "option"
    return Selection(
        resolved=chosen, origin=origin, chosen_by=chosen_by, detected=best.profile.name,
        confidence=sure, ambiguous=ambiguous, runner_up=runner_up.profile.name if runner_up else None,
        margin=margin, scores={c.profile.name: c.score for c in candidates},
        evidence={c.profile.name: c.evidence for c in candidates if c.evidence}, issues=issues,
    )

