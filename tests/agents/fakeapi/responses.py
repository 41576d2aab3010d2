"""The OpenAI Responses API as Codex calls it: ``POST {base_url}/responses`` streamed as SSE.

A ``Script`` lists the tool calls to make (an ``exec_command`` function call with its JSON
arguments, or a freeform ``apply_patch`` custom call with the patch as its input) and the final
text. Each request is answered by rule: the ``function_call_output`` and
``custom_tool_call_output`` items already in its input say how many calls were made, so the
next one is sent, or the final text once all were. Every reply reports the script's usage in
``response.completed``; ``served`` counts the replies, so a test knows the totals the CLI must
add up. In ``error`` mode every request gets a 401 with OpenAI's error body.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.agents.fakeapi.base import FakeAPI, Reply, Request, json_reply, served_totals, sse

#: A model Codex 0.171.0 knows (no "metadata not found" warning) whose tools are the classic
#: ``exec_command`` function and the freeform ``apply_patch``.
MODEL = "gpt-5.5"
OUTPUTS = ("function_call_output", "custom_tool_call_output")


@dataclass(frozen=True)
class ToolCall:
    name: str  # exec_command, apply_patch, ...
    arguments: dict[str, Any] | str  # a function's arguments, or a custom (freeform) tool's input text

    @staticmethod
    def exec(cmd: str) -> ToolCall:
        return ToolCall("exec_command", {"cmd": cmd})

    @staticmethod
    def patch(text: str) -> ToolCall:
        return ToolCall("apply_patch", text)


@dataclass(frozen=True)
class TurnUsage:
    """What every reply reports: input tokens (cached ones included) and output tokens."""

    input_tokens: int = 1200
    cached_tokens: int = 300
    output_tokens: int = 80


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


def tool_outputs(body: dict[str, Any]) -> int:
    """How many tool outputs the request's input holds."""
    items = body.get("input")
    if not isinstance(items, list):
        return 0
    return sum(1 for item in items if isinstance(item, dict) and item.get("type") in OUTPUTS)


def _item(call: ToolCall | None, number: int, text: str) -> dict[str, Any]:
    if call is None:
        return {"type": "message", "id": f"msg_fake{number:04d}", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}]}
    if isinstance(call.arguments, str):
        return {"type": "custom_tool_call", "id": f"ctc_fake{number:04d}", "status": "completed",
                "call_id": f"call_fake{number:04d}", "name": call.name, "input": call.arguments}
    return {"type": "function_call", "id": f"fc_fake{number:04d}", "status": "completed",
            "call_id": f"call_fake{number:04d}", "name": call.name, "arguments": json.dumps(call.arguments)}


def reply(script: Script, body: dict[str, Any]) -> Reply:
    """The next step of ``script`` for a request whose body is ``body``, as Responses SSE."""
    done = tool_outputs(body)
    call = script.calls[done] if done < len(script.calls) else None
    number = next(script._ids)
    rid = f"resp_fake{number:04d}"
    item = _item(call, number, script.final)
    base = {"id": rid, "object": "response", "created_at": 1700000000 + number, "model": script.model}
    u = script.usage
    usage = {"input_tokens": u.input_tokens, "input_tokens_details": {"cached_tokens": u.cached_tokens},
             "output_tokens": u.output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": u.input_tokens + u.output_tokens}
    events: list[tuple[str | None, Any]] = [
        ("response.created", {"type": "response.created", "sequence_number": 0,
                              "response": {**base, "status": "in_progress", "output": []}}),
    ]
    seq = itertools.count(1)
    if call is None:
        started = {**item, "status": "in_progress", "content": []}
        part = {"type": "output_text", "text": "", "annotations": []}
        where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
        events += [
            ("response.output_item.added", {"type": "response.output_item.added", "sequence_number": next(seq),
                                            "output_index": 0, "item": started}),
            ("response.content_part.added", {"type": "response.content_part.added", "sequence_number": next(seq),
                                             **where, "part": part}),
            ("response.output_text.delta", {"type": "response.output_text.delta", "sequence_number": next(seq),
                                            **where, "delta": script.final}),
            ("response.output_text.done", {"type": "response.output_text.done", "sequence_number": next(seq),
                                           **where, "text": script.final}),
            ("response.content_part.done", {"type": "response.content_part.done", "sequence_number": next(seq),
                                            **where, "part": {**part, "text": script.final}}),
        ]
    else:
        events.append(("response.output_item.added", {"type": "response.output_item.added",
                                                       "sequence_number": next(seq), "output_index": 0,
                                                       "item": {**item, "status": "in_progress"}}))
    events += [
        ("response.output_item.done", {"type": "response.output_item.done", "sequence_number": next(seq),
                                       "output_index": 0, "item": item}),
        ("response.completed", {"type": "response.completed", "sequence_number": next(seq),
                                "response": {**base, "status": "completed", "output": [item], "usage": usage}}),
    ]
    with script._lock:
        script.served += 1
    return sse(events)


def install(api: FakeAPI, script: Script) -> None:
    """Answer ``POST /v1/responses`` on ``api`` from ``script`` (Codex's base_url ends in /v1)."""

    def responses(request: Request) -> Reply:
        if script.error:
            return json_reply({"error": {"message": "Incorrect API key provided: x.", "type": "invalid_request_error",
                                         "param": None, "code": "invalid_api_key"}}, 401)
        return reply(script, request.json())

    api.route("POST", "/v1/responses", responses)
