"""The Anthropic Messages API as Claude Code calls it: ``POST /v1/messages`` streamed as SSE.

A ``Script`` lists the tool calls to make (``Read`` a file, then ``Edit`` it, ...) and the final
text. Each request is answered by rule: the ``tool_result`` blocks already in its messages say
how many calls were made, so the next one is sent, or the final text once all were. A request
that offers no tools (a side request) gets the final text too. Every reply reports the
script's usage; ``served`` counts the replies, so a test knows the totals the CLI must add up.
In ``error`` mode every request gets a 401 with Anthropic's error body.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.agents.fakeapi.base import FakeAPI, Reply, Request, json_reply, served_totals, sse

MODEL = "claude-sonnet-4-5"
#: Where Claude Code's system prompt says it works: ``{cwd}`` in a scripted input becomes it, so a
#: script can name files in a working copy it cannot know in advance (the engine's scratch copy).
WORKDIR = re.compile(r'orking directory: (/[^\s"\\]+)')


@dataclass(frozen=True)
class ToolCall:
    name: str  # Read, Edit, Bash, ...
    input: dict[str, Any]  # "{cwd}" in a text value is the working directory the request names

    def resolved(self, cwd: str) -> dict[str, Any]:
        return {k: v.replace("{cwd}", cwd) if isinstance(v, str) else v for k, v in self.input.items()}


@dataclass(frozen=True)
class TurnUsage:
    """What every reply reports: Anthropic's four counts (input excludes the cached parts)."""

    input_tokens: int = 1200
    output_tokens: int = 80
    cache_read_input_tokens: int = 300
    cache_creation_input_tokens: int = 100


@dataclass
class Script:
    calls: list[ToolCall] = field(default_factory=list)
    final: str = "Done."
    usage: TurnUsage = field(default_factory=TurnUsage)
    model: str = MODEL
    error: bool = False  # answer every request with a 401
    served: int = 0  # replies streamed (each reported ``usage`` once)
    _ids: Any = field(default_factory=itertools.count, repr=False)
    _lock: Any = field(default_factory=threading.Lock, repr=False)

    def totals(self) -> dict[str, int]:
        """The usage summed over every reply served."""
        return served_totals(self.usage, self.served)


def tool_results(body: dict[str, Any]) -> int:
    """How many ``tool_result`` blocks the request's messages hold."""
    count = 0
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            count += sum(1 for block in content if isinstance(block, dict) and block.get("type") == "tool_result")
    return count


def reply(script: Script, body: dict[str, Any], cwd: str = "") -> Reply:
    """The next step of ``script`` for a request whose body is ``body``, as Anthropic's SSE."""
    done = tool_results(body)
    call = script.calls[done] if body.get("tools") and done < len(script.calls) else None
    number = next(script._ids)
    u = script.usage
    events: list[tuple[str | None, Any]] = [
        ("message_start", {"type": "message_start", "message": {
            "id": f"msg_fake{number:04d}", "type": "message", "role": "assistant", "model": script.model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": u.input_tokens, "cache_creation_input_tokens": u.cache_creation_input_tokens,
                      "cache_read_input_tokens": u.cache_read_input_tokens, "output_tokens": 1}}}),
        ("ping", {"type": "ping"}),
    ]
    if call is None:
        events += [
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": script.final}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ]
        stop = "end_turn"
    else:
        events += [
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
                "type": "tool_use", "id": f"toolu_fake{number:04d}", "name": call.name, "input": {}}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "input_json_delta",
                                               "partial_json": json.dumps(call.resolved(cwd))}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ]
        stop = "tool_use"
    events += [
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                           "usage": {"output_tokens": u.output_tokens}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    with script._lock:
        script.served += 1
    return sse(events)


def install(api: FakeAPI, script: Script) -> None:
    """Answer ``POST /v1/messages`` (and its ``count_tokens``) on ``api`` from ``script``."""

    def messages(request: Request) -> Reply:
        if script.error:
            return json_reply({"type": "error", "error": {"type": "authentication_error",
                                                          "message": "invalid x-api-key"},
                               "request_id": "req_fake0001"}, 401)
        if request.path.split("?", 1)[0].endswith("/count_tokens"):
            return json_reply({"input_tokens": script.usage.input_tokens})
        found = WORKDIR.search(request.body.decode("utf-8", errors="replace"))
        return reply(script, request.json(), found.group(1) if found else "")

    api.route("POST", "/v1/messages", messages)
