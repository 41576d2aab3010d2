"""Recall on a real store: a step like a past one gets its lesson and an unrelated one gets
nothing; the rendering keeps to its token budget; any text a user or a step holds is a safe
search; harvesting the same source twice keeps one lesson."""

from __future__ import annotations

import pytest

from engine.memory.recall import CHARS_PER_TOKEN, MIN_SCORE, file_score, recall, render, words
from store import Store
from store import lessons as stored
from tests.memory.conftest import add_lesson

DIVIDE = dict(task="Make divide in the calculator return None when dividing by zero", files=["src/calc.py"],
              failure="gate tests failed:\nE ZeroDivisionError: division by zero\nFAILED test_calc.py::test_divide")
README = dict(task="Write an installation section in the README", files=["README.md"],
              failure="gate docs failed: markdown link check found a broken link", kind="docs")


@pytest.fixture
def lessons(store: Store) -> Store:
    add_lesson(store, "patch:a:gate", **DIVIDE, fix="+    if b == 0:\n+        return None\n")
    add_lesson(store, "patch:b:gate", **README)
    return store


def ids(found: list) -> list[int]:
    return [item.lesson.source for item in found]


def test_a_similar_step_gets_the_lesson_and_an_unrelated_one_gets_nothing(lessons: Store) -> None:
    similar = recall("Guard divide against a zero divisor in the calculator", ["src/calc.py"], kind="code_edit")
    assert ids(similar) == ["patch:a:gate"]
    assert similar[0].score >= MIN_SCORE and similar[0].files == 1.0
    assert recall("Bump the version number in pyproject and tag the release", ["pyproject.toml"]) == []
    # Sharing a folder and the words every failure has is not resemblance, nor is one word.
    assert recall("Speed up the tests of the parser; failed runs take too long", ["src/parser.py"],
                  kind="code_edit") == []
    assert recall("Translate the calculator's help text to German", ["docs/help.md"], kind="code_edit") == []
    # The other lesson is found by what it is about, not by being there.
    assert ids(recall("Fix the README installation section", ["README.md"], kind="docs")) == ["patch:b:gate"]


def test_files_alone_find_a_lesson_of_the_same_folder_and_words_alone_find_one_too(lessons: Store) -> None:
    assert ids(recall("", ["src/calc.py"])) == ["patch:a:gate"]
    assert file_score(["src/calc_test.py"], ["src/calc.py"]) == 0.4
    assert file_score(["src/*.py"], ["src/calc.py"]) == 0.4
    assert file_score(["docs/a.md"], ["src/calc.py"]) == 0.0
    assert ids(recall("ZeroDivisionError when the calculator divides by zero", [])) == ["patch:a:gate"]


def test_lessons_of_the_step_s_own_run_are_left_out(lessons: Store) -> None:
    assert recall(DIVIDE["task"], DIVIDE["files"], exclude_run="run1") == []
    assert ids(recall(DIVIDE["task"], DIVIDE["files"], exclude_run="other")) == ["patch:a:gate"]


def test_the_rendering_keeps_to_its_token_budget(store: Store) -> None:
    for n in range(5):
        add_lesson(store, f"patch:{n}:gate", **{**DIVIDE, "failure": DIVIDE["failure"] + "\n" + "x" * 3000},
                   fix="+ fix\n" * 400)
    found = recall(DIVIDE["task"], DIVIDE["files"], tokens=300)
    assert len(found) == 1  # the first always, cut to fit; no second
    text = render(found, tokens=300)
    assert len(text) <= 300 * CHARS_PER_TOKEN and text.count("[… cut]") == 2 and text.startswith("### Lesson")
    # the end of the failure and the beginning of the fix are what is kept
    assert "ZeroDivisionError" not in text and "xxx\n" in text and "```diff\n+ fix\n" in text
    many = recall(DIVIDE["task"], DIVIDE["files"], tokens=20_000)
    assert len(many) == 5
    assert len(render(many, tokens=20_000)) <= 20_000 * CHARS_PER_TOKEN


AWKWARD = ['"', "'", 'divide" OR "x', "NOT calc", "AND", "OR OR", "NEAR(a b)", "calc*", "^divide", "task:divide",
           "files : src", "(((", "a - b", "{memory}", "\\", "%_%", "\0", "ÄÖÜ äöü 零除 división", "🙂 emoji",
           "x" * 5000, "", "   ", "-- ; DROP TABLE lessons"]


@pytest.mark.parametrize("text", AWKWARD, ids=range(len(AWKWARD)))
def test_any_text_is_a_safe_search(lessons: Store, text: str) -> None:
    recall(text, [text] if text else [])
    assert stored.count_lessons() == 2


def test_words_hold_nothing_fts5_reads_as_syntax() -> None:
    assert words('divide" OR NOT calc* ^x task:y NEAR(a b) división 零除') == [
        "divide", "calc", "near", "división", "零除"]


def test_without_fts5_the_same_lessons_are_found(lessons: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with_index = ids(recall("Guard divide against a zero divisor in the calculator", ["src/calc.py"]))
    monkeypatch.setattr(stored, "has_fts", lambda: False)
    assert ids(recall("Guard divide against a zero divisor in the calculator", ["src/calc.py"])) == with_index
    assert ids(recall("ZeroDivisionError when the calculator divides", [])) == ["patch:a:gate"]


def test_the_same_source_twice_is_one_lesson_updated(store: Store) -> None:
    add_lesson(store, "patch:a:gate", **DIVIDE, outcome="unresolved")
    add_lesson(store, "patch:a:gate", **DIVIDE, outcome="unresolved")
    assert stored.count_lessons() == 1
    add_lesson(store, "patch:a:gate", **DIVIDE, outcome="fixed", fix="+ the fix\n")
    [lesson] = stored.list_lessons()
    assert lesson.outcome == "fixed" and lesson.fix == "+ the fix\n"
    # the index followed the update: the fix's run is found by the failure's words
    assert ids(recall("ZeroDivisionError division", [])) == ["patch:a:gate"]
