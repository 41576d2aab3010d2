"""The contracts: committed JSON Schemas match the models, the documented workstream example is
valid both ways, durations read as people write them, and unknown keys are errors everywhere."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, ValidationError

from schemas import (
    BreakerPolicy,
    Budget,
    RetryPolicy,
    RouterConfig,
    Step,
    ToolSpec,
    Workstream,
    format_duration,
    parse_duration,
)
from schemas.durations import MAX_SECONDS
from schemas.export import DIALECT, EXPORTED, JSON_DIR, file_name, render

# -- committed schema files -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_committed_schema_matches_model(name: str) -> None:
    path = JSON_DIR / file_name(name)
    assert path.is_file(), f"{path} is missing: run `uet schemas export`"
    assert path.read_text(encoding="utf-8") == render(name), (
        f"{path} differs from the {EXPORTED[name].__name__} model: run `uet schemas export`"
    )


def test_no_schema_file_without_a_model() -> None:
    committed = {path.name for path in JSON_DIR.glob("*.json")}
    assert committed <= {file_name(name) for name in EXPORTED}, (
        "run `uet schemas export` and delete the rest"
    )


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_schema_file_is_valid_json_schema_2020_12(name: str) -> None:
    document = json.loads((JSON_DIR / file_name(name)).read_text(encoding="utf-8"))
    assert document["$schema"] == DIALECT
    assert document["$id"].endswith("/" + file_name(name))
    jsonschema.Draft202012Validator.check_schema(document)


def exported_validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(render(name)))


# -- the workstream example from ARCHITECTURE.md ---------------------------------------

EXAMPLE: dict[str, Any] = {
    "name": "quality",
    "max_parallel": 2,
    "budget": {"usd": 2.0, "wall": "30m"},
    "steps": [
        {"id": "lint", "kind": "lint", "run": ["ruff", "check", "{root}"]},
        {
            "id": "fix",
            "kind": "code_edit",
            "needs": ["lint"],
            "tool": "ruff-fix",
            "produces": "patch",
            "gate": "tests",
        },
        {
            "id": "test",
            "kind": "test",
            "needs": ["fix"],
            "run": ["python", "-m", "pytest", "-q"],
            "retry": {"max_attempts": 3, "backoff": "2s", "max_backoff": "1m"},
            "timeout": "10m",
        },
        {
            "id": "lint-{pkg}",
            "kind": "lint",
            "matrix": {"pkg": ["api", "core", "cli"]},
            "run": ["ruff", "check", "{root}/{pkg}"],
        },
    ],
    "gates": {"tests": [["python", "-m", "pytest", "-q"]]},
}


def with_string_run(document: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    changed["steps"][2]["run"] = "python -m pytest -q 'tests/a b'"
    return changed


def test_example_validates_with_the_model() -> None:
    workstream = Workstream.model_validate(EXAMPLE)
    assert workstream.budget == Budget(usd=2.0, wall=1800.0)
    test = workstream.steps[2]
    assert test.timeout == 600.0
    assert test.retry == RetryPolicy(max_attempts=3, backoff=2.0, max_backoff=60.0)
    assert workstream.steps[3].matrix == {"pkg": ["api", "core", "cli"]}


def test_example_validates_with_the_exported_schema() -> None:
    exported_validator("workstream").validate(EXAMPLE)


def test_string_run_is_split_like_a_shell_line() -> None:
    workstream = Workstream.model_validate(with_string_run(EXAMPLE))
    assert workstream.steps[2].run == ["python", "-m", "pytest", "-q", "tests/a b"]


def test_string_run_validates_with_the_exported_schema() -> None:
    exported_validator("workstream").validate(with_string_run(EXAMPLE))


def test_example_round_trips_through_json() -> None:
    workstream = Workstream.model_validate(EXAMPLE)
    dumped = workstream.model_dump(mode="json", exclude_none=True)
    assert dumped["budget"]["wall"] == "30m"
    assert Workstream.model_validate(dumped) == workstream
    exported_validator("workstream").validate(dumped)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"steps": []}, id="no-steps"),
        pytest.param({"name": "has space"}, id="bad-name"),
        pytest.param({"max_parallel": 0}, id="max_parallel-zero"),
    ],
)
def test_invalid_workstreams_fail_both_ways(bad: dict[str, Any]) -> None:
    document = {**copy.deepcopy(EXAMPLE), **bad}
    with pytest.raises(ValidationError):
        Workstream.model_validate(document)
    assert not exported_validator("workstream").is_valid(document)


def test_empty_string_run_is_rejected() -> None:
    with pytest.raises(ValidationError, match="the command is empty"):
        Step.model_validate({"id": "s", "run": "   "})
    with pytest.raises(ValidationError, match="cannot split command line"):
        Step.model_validate({"id": "s", "run": "echo 'unclosed"})


# -- durations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("2s", 2.0),
        ("10m", 600.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("1.5s", 1.5),
        (" 2 s ", 2.0),
        ("7d", MAX_SECONDS),
        ("0", 0.0),
        ("30", 30.0),
        (30, 30.0),
        (2.5, 2.5),
        (0, 0.0),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "cannot be negative"),
        (-0.5, "cannot be negative"),
        ("-1s", "a duration cannot be negative"),
        ("8d", "'8d' is longer than the 7-day limit"),
        (MAX_SECONDS + 1, "longer than the 7-day limit"),
        ("abc", "'abc' is not a duration: write e.g. 500ms, 2s, 10m or 1h"),
        ("", "is not a duration"),
        ("1 minute", "is not a duration"),
        ("1e3", "is not a duration"),
        (True, "not a boolean"),
        (False, "not a boolean"),
        (None, "a duration such as 500ms, 2s, 10m or 1h is needed"),
        ([1], "a duration such as 500ms, 2s, 10m or 1h is needed"),
    ],
)
def test_parse_duration_rejects(value: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert message in str(info.value)


@pytest.mark.parametrize("value", [-1, "8d", "abc", True])
def test_model_duration_error_names_the_field(value: object) -> None:
    with pytest.raises(ValidationError) as info:
        Step.model_validate({"id": "s", "timeout": value})
    [error] = info.value.errors()
    assert error["loc"] == ("timeout",)
    assert error["type"] == "value_error"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0s"),
        (0.25, "250ms"),
        (0.5, "500ms"),
        (1.0, "1s"),
        (1.5, "1.5s"),
        (2.0, "2s"),
        (90.0, "90s"),
        (600.0, "10m"),
        (3600.0, "1h"),
        (5400.0, "90m"),
        (86400.0, "1d"),
        (MAX_SECONDS, "7d"),
    ],
)
def test_format_duration_round_trips(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(format_duration(seconds)) == seconds


def test_format_duration_round_trips_every_millisecond_value() -> None:
    values = [ms / 1000 for ms in range(0, 2000)] + [
        ms / 1000 for ms in range(0, int(MAX_SECONDS * 1000), 7919)
    ]
    lost = [(v, format_duration(v)) for v in values if parse_duration(format_duration(v)) != v]
    assert not lost, f"{len(lost)} values do not round-trip, e.g. {lost[:3]}"


def test_durations_serialize_as_text_in_json_only() -> None:
    retry = RetryPolicy(backoff="500ms", max_backoff="1h")
    assert retry.model_dump()["backoff"] == 0.5
    assert retry.model_dump(mode="json")["backoff"] == "500ms"
    assert retry.model_dump(mode="json")["max_backoff"] == "1h"


# -- steps and matrix placeholders ------------------------------------------------------


@pytest.mark.parametrize(
    "step",
    [
        {"id": "plain"},
        {"id": "lint-{pkg}", "matrix": {"pkg": ["api", "core"]}},
        {"id": "t-{py}-{os}", "matrix": {"py": ["3.11", "3.12"], "os": ["linux", 1]}},
        {"id": "s", "call": "pkg.mod:func", "params": {"x": 1}},
    ],
)
def test_valid_steps(step: dict[str, Any]) -> None:
    Step.model_validate(step)


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"id": "lint-{pkg}"}, "has placeholders but the step has no matrix"),
        (
            {"id": "lint", "matrix": {"pkg": ["a"]}},
            "must use every matrix key so expanded ids are unique: add {pkg}",
        ),
        (
            {"id": "t-{py}", "matrix": {"py": ["3.11"], "os": ["linux"], "arch": ["x86"]}},
            "add {arch}, {os}",
        ),
        ({"id": "lint-{"}, "has a brace but no matrix"),
        ({"id": "lint-}x"}, "has a brace but no matrix"),
        ({"id": "l-{pkg}", "matrix": {}}, "matrix needs at least one key"),
        ({"id": "l-{pkg}", "matrix": {"pkg": []}}, "matrix key 'pkg' has no values"),
        ({"id": "l-{pkg}", "matrix": {"pkg": ["1", 1]}}, "matrix key 'pkg' repeats a value"),
        (
            {"id": "l-{pkg}", "matrix": {"pkg": ["a"], "p-kg": ["b"]}},
            "matrix key 'p-kg' must be a plain name",
        ),
        ({"id": "s", "run": ["x"], "call": "m:f"}, "either `run` or `call`, not both"),
        ({"id": "s", "needs": ["a", "a"]}, "'a' is listed twice"),
        ({"id": "-s"}, "String should match pattern"),
    ],
)
def test_invalid_steps(step: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        Step.model_validate(step)
    assert message in str(info.value)


# -- unknown keys are errors at every level ---------------------------------------------

ROUTER: dict[str, Any] = {
    "strategy": "fixed",
    "breaker": {"consecutive_failures": 3, "open_for": "10s"},
    "tools": {
        "ruff": {"command": ["ruff", "check"], "capabilities": ["lint"], "breaker": {"window": 5}},
    },
    "rules": [{"kind": "lint", "tools": ["ruff"]}],
}


def test_router_example_is_valid_both_ways() -> None:
    RouterConfig.model_validate(ROUTER)
    exported_validator("router").validate(ROUTER)


def _with_typo(document: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target: Any = changed
    for part in path:
        target = target[part]
    target["colour"] = "blue"
    return changed


@pytest.mark.parametrize(
    ("model", "schema", "document", "path"),
    [
        pytest.param(Workstream, "workstream", EXAMPLE, (), id="workstream"),
        pytest.param(Workstream, "workstream", EXAMPLE, ("steps", 0), id="step"),
        pytest.param(Workstream, "workstream", EXAMPLE, ("steps", 2, "retry"), id="retry"),
        pytest.param(Workstream, "workstream", EXAMPLE, ("budget",), id="budget"),
        pytest.param(RouterConfig, "router", ROUTER, (), id="router"),
        pytest.param(RouterConfig, "router", ROUTER, ("tools", "ruff"), id="router-tool"),
        pytest.param(RouterConfig, "router", ROUTER, ("breaker",), id="breaker"),
        pytest.param(
            RouterConfig, "router", ROUTER, ("tools", "ruff", "breaker"), id="tool-breaker"
        ),
        pytest.param(RouterConfig, "router", ROUTER, ("rules", 0), id="routing-rule"),
    ],
)
def test_unknown_keys_are_rejected(
    model: type[BaseModel], schema: str, document: dict[str, Any], path: tuple[str | int, ...]
) -> None:
    changed = _with_typo(document, path)
    with pytest.raises(ValidationError) as info:
        model.model_validate(changed)
    [error] = info.value.errors()
    assert error["type"] == "extra_forbidden"
    assert error["loc"] == (*path, "colour")
    assert not exported_validator(schema).is_valid(changed)


@pytest.mark.parametrize("model", [Step, RetryPolicy, Budget, ToolSpec, BreakerPolicy])
def test_models_forbid_extra_keys(model: type[BaseModel]) -> None:
    assert model.model_config.get("extra") == "forbid"
