"""Values from tools are untrusted input: token counts, dollars, exit codes and model names are
checked and bounded where every adapter's result passes (``engine.costs.recorded``), a value
out of range is recorded as unknown with a warning event, and cost regexes run on RE2 over a
bounded tail, so no pattern can hold the engine. Through the real ``uet`` and its SQLite store."""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

import pytest
from pydantic import ValidationError

from engine.costs import PARSE_CHARS, parse_output, recorded
from engine.toolvalues import MAX_TOKENS, checked
from schemas.execution import ExecutionResult
from schemas.router import CostParser, Price, SimSpec, ToolSpec
from tests.conftest import Project

HUGE = 99999999999999999999999


# -- the boundary, value by value ---------------------------------------------------------------


def test_values_in_range_pass_as_the_same_object() -> None:
    result = ExecutionResult(outcome="succeeded", exit_code=0, tokens_in=10, tokens_out=MAX_TOKENS, usd=0.5,
                             model="m", error=None, output_tail="ok")
    assert checked(result) == (result, ())
    assert checked(result)[0] is result


@pytest.mark.parametrize(("field", "value", "words"), [
    ("tokens_in", HUGE, "more than 1,000,000,000,000,000"),
    ("tokens_out", 10**300, "more than"),
    ("tokens_cached", -5, "negative"),
    ("tokens_in", 1e300, "more than"),
    ("tokens_in", math.inf, "not a finite number"),
    ("tokens_in", math.nan, "not a finite number"),
    ("tokens_in", True, "not a number (bool)"),
    ("tokens_out", [1, 2], "not a number (list)"),
    ("usd", math.inf, "not a finite number"),
    ("usd", -0.5, "negative"),
    ("usd", 1e12, "more than"),
    ("exit_code", 10**23, "outside -64..255"),
    ("exit_code", -1000, "outside -64..255"),
    ("exit_code", "1", "not an integer (str)"),
    ("model", {"name": "x"}, "not text (dict)"),
])
def test_a_value_out_of_range_becomes_unknown_never_zero(field: str, value: Any, words: str) -> None:
    result, dropped = checked(ExecutionResult(outcome="succeeded", **{field: value}))
    assert getattr(result, field) is None
    ((name, shown, reason),) = dropped
    assert name == field and words in reason and reason.endswith("recorded as unknown")
    assert len(shown) <= 41


def test_text_is_bounded_and_made_storable() -> None:
    result, dropped = checked(ExecutionResult(outcome="failed", model="m" * 500, error="e" * 10_000 + "\ud800",
                                              output_tail="x\udcff" * 5000, tokens_in=7.0, usd=1))
    assert len(result.model) == 200 and len(result.error) == 2000 and len(result.output_tail) == 4000
    for text in (result.model, result.error, result.output_tail):
        text.encode("utf-8")  # SQLite needs UTF-8: a lone surrogate could not be stored
    assert (result.tokens_in, result.usd) == (7, 1.0)
    assert [d.field for d in dropped] == ["model"]  # cut short, and said so; long error text is normal


def test_an_integer_too_long_to_print_is_described_not_printed() -> None:
    _, ((_, shown, _),) = checked(ExecutionResult(outcome="succeeded", tokens_in=10**100_000))
    assert shown == "an integer of about 100,001 digits"


# -- parsers: out-of-range values, hostile JSON, hostile regexes --------------------------------


def test_the_json_line_parser_drops_what_is_out_of_range() -> None:
    parser = CostParser(format="json_line", fields={"tokens_in": "u.in", "tokens_out": "u.out", "usd": "usd",
                                                    "model": "model"})
    dropped: list[Any] = []
    text = f'{{"u": {{"in": {HUGE}, "out": 12}}, "usd": Infinity, "model": 5}}\n'
    assert parse_output(parser, text, dropped) == {"tokens_out": 12}
    assert [(d.field, d.value) for d in dropped] == [("tokens_in", str(HUGE)), ("usd", "inf"), ("model", "5")]


def test_json_nested_past_the_parsers_depth_is_no_report() -> None:
    parser = CostParser(format="json_line", fields={"tokens_in": "in"})
    nested = '{"in": ' + "[" * 3000 + "]" * 3000 + "}"
    assert parse_output(parser, '{"in": 5}\n' + nested[:PARSE_CHARS - 20]) == {"tokens_in": 5}
    assert parse_output(parser, nested) == {}


