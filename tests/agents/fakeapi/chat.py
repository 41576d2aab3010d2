"""OpenAI chat completions (``POST /v1/chat/completions``), as aider and OpenCode call them.

A ``ChatScript`` answers by rule. A request that offers tools gets the next scripted tool call,
chosen by how many tool results the request already carries, or the final text once the calls
are used up; a request without tools (aider's every request, OpenCode's title request) gets
the final text, or ``plain`` when the script uses tools. aider's final text holds its
SEARCH/REPLACE blocks. ``rules`` answer by the prompt: the first (needle, text) whose needle
is in the request's last user message gives the text (one server for a plan, an implement and a
review step). Each reply reports the script's usage the way the API does: in the
body's ``usage`` when not streamed, in a last chunk when the client asked for it with
``stream_options.include_usage``. ``status=401`` answers every request with OpenAI's error.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.agents.fakeapi.base import FakeAPI, Reply, Request, json_reply, sse

#: OpenAI's answer to a wrong key (the body's shape as the API sends it).
UNAUTHORIZED = {"error": {"message": "Incorrect API key provided: x. You can find your API key at "
                                     "https://platform.openai.com/account/api-keys.",
                          "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass
class ChatScript:
    final: str = "Done."
    calls: list[ToolCall] = field(default_factory=list)
    plain: str = "A title"  # the answer to a request without tools when the script has calls
    rules: list[tuple[str, str]] = field(default_factory=list)  # (needle in the last user message, text)
    prompt_tokens: int = 1200
    completion_tokens: int = 80
    cached_tokens: int = 0
    model: str = "mock-model"
    status: int = 200  # 401: every request refused with OpenAI's error body
    chunk_chars: int = 40  # a streamed text's delta size
    #: Usage reported per request answered, in order (what a test compares the agent's totals with).
    reported: list[dict[str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def attach(self, api: FakeAPI) -> ChatScript:
        api.route("POST", "/v1/chat/completions", self.handle)
        api.route("POST", "/chat/completions", self.handle)
        return self

    def totals(self) -> dict[str, int]:
        with self._lock:
            return {key: sum(usage[key] for usage in self.reported)
                    for key in ("prompt_tokens", "completion_tokens", "cached_tokens")}

    def handle(self, request: Request) -> Reply:
        if self.status != 200:
            return json_reply(UNAUTHORIZED if self.status == 401 else {"error": {"message": "failed"}}, self.status)
        body = request.json()
        messages = body.get("messages") or []
        if body.get("tools") and self.calls:
            done = sum(1 for message in messages if message.get("role") == "tool")
            call = self.calls[done] if done < len(self.calls) else None
            text = None if call else self.final
            call_id = f"call_{done}"
        else:
            call, text, call_id = None, (self.plain if self.calls else self.final), ""
        asked = last_user_text(messages)
        for needle, answer in self.rules:
            if needle in asked:
                call, text, call_id = None, answer, ""
                break
        usage = {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                 "total_tokens": self.prompt_tokens + self.completion_tokens,
                 "prompt_tokens_details": {"cached_tokens": self.cached_tokens}}
        with self._lock:
            self.reported.append({"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                                  "cached_tokens": self.cached_tokens})
        model = body.get("model") or self.model
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return self._streamed(model, text, call, call_id, usage if include_usage else None)
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if call:
            message["tool_calls"] = [{"id": call_id, "type": "function",
                                      "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}]
        return json_reply({"id": "chatcmpl-fake", "object": "chat.completion", "created": 1700000000, "model": model,
                           "choices": [{"index": 0, "message": message,
                                        "finish_reason": "tool_calls" if call else "stop"}],
                           "usage": usage})

    def _streamed(self, model: str, text: str | None, call: ToolCall | None, call_id: str,
                  usage: dict[str, Any] | None) -> Reply:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        events: list[tuple[str | None, Any]] = [(None, chunk({"role": "assistant", "content": ""}))]
        if text:
            for start in range(0, len(text), self.chunk_chars):
                events.append((None, chunk({"content": text[start:start + self.chunk_chars]})))
        if call:
            arguments = json.dumps(call.arguments)
            events.append((None, chunk({"tool_calls": [{"index": 0, "id": call_id, "type": "function",
                                                        "function": {"name": call.name, "arguments": ""}}]})))
            for start in range(0, len(arguments), self.chunk_chars):
                events.append((None, chunk({"tool_calls": [{"index": 0, "function": {
                    "arguments": arguments[start:start + self.chunk_chars]}}]})))
        events.append((None, chunk({}, "tool_calls" if call else "stop")))
        if usage is not None:
            events.append((None, {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000,
                                  "model": model, "choices": [], "usage": usage}))
        events.append((None, "[DONE]"))
        return sse(events)


def last_user_text(messages: list[Any]) -> str:
    """The text of the last user message (a string, or the text parts of a list)."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
            return content if isinstance(content, str) else ""
    return ""


def edit_block(path: str, search: str, replace: str, intro: str = "I will make the change.") -> str:
    """aider's diff edit format: the file's path, then one SEARCH/REPLACE block."""
    return (f"{intro}\n\n{path}\n```python\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n```\n")
