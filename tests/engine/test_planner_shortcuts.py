"""The planner's shortcuts for big files give what the long way gives: the steps' specs dumped
in one call for the whole list, and the cycle check skipped when every step needs only steps
listed before it."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ValidationFailed
from engine.planner import build_plan
from schemas.workstream import Workstream


def plan(tmp_path: Path, steps: list[dict]):  # noqa: ANN201
    return build_plan(Workstream.model_validate({"name": "w", "steps": steps}), None, None, tmp_path)


def test_each_spec_is_what_the_step_dumps_to_alone(tmp_path: Path) -> None:
    steps = [
        {"id": "a", "run": ["true"], "env": {"A": "1"}, "timeout": "5m", "retry": {"max_attempts": 3}},
        {"id": "b", "run": "echo hi", "needs": ["a"], "description": "says hi", "cwd": "sub"},
        {"id": "c", "call": "json:dumps", "needs": ["a", "b"], "params": {"obj": 1}},
    ]
    (tmp_path / "sub").mkdir()
    made = plan(tmp_path, steps)
    workstream = made.workstream
    for item, step in zip(made.steps, workstream.steps, strict=True):
        alone = step.model_dump(mode="json", exclude={"matrix", "id", "needs"}, exclude_none=True,
                                exclude_defaults=True)
        assert item.spec == alone, item.id
    assert made.steps[0].spec["retry"] == {"max_attempts": 3}
    assert made.steps[1].spec["run"] == ["echo", "hi"] and "needs" not in made.steps[1].spec


def test_steps_listed_before_what_they_need_are_still_ordered(tmp_path: Path) -> None:
    made = plan(tmp_path, [{"id": "c", "run": ["true"], "needs": ["b"]}, {"id": "b", "run": ["true"], "needs": ["a"]},
                           {"id": "a", "run": ["true"]}])
    assert [(s.id, s.needs) for s in made.steps] == [("c", ["b"]), ("b", ["a"]), ("a", [])]


@pytest.mark.parametrize("steps", [
    [{"id": "a", "run": ["true"], "needs": ["b"]}, {"id": "b", "run": ["true"], "needs": ["a"]}],
    [{"id": "a", "run": ["true"]}, {"id": "b", "run": ["true"], "needs": ["c"]}, {"id": "c", "run": ["true"], "needs": ["b"]}],
    [{"id": "a", "run": ["true"], "needs": ["a"]}],
], ids=["pair", "later-pair", "itself"])
def test_a_cycle_is_found_wherever_it_is_listed(tmp_path: Path, steps: list[dict]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        plan(tmp_path, steps)
    (problem,) = caught.value.problems
    assert problem.message.startswith("dependency cycle: ")


def test_a_plan_of_commands_reads_the_router_only_when_asked(tmp_path: Path) -> None:
    made = plan(tmp_path, [{"id": "a", "run": ["true"]}, {"id": "b", "call": "json:dumps", "needs": ["a"]}])
    assert made.loaded_router is None
    assert made.router.tools and made.loaded_router is made.router  # the built-in one, read once asked for


def test_a_step_left_to_routing_or_a_project_router_file_is_read_while_planning(tmp_path: Path) -> None:
    assert plan(tmp_path, [{"id": "a", "kind": "lint"}, {"id": "b", "run": ["true"]}]).loaded_router is not None
    (tmp_path / ".uet").mkdir()
    (tmp_path / ".uet" / "router.yaml").write_text("tools: {}\nrules: [\n")
    with pytest.raises(ValidationFailed) as caught:
        plan(tmp_path, [{"id": "a", "run": ["true"]}])
    assert caught.value.problems[0].file.endswith("router.yaml")
