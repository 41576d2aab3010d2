"""Recall: the past lessons that resemble a step, best first, rendered within a token budget.

Candidates come from the store's full-text index (``store.lessons.search``: any of the step's
words) and from the lessons that name one of its files. Each is scored here, the same way
whatever the index said, so the score means something even in a store of three lessons (where
BM25's weights are nearly zero):

* **files** (0..1): Jaccard overlap of the paths, or ``FOLDER_WEIGHT`` times the share of the
  step's folders the lesson touched, whichever is more (a lesson about ``src/calc.py`` is near
  ``src/calc_test.py``, though not enough alone);
* **text** (0..1): the share of the step's words (three letters or more, two of a script beyond
  ASCII; common words left out)
  that the lesson's task, failure or files hold;
* relevance = ``FILES_WEIGHT`` × files + ``TEXT_WEIGHT`` × text.

A lesson below ``MIN_SCORE`` is not offered: an unrelated step gets nothing rather than noise.
Among the rest, ``SAME_KIND_BONUS`` favours a lesson of the same kind of step and
``FIXED_BONUS`` one that says what fixed it (they rank, they never make a lesson relevant).
The text is cut to the budget at about four characters a token.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

from schemas.memory import Lesson, Recalled
from store import lessons as stored

FILES_WEIGHT = 0.55
TEXT_WEIGHT = 0.45
SAME_KIND_BONUS = 0.1
FIXED_BONUS = 0.05
FOLDER_WEIGHT = 0.4
MIN_SCORE = 0.3
CHARS_PER_TOKEN = 4
DEFAULT_TOKENS = 1024
MAX_TOKENS = 32_000
MAX_QUERY_WORDS = 64
_WORD = re.compile(r"[^\W_]+")
#: Words that say nothing about what a step is about.
STOP = frozenset(re.findall(r"\w+", """
a an and are as at be but by can do does for from has have in into is it its make not of on or so that the then
this to was were will with you your all any each every when what which who why how should must may also more
step steps run runs task file files change changes code please sure use using one two new add get set let
test tests fail fails failed failing error errors fix fixed gate passed pass make
"""))


def words(text: str) -> list[str]:
    """The words of ``text`` worth comparing, lower case, once each, in order: letters and
    digits only (so nothing in them is FTS5 syntax: no quotes, operators or column filters)."""
    found: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if (len(word) >= 3 or (len(word) == 2 and not word.isascii())) and word not in STOP and not word.isdigit():
            found[word] = None
    return list(found)[:MAX_QUERY_WORDS]


def _folders(paths: Sequence[str]) -> set[str]:
    """The folders of ``paths`` (of a glob: the part before its first wildcard)."""
    out = set()
    for path in paths:
        plain = re.split(r"[*?\[]", path, maxsplit=1)[0]
        folder = plain if plain.endswith("/") else posixpath.dirname(plain)
        out.add(folder.rstrip("/") or ".")
    return out


def file_score(mine: Sequence[str], theirs: Sequence[str]) -> float:
    if not mine or not theirs:
        return 0.0
    a, b = set(mine), set(theirs)
    jaccard = len(a & b) / len(a | b)
    folders = _folders(mine)
    near = len(folders & _folders(theirs)) / len(folders)
    return max(jaccard, FOLDER_WEIGHT * near)


def text_score(mine: Sequence[str], lesson: Lesson) -> float:
    if not mine:
        return 0.0
    theirs = _all_words(" ".join((lesson.task, lesson.failure[:8_000], " ".join(lesson.files))))
    return len(set(mine) & theirs) / len(mine)


def _all_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) >= 3 or not w.isascii()}


def recall(text: str, files: Sequence[str] = (), *, kind: str | None = None, tokens: int = DEFAULT_TOKENS,
           exclude_run: str | None = None, limit: int = 5) -> list[Recalled]:
    """The lessons most like a step (its task ``text``, its ``files``), best first: at most
    ``limit``, each scoring at least ``MIN_SCORE``, together within ``tokens`` once rendered.
    Reads the store opened last (``store.Store``)."""
    mine = words(text)
    found: dict[int, Lesson] = {lesson.id: lesson for lesson, _rank in stored.search(mine, exclude_run=exclude_run)}
    for lesson in stored.lessons_touching(files, exclude_run=exclude_run):
        found.setdefault(lesson.id, lesson)
    scored = []
    for lesson in found.values():
        f = file_score(files, lesson.files)
        t = text_score(mine, lesson)
        score = FILES_WEIGHT * f + TEXT_WEIGHT * t
        if score < MIN_SCORE:
            continue
        if kind is not None and lesson.kind == kind:
            score += SAME_KIND_BONUS
        if lesson.outcome == "fixed":
            score += FIXED_BONUS
        scored.append(Recalled(lesson=lesson, score=round(min(score, 1.0), 3), files=round(f, 3), text=round(t, 3)))
    scored.sort(key=lambda r: (-r.score, -r.lesson.id))
    chosen: list[Recalled] = []
    budget = max(0, tokens) * CHARS_PER_TOKEN
    used = 0
    for item in scored[:limit]:
        size = len(render_one(item.lesson))
        if used + size > budget and chosen:
            break
        chosen.append(item)
        used += size
    return chosen


def render_one(lesson: Lesson, limit: int | None = None) -> str:
    """One lesson as the prompt shows it; within ``limit`` characters, the end of the failure
    (where a test runner sums up) and the beginning of the fix are kept, each cut with a note."""
    later = "attempt" if lesson.failure_kind == "error" else "round"
    how = (f"fixed {lesson.rounds - 1} {later}(s) later" if lesson.outcome == "fixed"
           else "never fixed: do not repeat it")
    head = (f"### Lesson {lesson.id}: step {lesson.step_id} ({lesson.kind}, tool {lesson.tool}) of run "
            f"{lesson.run_id[:8]}, {how}\n")
    if lesson.files:
        head += "Files: " + ", ".join(lesson.files[:20]) + "\n"
    failure, fix = lesson.failure.strip(), lesson.fix.strip()

    def build(failure: str, fix: str) -> str:
        text = head + f"What failed ({lesson.failure_kind}):\n{failure}\n"
        return text + (f"What fixed it (the diff that passed):\n```diff\n{fix}\n```\n" if fix else "")

    text = build(failure, fix)
    if limit is None or len(text) <= limit:
        return text
    room = limit - len(build("", "x" if fix else "")) - 2 * len(_CUT)
    if room < 40:
        return text[: max(0, limit - len(_CUT))] + _CUT
    keep_fix = min(len(fix), room // 2) if len(failure) > room // 2 else min(len(fix), room - len(failure))
    keep_failure = min(len(failure), room - keep_fix)
    if keep_failure < len(failure):  # from a whole line on
        tail = failure[len(failure) - keep_failure:]
        failure = _CUT.strip() + "\n" + (tail.split("\n", 1)[1] if "\n" in tail[:-1] else tail)
    if keep_fix < len(fix):
        fix = fix[:keep_fix].rsplit("\n", 1)[0] + _CUT.rstrip()
    return build(failure, fix)


_CUT = "\n[… cut]\n"


def render(recalled: Sequence[Recalled], tokens: int = DEFAULT_TOKENS) -> str:
    """The lessons as text of at most ``tokens`` × 4 characters; the last one cut when it does
    not fit whole."""
    budget = max(0, tokens) * CHARS_PER_TOKEN
    out: list[str] = []
    used = 0
    for item in recalled:
        left = budget - used
        if left <= 80:
            break
        piece = render_one(item.lesson, left)
        out.append(piece)
        used += len(piece) + 1
    return "\n".join(out)
