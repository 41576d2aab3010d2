"""Costs and budgets: parsers and price tables, unknown cost kept unknown, and a budget that
pauses a run at the right attempt until `uet resume --budget` raises it."""

from __future__ import annotations

import json
import sqlite3

import pytest

from engine.costs import attempt_cost, parse_output, price
from schemas.execution import ExecutionResult
from schemas.router import CostParser, Price, ToolSpec
from tests.conftest import Project


def test_json_line_parser_takes_the_last_report() -> None:
    parser = CostParser(format="json_line", fields={"tokens_in": "usage.input_tokens",
                                                    "tokens_out": "usage.output_tokens", "model": "model"})
    text = ('noise\n{"usage": {"input_tokens": 5, "output_tokens": 1}, "model": "a"}\n'
            'more {not json}\n{"usage": {"input_tokens": 1200, "output_tokens": 300}, "model": "big"}\ndone\n')
    assert parse_output(parser, text) == {"tokens_in": 1200, "tokens_out": 300, "model": "big"}


def test_regex_parser_and_bad_values() -> None:
    parser = CostParser(format="regex", pattern=r"Tokens: (?P<tokens_in>\d+) sent, (?P<tokens_out>\d+) received\. "
                                                r"Cost: \$(?P<usd>[\d.]+)")
    text = "Tokens: 10 sent, 2 received. Cost: $0.01\nTokens: 2,000 sent\nTokens: 900 sent, 40 received. Cost: $0.0123\n"
    assert parse_output(parser, text) == {"tokens_in": 900, "tokens_out": 40, "usd": 0.0123}
    with pytest.raises(ValueError, match="named groups"):
        CostParser(format="regex", pattern=r"(\d+)")
    with pytest.raises(ValueError, match="RE2, which matches in linear time, refuses it"):
        CostParser(format="regex", pattern=r"(?P<usd>[")


def test_price_uses_cached_rate_and_unknown_stays_unknown() -> None:
    prices = {"m": Price(input=3.0, output=15.0, cached_input=0.3)}
    assert price(prices, "m", 1_000_000, 100_000, 400_000) == pytest.approx(0.6 * 3 + 0.4 * 0.3 + 0.1 * 15)
    assert price(prices, "other", 1000, 10, None) is None
    assert price(prices, None, 1000, 10, None) is None
    assert price(prices, "m", None, None, None) is None


def test_attempt_cost_prefers_reported_values_then_parser_then_prices() -> None:
    tool = ToolSpec(adapter="subprocess", command=["x"], model="m",
                    cost=CostParser(format="json_line", fields={"tokens_in": "in", "tokens_out": "out"}),
                    prices={"m": Price(input=1.0, output=2.0)})
    result = ExecutionResult(outcome="succeeded", output_tail='{"in": 1000000, "out": 500000}\n')
    cost = attempt_cost(tool, result)
    assert (cost.model, cost.tokens_in, cost.tokens_out, cost.usd) == ("m", 1_000_000, 500_000, 2.0)
    unknown = attempt_cost(ToolSpec(adapter="subprocess", command=["x"]), ExecutionResult(outcome="succeeded"))
    assert unknown.usd is None and unknown.tokens == 0


def test_attempt_cost_keeps_each_reported_count_in_its_own_field() -> None:
    """In, out and cached counts differ, so a count read from the wrong field shows, in the
    count and in the price."""
    tool = ToolSpec(adapter="subprocess", command=["x"], model="m",
                    prices={"m": Price(input=1.0, output=10.0, cached_input=0.5)})
    result = ExecutionResult(outcome="succeeded", tokens_in=4000, tokens_out=300, tokens_cached=1000)
    cost = attempt_cost(tool, result)
    assert (cost.tokens_in, cost.tokens_out, cost.tokens_cached) == (4000, 300, 1000)
    assert cost.tokens == 4300
    assert cost.usd == pytest.approx((3000 * 1.0 + 1000 * 0.5 + 300 * 10.0) / 1_000_000)


