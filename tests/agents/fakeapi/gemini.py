"""Google's Gemini API (``POST /v1beta/models/<model>:streamGenerateContent?alt=sse``), as
Gemini CLI calls it.

A ``GeminiScript`` answers by rule: the next scripted ``functionCall`` (the CLI's ``replace``
tool, say), chosen by how many ``functionResponse`` parts the request already carries, then
the final text. Every reply ends with ``usageMetadata``. The CLI's side requests
(``:generateContent`` for its own checks, ``:countTokens``) get a plain answer. ``status=401``
answers every request with Google's error body.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from tests.agents.fakeapi.base import FakeAPI, Reply, Request, json_reply, sse

UNAUTHENTICATED = {"error": {"code": 401, "message": "Request had invalid authentication credentials. Expected OAuth 2 "
                                                     "access token, login cookie or other valid authentication "
                                                     "credential.", "status": "UNAUTHENTICATED"}}


@dataclass(frozen=True)
class FunctionCall:
    name: str
    args: dict[str, Any]


@dataclass
class GeminiScript:
    final: str = "Done."
    calls: list[FunctionCall] = field(default_factory=list)
    prompt_tokens: int = 1200
    candidates_tokens: int = 80
    cached_tokens: int = 0
    model_version: str = "gemini-2.5-pro"
    status: int = 200
    #: Usage reported per streamed reply, in order.
    reported: list[dict[str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def attach(self, api: FakeAPI) -> GeminiScript:
        api.route("POST", "/v1beta/models/", self.handle)
        return self

    def totals(self) -> dict[str, int]:
        with self._lock:
            return {key: sum(usage[key] for usage in self.reported)
                    for key in ("prompt_tokens", "candidates_tokens", "cached_tokens")}

    def _usage(self) -> dict[str, int]:
        return {"promptTokenCount": self.prompt_tokens, "candidatesTokenCount": self.candidates_tokens,
                "totalTokenCount": self.prompt_tokens + self.candidates_tokens,
                "cachedContentTokenCount": self.cached_tokens}

    def handle(self, request: Request) -> Reply:
        if self.status != 200:
            return json_reply(UNAUTHENTICATED if self.status == 401 else {"error": {"code": self.status}}, self.status)
        path = request.path.split("?", 1)[0]
        body = request.json()
        if path.endswith(":countTokens"):
            return json_reply({"totalTokens": self.prompt_tokens})
        contents = body.get("contents") or []
        done = sum(1 for content in contents if isinstance(content, dict)
                   for part in content.get("parts") or [] if isinstance(part, dict) and "functionResponse" in part)
        if not path.endswith(":streamGenerateContent"):
            # The CLI's own checks (which model to route to, who speaks next): a short JSON answer.
            text = '{"next_speaker": "user", "reasoning": "The model answered."}'
            return json_reply({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                               "finishReason": "STOP", "index": 0}],
                               "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1,
                                                 "totalTokenCount": 2},
                               "modelVersion": self.model_version})
        with self._lock:
            self.reported.append({"prompt_tokens": self.prompt_tokens, "candidates_tokens": self.candidates_tokens,
                                  "cached_tokens": self.cached_tokens})
        if done < len(self.calls):
            call = self.calls[done]
            parts: list[dict[str, Any]] = [{"functionCall": {"name": call.name, "args": call.args}}]
            chunks = [parts]
        else:
            half = len(self.final) // 2
            chunks = [[{"text": self.final[:half]}], [{"text": self.final[half:]}]]
        events: list[tuple[str | None, Any]] = []
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": chunk}, "index": 0}
            event: dict[str, Any] = {"candidates": [candidate], "modelVersion": self.model_version,
                                     "responseId": f"fake-{done}"}
            if last:
                candidate["finishReason"] = "STOP"
                event["usageMetadata"] = self._usage()
            events.append((None, event))
        return sse(events)