def test_only_the_end_of_the_output_is_parsed() -> None:
    parser = CostParser(format="regex", pattern=r"tokens=(?P<tokens_in>\d+)")
    assert parse_output(parser, "tokens=5\n" + "." * PARSE_CHARS) == {}
    assert parse_output(parser, "tokens=5\n" + "." * (PARSE_CHARS - 100)) == {"tokens_in": 5}


@pytest.mark.parametrize(("pattern", "words"), [
    (r"(?P<tokens_in>a)\1", "backreferences"),
    (r"(?=x)(?P<tokens_in>\d+)", "lookaround"),
    (r"(?P<tokens_in>\d+", "missing )"),
    (r"(?P<tokens>\d+)", "tokens is not one"),
    (r"(\d+)", "named groups"),
    ("(?P<usd>1)" + "x" * 1000, "at most 1000 characters"),
])
def test_a_pattern_the_linear_engine_refuses_is_a_load_error(pattern: str, words: str) -> None:
    with pytest.raises(ValidationError, match="pattern") as caught:
        CostParser(format="regex", pattern=pattern)
    assert words in str(caught.value)


@pytest.mark.parametrize(("model", "value", "words"), [
    (SimSpec, {"exit_code": 10**23}, "100000000000000000000000 is no exit code a process can have"),
    (SimSpec, {"exit_code": -65}, "between -64"),
    (ToolSpec, {"command": ["x"], "success_codes": [0, 10**23]}, "an exit code is 0 to 255"),
    (ToolSpec, {"command": ["x"], "success_codes": [-1]}, "an exit code is 0 to 255, found -1"),
])
def test_configured_exit_codes_are_checked_at_load(model: type, value: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        model.model_validate(value)


def test_a_price_table_cannot_make_an_infinite_bill() -> None:
    tool = ToolSpec(command=["x"], model="m", prices={"m": Price(input=1e300, output=1e300)})
    result, dropped = recorded(tool, ExecutionResult(outcome="succeeded", tokens_in=MAX_TOKENS, tokens_out=MAX_TOKENS))
    assert result.usd is None and result.tokens_in == MAX_TOKENS
    assert [d.field for d in dropped] == ["usd"]


# -- through the real uet -----------------------------------------------------------------------


def _attempts(project: Project) -> list[tuple[Any, ...]]:
    with sqlite3.connect(project.db) as conn:
        return conn.execute("SELECT step_id, state, exit_code, tokens_in, tokens_out FROM attempts "
                            "ORDER BY step_id").fetchall()


def _warnings(project: Project) -> list[dict[str, Any]]:
    with sqlite3.connect(project.db) as conn:
        return [json.loads(d) for (d,) in conn.execute("SELECT data FROM events WHERE kind = 'attempt.warning'")]


def _three_steps(project: Project, kind: str) -> None:
    project.write("ws.yaml", f"""
        name: untrusted
        max_parallel: 1
        steps:
          - id: a
            kind: {kind}
          - id: b
            kind: {kind}
            needs: [a]
          - id: c
            kind: {kind}
            needs: [b]
    """)


def test_a_tool_reporting_a_huge_token_count_is_recorded_as_unknown(project: Project) -> None:
    """The tool's JSON line says 99999999999999999999999 input tokens: SQLite cannot hold it, and
    it used to stop the store's writer (exit 3, the run left 'running', each resume crashing
    again). Now the run succeeds, the count is unknown, and a warning names field and value."""
    project.script("usage.sh", f"""
        echo 'working'
        echo '{{"usage": {{"input_tokens": {HUGE}, "output_tokens": 7}}}}'
    """)
    project.write(".uet/router.yaml", """
        tools:
          agent:
            command: [./usage.sh]
            capabilities: [code_edit]
            cost: {format: json_line, fields: {tokens_in: usage.input_tokens, tokens_out: usage.output_tokens}}
    """)
    _three_steps(project, "code_edit")
    ran = project.uet("run", "--plain", "ws.yaml")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr
    assert _attempts(project) == [(s, "succeeded", 0, None, 7) for s in "abc"]
    warnings = _warnings(project)
    assert [(w["field"], w["value"]) for w in warnings] == [("tokens_in", str(HUGE))] * 3
    assert "recorded as unknown" in warnings[0]["reason"]
    assert f"step a attempt 1 warning: tokens_in '{HUGE}'" in ran.stdout
    assert project.status(project.runs()[0]["id"])["state"] == "succeeded"


def test_a_sim_tool_drawing_1e300_tokens_is_recorded_as_unknown(project: Project) -> None:
    project.write(".uet/router.yaml", """
        tools:
          big:
            adapter: sim
            capabilities: [review]
            sim:
              tokens_in: {dist: constant, value: 1e300}
              tokens_out: {dist: constant, value: 3}
    """)
    _three_steps(project, "review")
    ran = project.uet("run", "--plain", "ws.yaml")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert _attempts(project) == [(s, "succeeded", 0, None, 3) for s in "abc"]
    assert [w["value"] for w in _warnings(project)] == ["an integer of about 301 digits"] * 3
    costs = json.loads(project.uet("costs", "--json", check=True).stdout)["total"]
    assert costs["tokens_out"] == 9 and costs["untokened"] == 0


def test_a_python_callable_reporting_nonsense_is_recorded_as_unknown(project: Project) -> None:
    project.write("ws.yaml", """
        name: callables
        steps:
          - id: a
            call: tests.engine.pycallables:reports_nonsense
          - id: b
            call: tests.engine.pycallables:exits_past_255
    """)
    ran = project.uet("run", "--plain", "ws.yaml")
    assert ran.returncode == 1, ran.stdout + ran.stderr  # b failed, as it should: sys.exit with a code
    assert _attempts(project) == [("a", "succeeded", 0, None, None), ("b", "failed", None, None, None)]
    assert [(w["field"], w["value"]) for w in _warnings(project)] == [
        ("tokens_in", "1000000000000000000000000000000"), ("tokens_out", "[1, 2]"), ("model", "{'name': 'x'}"),
        ("exit_code", "100000000000000000000000")]


def test_a_sim_exit_code_of_10_to_the_23_is_refused_at_validate(project: Project) -> None:
    router = project.write(".uet/router.yaml", """
        tools:
          odd:
            adapter: sim
            capabilities: [review]
            sim:
              outcome: {dist: constant, value: failed}
              exit_code: 100000000000000000000000
    """)
    _three_steps(project, "review")
    for command in ("validate", "run"):
        result = project.uet(command, "ws.yaml")
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr == (f"uet: {router}:7:7: tools.odd.sim.exit_code: 100000000000000000000000 is no exit "
                                 "code a process can have: they lie between -64 (killed by signal 64) and 255\n")
    assert not project.db.exists()


def test_a_backtracking_cost_regex_cannot_hang_the_engine(project: Project) -> None:
    """``(?P<tokens_in>(a|aa)+)$`` over 5,000 a's that do not end the output held the engine's
    loop at 100 % CPU for good (still running 440 s after SIGTERM): the backtracking engine
    tries every way to split the a's. On RE2 the run ends at once. The second step's output
    does match, and its 5,000-character 'count' is no count: unknown, with a warning."""
    project.write(".uet/router.yaml", r"""
        tools:
          chatty:
            command: [python3, -c, 'import sys; sys.stdout.write("a" * 5000 + sys.argv[1])', '{step}']
            capabilities: [code_edit]
            cost: {format: regex, pattern: '(?P<tokens_in>(a|aa)+)$'}
    """)
    project.write("ws.yaml", "name: rx\nsteps:\n  - id: b\n    kind: code_edit\n  - id: a\n    kind: code_edit\n")
    ran = project.uet("run", "--plain", "ws.yaml", timeout=60)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert _attempts(project) == [("a", "succeeded", 0, None, None), ("b", "succeeded", 0, None, None)]
    assert [w["field"] for w in _warnings(project)] == ["tokens_in"]


def test_a_pattern_with_a_backreference_is_refused_at_validate(project: Project) -> None:
    router = project.write(".uet/router.yaml", r"""
        tools:
          echoer:
            command: [echo, hi]
            capabilities: [code_edit]
            cost:
              format: regex
              pattern: '(?P<tokens_in>\d+) \1'
    """)
    project.write("ws.yaml", "name: rx\nsteps:\n  - id: a\n    kind: code_edit\n")
    result = project.uet("validate", "ws.yaml")
    assert result.returncode == 2
    assert result.stderr == (f"uet: {router}:7:7: tools.echoer.cost.pattern: RE2, which matches in linear time, "
                             "refuses it (invalid escape sequence: \\1); backreferences and lookaround are not "
                             "supported\n")
