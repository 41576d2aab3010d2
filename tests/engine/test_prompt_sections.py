"""Sections: text made per attempt from outside the step (a review round's comments, the
previous round's diff, the repository map, lessons of earlier runs), named in a prompt as a
placeholder or in ``context:`` as an entry, computed only when something names them."""

from __future__ import annotations

from pathlib import Path

from engine.agents.task import cleanup, prepare
from engine.prompts import SECTIONS, check, referenced_sections, render, with_sections
from schemas.execution import ExecutionRequest


def request(tmp_path: Path) -> ExecutionRequest:
    return ExecutionRequest(run_id="r1", step_id="edit", attempt=1, tool="t", adapter="subprocess", argv=["true"],
                            cwd=str(tmp_path), env={}, log_path=str(tmp_path / ".uet" / "logs" / "r1" / "edit.1.log"))


def test_a_patch_only_section_is_refused_in_a_step_that_proposes_no_patch() -> None:
    text = "Fix {review.comments} with {repo_map} and {memory}; before: {round.patch}"
    found = check(text, simple=["root"], step_ids=["edit"], upstream=set(), has_gate=False, produces_patch=False)
    assert [p.token for p in found] == ["{review.comments}", "{round.patch}"]
    assert "only a step with `produces: patch`" in found[0].message
    assert check(text, simple=["root"], step_ids=["edit"], upstream=set(), has_gate=False, produces_patch=True) == []


def test_a_misspelt_section_gets_a_suggestion() -> None:
    found = check("see {repo_mpa}", simple=["root"], step_ids=[], upstream=set(), has_gate=False)
    assert len(found) == 1 and "did you mean {repo_map}?" in found[0].message


def test_render_fills_sections_and_leaves_missing_ones_empty() -> None:
    text = "A{repo_map}B{memory}C{{repo_map}}"
    assert render(text, {}, {}, sections={"repo_map": "MAP"}) == "AMAPBC{repo_map}"
    assert referenced_sections(text) == ["repo_map", "memory"]
    assert referenced_sections("{{memory}} {root}") == []


def test_appended_sections_have_headings_and_empty_ones_are_left_out() -> None:
    out = with_sections("Do it.\n", {"memory": "lesson one", "repo_map": "  \n"})
    assert out == f"Do it.\n\n## {SECTIONS['memory'].heading}\n\nlesson one\n"
    assert with_sections("Do it.\n", {}) == "Do it.\n"


def test_prepare_computes_only_the_sections_named_and_appends_context_ones(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    called: list[str] = []

    def provider(name: str):  # noqa: ANN202
        def make() -> str:
            called.append(name)
            return f"<{name}>"
        return make

    sections = {name: provider(name) for name in SECTIONS}
    spec = {"prompt": "Edit. {memory}", "context": ["a.py", "repo_map"]}
    _, prepared = prepare(request(tmp_path), spec, None, root=str(tmp_path), workdir=str(tmp_path), outputs={},
                          sections=sections, append=["review.comments"])
    text = Path(prepared.prompt_file).read_text()
    cleanup(prepared)
    assert sorted(called) == ["memory", "repo_map", "review.comments"]  # round.patch: named by nothing
    assert text.startswith("Edit. <memory>\n\nFiles in scope:\n- a.py\n")
    assert text.index("## Repository map\n\n<repo_map>") < text.index("## Review comments on your previous patch")
    assert "- repo_map" not in text  # a section, not a file


def test_a_section_named_in_the_prompt_is_not_appended_again(tmp_path: Path) -> None:
    spec = {"prompt": "Fix: {review.comments}", "context": []}
    _, prepared = prepare(request(tmp_path), spec, None, root=str(tmp_path), workdir=str(tmp_path), outputs={},
                          sections={"review.comments": lambda: "C1"}, append=["review.comments"])
    text = Path(prepared.prompt_file).read_text()
    cleanup(prepared)
    assert text == "Fix: C1"
