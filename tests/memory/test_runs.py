"""Memory through real runs (`uet run` in a subprocess, a real git repository, real pytest as
the gate): run 1's gate failure and the round that fixed it become a lesson; run 2's step that
resembles it gets the lesson in its prompt file, an unrelated step does not; harvesting again
adds nothing; a failure never fixed is kept as unresolved; a failed attempt that a retry got
past is a lesson too; `uet memory` lists, searches, shows and forgets them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from engine.memory import harvest
from store import Store
from store import lessons as stored
from tests.conftest import Project
from tests.engine.patch_repos import git
from tests.review.standin import greet_project

pytestmark = pytest.mark.slow

PY = sys.executable

EDITOR = """
    # the first round only tidies; told the gate's failure, it guards the division
    if [ -n "$UET_GATE_FEEDBACK" ] && grep -q ZeroDivisionError "$UET_GATE_FEEDBACK"; then
        printf 'def divide(a, b):\\n    if b == 0:\\n        return None\\n    return a / b\\n' > src/calc.py
    else
        printf 'def divide(a, b):\\n    return a / b  # tidied\\n' > src/calc.py
    fi
"""

FIX = """
    name: fix
    steps:
      - id: fix-divide
        kind: code_edit
        tool: editor
        produces: patch
        gate: tests
        fix_loop: {max_rounds: 2}
        description: Make divide in the calculator return None when dividing by zero
        context: [src/calc.py]
        prompt: "{description}"
    gates:
      tests: [["PYTHON", -m, pytest, -q, -p, no:cacheprovider]]
""".replace("PYTHON", PY)

LATER = """
    name: later
    steps:
      - id: guard-divide
        kind: code_edit
        tool: echo
        description: Guard divide against a zero divisor in the calculator
        context: [src/calc.py, memory]
        prompt: "{description}"
      - id: divide-docs
        kind: code_edit
        tool: echo
        memory: {tokens: 100}
        description: Document how divide handles a zero divisor in the calculator
        context: [src/calc.py]
        prompt: "Task: {description}\\n\\nKnown pitfalls:\\n{memory}"
      - id: readme
        kind: docs
        tool: echo
        description: Write an installation section in the README for new contributors
        context: [README.md, memory]
        prompt: "{description}"
