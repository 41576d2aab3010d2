"""A scripted stand-in for ``claude -p --output-format stream-json --verbose``: it prints Claude
Code's JSON-lines stream at a steady rate, for benchmarks that need many agents at once and no
model API.

The lines have the shapes Claude Code 2.1.197 printed against the scripted API server
(tests/agents/fixtures/claude-2.1.197-edit.jsonl): one ``system/init``, then ``assistant``
messages (a text block and a ``tool_use`` block: Bash, Read, Edit or Grep, in turn) each
followed by the ``user`` line with its ``tool_result``, and one ``result`` line with the totals
(``usage``, ``total_cost_usd``, ``modelUsage``). Every line carries its number (in its ``uuid``
and in the assistant's text), so a reader can tell which ones arrived.

    python tests/bench/standin_agent.py --rate 100 --seconds 30 --name s07 < prompt.md

prints ``rate * seconds`` lines (at least 2), line ``i`` due ``i / rate`` seconds after the
start; when the process falls behind (a busy machine), the lines already due go out in one
write, as a real CLI's buffered stdout would. The prompt on stdin is read and ignored.
``script`` gives the same lines without the pacing, and ``totals`` what the result line
reports, for the reader's checks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator

SESSION = "5e7c1a0b-0000-4000-8000-{name:0>12}"
MODEL = "claude-sonnet-4-5"
VERSION = "2.1.197"
CWD = "/work"  # the sandbox shows the working copy elsewhere; readable paths are taken relative to this
#: Per assistant message, as the start of each request reports it (the live estimate).
REQUEST = {"input_tokens": 1200, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 300,
           "output_tokens": 1}
OUTPUT_PER_TURN = 80
#: Sonnet's prices per million tokens: input, output, cache write, cache read.
PRICES = (3.0, 15.0, 3.75, 0.30)
TOOLS = ("Bash", "Read", "Edit", "Grep")


def _uuid(name: str, seq: int) -> str:
    return f"00000000-0000-4000-8000-{name[:4]:0>4}{seq:08d}"[:36]


def totals(count: int) -> dict[str, float | int]:
    """What the result line of a ``count``-line script reports: each assistant message is one
    request."""
    turns = max(0, (count - 2 + 1) // 2)
    fresh, write, read = (REQUEST[k] * turns for k in ("input_tokens", "cache_creation_input_tokens",
                                                         "cache_read_input_tokens"))
    out = OUTPUT_PER_TURN * turns
    usd = (fresh * PRICES[0] + out * PRICES[1] + write * PRICES[2] + read * PRICES[3]) / 1e6
    return {"turns": turns, "input_tokens": fresh, "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read, "output_tokens": out, "total_cost_usd": usd}


def _init(name: str) -> dict:
    return {"type": "system", "subtype": "init", "cwd": CWD, "session_id": SESSION.format(name=name),
            "tools": ["Task", "Bash", "Edit", "Glob", "Grep", "NotebookEdit", "Read", "WebFetch", "Write"],
            "mcp_servers": [], "model": MODEL, "permissionMode": "acceptEdits", "slash_commands": ["review"],
            "apiKeySource": "ANTHROPIC_API_KEY", "claude_code_version": VERSION, "output_style": "default",
            "agents": ["general-purpose"], "skills": [], "plugins": [], "analytics_disabled": True,
            "uuid": _uuid(name, 0), "fast_mode_state": "off"}


def _tool_use(tool: str, turn: int) -> dict:
    path = f"{CWD}/src/module_{turn % 17}.py"
    inputs = {"Bash": {"command": f"python -m pytest -q tests/test_{turn % 13}.py", "description": "Run the tests"},
              "Read": {"file_path": path},
              "Edit": {"replace_all": False, "file_path": path, "old_string": f"value = {turn}",
                       "new_string": f"value = {turn + 1}"},
              "Grep": {"pattern": f"def handler_{turn % 7}", "path": CWD, "output_mode": "content"}}
    return {"type": "tool_use", "id": f"toolu_{turn:08d}", "name": tool, "input": inputs[tool]}


def _result_of(tool: str, turn: int) -> str:
    if tool == "Bash":
        return f"........ [100%]\n{8 + turn % 5} passed in 0.{turn % 90 + 10}s"
    if tool == "Read":
        return "".join(f"{n}\tvalue = {turn + n}\n" for n in range(1, 9))
    if tool == "Edit":
        return f"The file {CWD}/src/module_{turn % 17}.py has been updated successfully."
    return f"src/module_{turn % 17}.py:{turn % 300}:def handler_{turn % 7}(request):"


def _assistant(name: str, seq: int, turn: int, tool: str | None) -> dict:
    content: list[dict] = [{"type": "text", "text": f"Line {seq}: looking at module {turn % 17} next."}]
    if tool is not None:
        content.append(_tool_use(tool, turn))
    return {"type": "assistant",
            "message": {"id": f"msg_{name[:8]}{turn:08d}", "type": "message", "role": "assistant", "model": MODEL,
                        "content": content, "stop_reason": None, "stop_sequence": None, "usage": dict(REQUEST),
                        "context_management": None},
            "parent_tool_use_id": None, "session_id": SESSION.format(name=name), "uuid": _uuid(name, seq)}


def _user(name: str, seq: int, turn: int, tool: str) -> dict:
    return {"type": "user",
            "message": {"role": "user", "content": [{"tool_use_id": f"toolu_{turn:08d}", "type": "tool_result",
                                                     "content": _result_of(tool, turn), "is_error": False}]},
            "parent_tool_use_id": None, "session_id": SESSION.format(name=name), "uuid": _uuid(name, seq),
            "timestamp": "2026-12-02T12:00:00.000Z"}


def _result(name: str, count: int, seconds: float) -> dict:
    t = totals(count)
    usage = {k: t[k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
                               "output_tokens")}
    return {"type": "result", "subtype": "success", "is_error": False, "api_error_status": None,
            "duration_ms": int(seconds * 1000), "duration_api_ms": int(seconds * 800), "num_turns": t["turns"],
            "result": f"Done: {t['turns']} turns.", "stop_reason": "end_turn",
            "session_id": SESSION.format(name=name), "total_cost_usd": t["total_cost_usd"],
            "usage": {**usage, "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
                      "service_tier": "standard"},
            "modelUsage": {MODEL: {"inputTokens": usage["input_tokens"], "outputTokens": usage["output_tokens"],
                                   "cacheReadInputTokens": usage["cache_read_input_tokens"],
                                   "cacheCreationInputTokens": usage["cache_creation_input_tokens"],
                                   "webSearchRequests": 0, "costUSD": t["total_cost_usd"], "contextWindow": 200000,
                                   "maxOutputTokens": 32000}},
            "permission_denials": [], "terminal_reason": "completed", "fast_mode_state": "off",
            "uuid": _uuid(name, count - 1)}


def script(count: int, name: str = "0", seconds: float = 0.0) -> Iterator[str]:
    """The ``count`` lines (at least 2), each a JSON object without its newline: init, then
    assistant and user lines in turn, then the result."""
    count = max(2, count)
    yield json.dumps(_init(name), separators=(",", ":"))
    for seq in range(1, count - 1):
        turn = (seq - 1) // 2
        tool = TOOLS[turn % len(TOOLS)]
        if seq % 2:  # an assistant message; the last one before the result has no tool call
            line = _assistant(name, seq, turn, tool if seq + 1 < count - 1 else None)
        else:
            line = _user(name, seq, turn, tool)
        yield json.dumps(line, separators=(",", ":"))
    yield json.dumps(_result(name, count, seconds), separators=(",", ":"))


def _write_all(data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="lines per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to stream")
    parser.add_argument("--name", default="0", help="tells this agent's lines from another's")
    args = parser.parse_args(argv)
    if not sys.stdin.isatty():
        sys.stdin.read()
    count = max(2, round(args.rate * args.seconds))
    lines = [(text + "\n").encode() for text in script(count, args.name, args.seconds)]
    start = time.monotonic()
    sent = 0
    while sent < count:
        due = min(count, int((time.monotonic() - start) * args.rate) + 1)
        if due > sent:
            _write_all(b"".join(lines[sent:due]))
            sent = due
        else:
            time.sleep(max(0.0, start + sent / args.rate - time.monotonic()))


if __name__ == "__main__":
    main()