def test_a_run_records_output_tokens_apart_from_input_tokens(project: Project) -> None:
    project.write(".uet/router.yaml", """
        tools:
          llm:
            adapter: sim
            capabilities: [code_edit]
            model: tiny
            prices: {tiny: {input: 1.0, output: 4.0}}
            sim:
              duration: {dist: constant, value: 0.001}
              tokens_in: {dist: constant, value: 1000}
              tokens_out: {dist: constant, value: 250}
    """)
    project.write("ws.yaml", "name: tokens\nsteps:\n  - id: s\n    kind: code_edit\n")
    assert project.uet("run", "--plain", "ws.yaml").returncode == 0
    total = json.loads(project.uet("costs", "--json", check=True).stdout)["total"]
    assert (total["attempts"], total["tokens_in"], total["tokens_out"]) == (1, 1000, 250)
    assert total["usd"] == pytest.approx((1000 * 1.0 + 250 * 4.0) / 1_000_000)


@pytest.mark.slow
def test_a_budget_pauses_the_run_at_the_right_attempt_and_resume_raises_it(project: Project) -> None:
    project.write(".uet/router.yaml", """
        tools:
          llm:
            adapter: sim
            capabilities: [code_edit]
            model: tiny
            prices: {tiny: {input: 1.0, output: 0.0}}
            sim:
              duration: {dist: constant, value: 0.001}
              tokens_in: {dist: constant, value: 1000}
              tokens_out: {dist: constant, value: 0}
    """)
    steps = "\n".join(
        f"  - id: s{i}\n    kind: code_edit" + (f"\n    needs: [s{i - 1}]" if i else "") for i in range(10))
    workstream = project.write("ws.yaml", "name: budgeted\nmax_parallel: 1\nbudget: {usd: 0.0035}\nsteps:\n" + steps + "\n")
    first = project.uet("run", "--plain", str(workstream))
    assert first.returncode == 1, first.stdout + first.stderr
    assert "usd budget reached: $0.0040 of $0.0035" in first.stdout
    run_id = project.runs()[0]["id"]
    status = project.status(run_id)
    assert status["state"] == "paused"
    states = [s["state"] for s in status["steps"]]
    assert states[:4] == ["succeeded"] * 4 and "succeeded" not in states[4:]
    with sqlite3.connect(project.db) as conn:
        events = [json.loads(d) for (d,) in conn.execute(
            "SELECT data FROM events WHERE kind = 'budget.reached' AND run_id = ?", (run_id,))]
    assert events and events[0]["budget"] == "usd" and events[0]["limit"] == 0.0035

    bad = project.uet("resume", run_id, "--budget", "usd=-1")
    assert bad.returncode == 2 and "usd" in bad.stderr
    assert project.status(run_id)["state"] == "paused"

    second = project.uet("resume", "--plain", run_id, "--budget", "usd=1")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "budget of run" in second.stdout
    assert project.status(run_id)["state"] == "succeeded"
    costs = json.loads(project.uet("costs", run_id, "--json", check=True).stdout)
    assert costs["total"]["attempts"] == 10
    assert costs["total"]["usd"] == pytest.approx(0.01)
    assert costs["total"]["unpriced"] == 0
    assert costs["by_model"][0]["key"] == {"model": "tiny"}


def test_attempts_without_token_counts_are_counted_as_unknown(project: Project) -> None:
    project.write("ws.yaml", "name: plain\nsteps:\n  - id: a\n    run: 'true'\n  - id: b\n    run: 'true'\n")
    assert project.uet("run", "--plain", "ws.yaml").returncode == 0
    totals = json.loads(project.uet("costs", "--json", check=True).stdout)["total"]
    assert totals["attempts"] == 2 and totals["untokened"] == 2 and totals["unpriced"] == 2
    assert "2 attempt(s) reported no tokens: their counts are unknown, not zero" in project.uet("costs", check=True).stdout