"""


@pytest.fixture
def repo(project: Project) -> Project:
    project.write("src/calc.py", "def divide(a, b):\n    return a / b\n")
    project.write("src/__init__.py", "")
    project.write("README.md", "# calc\n")
    project.write("test_calc.py", "from src.calc import divide\n\n\ndef test_divide_by_zero():\n"
                                  "    assert divide(1, 0) is None\n")
    project.write(".gitignore", ".uet/\n__pycache__/\n")
    project.script("editor.sh", EDITOR)
    project.write(".uet/router.yaml", """
        tools:
          editor:
            command: [sh, "{root}/editor.sh"]
            capabilities: [code_edit]
          echo:
            command: [cat, "{prompt_file}"]
            capabilities: [docs]
    """)
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "start")
    return project


def run(project: Project, name: str, text: str, expect: int = 0) -> str:
    path = project.write(name, text)
    done = project.uet("run", "--plain", str(path), timeout=180)
    assert done.returncode == expect, done.stdout + done.stderr
    return json.loads(project.uet("runs", "--json", check=True).stdout)[0]["id"]


def prompt(project: Project, run_id: str, step: str) -> str:
    return (project.root / ".uet" / "logs" / run_id / f"{step}.1.prompt.md").read_text()


def lessons(project: Project) -> list[dict]:
    return json.loads(project.uet("memory", "list", "--json", check=True).stdout)


def test_run_1_s_failure_is_offered_to_run_2_s_similar_step_and_not_to_an_unrelated_one(repo: Project) -> None:
    first = run(repo, "fix.yaml", FIX)
    [lesson] = lessons(repo)
    assert (lesson["run_id"], lesson["step_id"], lesson["kind"], lesson["tool"]) == (first, "fix-divide",
                                                                                    "code_edit", "editor")
    assert (lesson["failure_kind"], lesson["outcome"], lesson["rounds"], lesson["files"]) == (
        "gate", "fixed", 2, ["src/calc.py"])
    assert "ZeroDivisionError" in lesson["failure"] and "return a / b  # tidied" in lesson["failure"]
    assert "+    if b == 0:\n+        return None" in lesson["fix"]  # the diff of the round that passed

    second = run(repo, "later.yaml", LATER)
    similar = prompt(repo, second, "guard-divide")
    assert "## Lessons from earlier runs" in similar
    assert f"step fix-divide (code_edit, tool editor) of run {first[:8]}" in similar
    assert "ZeroDivisionError" in similar and "+        return None" in similar
    # {memory} in the prompt itself, within its own budget of 100 tokens
    docs = prompt(repo, second, "divide-docs")
    pitfalls = docs.split("Known pitfalls:\n", 1)[1].split("\n\nFiles in scope:")[0]
    assert pitfalls.startswith("### Lesson") and len(pitfalls) <= 100 * 4
    assert "ZeroDivisionError" in pitfalls and "[… cut]" in pitfalls  # the end of the failure is what is kept
    unrelated = prompt(repo, second, "readme")
    assert "Lessons from earlier runs" not in unrelated and "ZeroDivisionError" not in unrelated
    assert unrelated == ("Write an installation section in the README for new contributors\n\n"
                         "Files in scope:\n- README.md\n")

    # The second run taught nothing new, and harvesting the first again adds no copy.
    with Store(repo.db) as store:
        assert harvest(store, first) == 0
        assert stored.count_lessons() == 1
    events = [json.loads(line)["kind"] for line in repo.uet("logs", first, "--json", check=True).stdout.splitlines()]
    assert events.count("memory.harvested") == 1
    assert "1 lesson(s) kept for later runs (uet memory list)" in repo.uet("logs", first, check=True).stdout


def test_a_failure_never_fixed_is_kept_as_unresolved(repo: Project) -> None:
    repo.script("editor.sh", "printf 'def divide(a, b):\\n    return a // b\\n' > src/calc.py\n")
    git(repo.root, "commit", "-q", "-am", "an editor that never learns")
    run(repo, "fix.yaml", FIX.replace("max_rounds: 2", "max_rounds: 1"), expect=1)
    found = lessons(repo)
    assert [(le["failure_kind"], le["outcome"], le["fix"]) for le in found] == [("gate", "unresolved", "")] * 2
    assert len({le["source"] for le in found}) == 2  # one per round whose gate failed


def test_a_failed_attempt_a_retry_got_past_is_a_lesson(project: Project) -> None:
    project.script("flaky.sh", """
        if [ -e .tried ]; then echo fine; exit 0; fi
        touch .tried
        echo "ImportError: no module named yaml (install pyyaml first)" >&2
        exit 3
    """)
    project.write("ws.yaml", """
        name: setup
        steps:
          - id: install-deps
            kind: setup
            run: [sh, flaky.sh]
            description: Install the project's dependencies
            retry: {max_attempts: 2, backoff: 10ms}
    """)
    assert project.uet("run", "--plain", "ws.yaml").returncode == 0
    [lesson] = lessons(project)
    assert (lesson["failure_kind"], lesson["outcome"], lesson["rounds"], lesson["tool"]) == ("error", "fixed", 2, "sh")
    assert "ImportError: no module named yaml" in lesson["failure"]
    found = json.loads(project.uet("memory", "search", "install dependencies pyyaml", "--json", check=True).stdout)
    assert [r["lesson"]["id"] for r in found] == [lesson["id"]]


def test_the_memory_commands(repo: Project) -> None:
    first = run(repo, "fix.yaml", FIX)
    [lesson] = lessons(repo)
    listed = repo.uet("memory", "list", check=True).stdout
    assert "✔ fixed" in listed and "fix-divide" in listed and "ZeroDivisionError" in listed
    found = repo.uet("memory", "search", "zero divisor in divide", "--file", "src/calc.py", check=True).stdout
    assert found.splitlines()[1].split()[0] == str(lesson["id"])
    assert "no lesson is relevant" in repo.uet("memory", "search", "translate the docs", check=True).stdout
    shown = repo.uet("memory", "show", str(lesson["id"]), check=True).stdout
    assert f"run {first}" in shown and "fix:\n  diff --git a/src/calc.py" in shown

    for bad in (["show", "abc"], ["show", "0"], ["forget", "-1"], ["list", "--limit", "x"]):
        refused = repo.uet("memory", *bad)
        assert refused.returncode == 2 and "uet:" in refused.stderr, bad
    missing = repo.uet("memory", "forget", "999")
    assert missing.returncode == 2 and "no lesson 999" in missing.stderr
    assert len(lessons(repo)) == 1  # nothing changed

    forgot = repo.uet("memory", "forget", str(lesson["id"]), check=True).stdout
    assert f"lesson {lesson['id']} forgotten" in forgot
    assert lessons(repo) == []
    with Store(repo.db) as store:
        assert harvest(store, first) == 0  # a forgotten lesson stays forgotten
    events = [json.loads(line) for line in repo.uet("logs", first, "--json", check=True).stdout.splitlines()]
    [gone] = [e for e in events if e["kind"] == "memory.forgotten"]
    assert gone["data"]["lesson"] == lesson["id"] and gone["data"]["by"]
    assert f"step fix-divide: lesson {lesson['id']} forgotten by {gone['data']['by']}" in repo.uet(
        "logs", first, check=True).stdout
    assert repo.uet("memory", "show", str(lesson["id"])).returncode == 2




def test_review_comments_are_a_lesson_fixed_once_the_revision_is_approved(project: Project, tmp_path: Path) -> None:
    from engine.adapters.sandbox import probe

    if not probe().available:
        pytest.skip("needs bubblewrap")
    greet_project(project, tmp_path)
    run(project, "ws.yaml", """
        name: greet
        steps:
          - id: edit
            tool: standin
            prompt: Add a greet function to app.py.
            produces: patch
            review: {max_rounds: 2}
    """)
    first = json.loads(project.uet("patches", "--json", check=True).stdout)[0]
    asked = project.uet("patch", "request-changes", first["id"], "--comment", 'replace "hello" with "hello, world"',
                        "--file", "app.py", "--line", "5", "--plain", timeout=120)
    assert asked.returncode == 0, asked.stdout + asked.stderr
    [lesson] = lessons(project)  # harvested when the revision round's run ended: not approved yet
    assert (lesson["failure_kind"], lesson["outcome"], lesson["fix"]) == ("review", "unresolved", "")
    assert lesson["failure"] == 'a reviewer asked for changes:\napp.py:5: replace "hello" with "hello, world"'

    revised = {p["round"]: p for p in json.loads(project.uet("patches", "--json", check=True).stdout)}[2]
    project.uet("patch", "approve", revised["id"], check=True)
    run(project, "other.yaml", "name: other\nsteps:\n  - {id: hello, run: [echo, hi]}\n")  # its start catches up
    with Store(project.db):  # read as it is (uet memory would catch up by itself)
        [kept] = stored.list_lessons()
    assert (kept.outcome, kept.rounds) == ("fixed", 2)
    assert '+    return "hello, world"' in kept.fix
