"""The agents-at-scale benchmark's stand-in and its checks (tests/bench/bench_agents.py), small:
the stand-in's script is what the claude family reads as Claude Code's stream (one readable
line per line, the totals of its result line), and five stand-ins streaming for 2 s through
``uet run``, sandboxed, with a dashboard following, lose no line of their logs or raw streams,
no usage, and no event on the way to the dashboard. Counts only, no timings.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.adapters import sandbox
from engine.agents.claude import ClaudeParser
from tests.bench.bench_agents import STANDIN, scenario_uet
from tests.bench.standin_agent import script, totals


def test_the_script_reads_as_claude_code_one_readable_line_each() -> None:
    for count in (2, 3, 4, 7, 300):
        parser = ClaudeParser()
        readable = [line for text in script(count, "x") for line in parser.feed(text)]
        result = parser.finish("/nonexistent")
        want = totals(count)
        assert len(readable) == count
        assert result.error is None and result.malformed == 0 and result.message == f"Done: {want['turns']} turns."
        assert result.usage.tokens_out == want["output_tokens"] and result.usage.usd == want["total_cost_usd"]
    assert readable[0] == "claude 2.1.197: model claude-sonnet-4-5, permissions acceptEdits"
    assert readable[1:4] == ["assistant: Line 1: looking at module 0 next.",
                             "run: python -m pytest -q tests/test_0.py (exit 0)",
                             "assistant: Line 3: looking at module 1 next."]
    assert readable[-1] == "tokens: 238.4k in, 11.9k out (44.7k cached), $0.7845"


def test_the_standin_prints_every_line_of_its_script() -> None:
    done = subprocess.run([sys.executable, str(STANDIN), "--rate", "500", "--seconds", "0.2", "--name", "s1"],
                          input="the prompt", capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.splitlines() == list(script(100, "s1", 0.2))
    assert [json.loads(line)["uuid"][-8:] for line in done.stdout.splitlines()] == [f"{i:08d}" for i in range(100)]


@pytest.mark.slow
@pytest.mark.skipif(not sandbox.probe().available, reason="bubblewrap cannot run here")
def test_five_agents_through_uet_run_lose_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UET_CONFIG", "/dev/null")
    figures = scenario_uet(5, 100, 2, dashboard=True, root=tmp_path / "project")
    assert figures["exit_code"] == 0 and figures["state"] == "succeeded", figures["errors"]
    assert (figures["attempts"], figures["succeeded"]) == (5, 5)
    assert figures["log_lines"] == figures["raw_lines"] == [200] * 5
    assert (figures["logs_whole"], figures["raw_whole"], figures["usage_whole"]) == (5, 5, 5)
    assert figures["cpu_user_s"] > 0 and figures["wall_s"] > 0
    # Every event the run wrote reached the dashboard, once, and was seen committed.
    db = tmp_path / "project" / ".uet" / "uet.db"
    with sqlite3.connect(db) as conn:
        seqs = [seq for (seq,) in conn.execute("SELECT seq FROM events ORDER BY seq")]
        live = [json.loads(data) for (data,) in conn.execute("SELECT data FROM events WHERE kind = 'step.output'")]
    assert sorted(seq for seq, _, _ in figures["latencies"]) == seqs
    assert sorted(figures["committed"]) == seqs
    # The live usage rode with the output events (the stand-ins stream for 2 s: a second one each).
    assert {event.get("tokens_in") for event in live} - {None}
