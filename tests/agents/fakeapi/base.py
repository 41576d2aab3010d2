"""The server core: a threaded stdlib HTTP server on 127.0.0.1 with per-path handlers."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)  # written and flushed one by one (SSE)


#: A handler answers one request; it is chosen by method and path prefix.
Handler = Callable[[Request], Reply]


def sse(events: list[tuple[str | None, Any]]) -> Reply:
    """A Server-Sent Events reply: each (event name or None, JSON data or the literal text)."""
    chunks = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        chunks.append(((f"event: {name}\n" if name else "") + f"data: {text}\n\n").encode())
    return Reply(200, {"content-type": "text/event-stream", "cache-control": "no-cache"}, chunks)


def served_totals(usage: Any, served: int) -> dict[str, int]:
    """A script's per-reply usage (a dataclass of counts) summed over the replies it served."""
    return {name: count * served for name, count in dataclasses.asdict(usage).items()}


def json_reply(obj: Any, status: int = 200) -> Reply:
    return Reply(status, {"content-type": "application/json"}, [json.dumps(obj).encode()])


class FakeAPI:
    """``with FakeAPI() as api: api.route("POST", "/v1/messages", handler); api.url``"""

    def __init__(self) -> None:
        self.routes: list[tuple[str, str, Handler]] = []
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        api = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with api._lock:
                    api.requests.append(request)
                reply = api.answer(request)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                streamed = reply.headers.get("content-type") == "text/event-stream"
                if streamed:
                    self.send_header("transfer-encoding", "chunked")
                else:
                    self.send_header("content-length", str(sum(map(len, reply.chunks))))
                self.end_headers()
                for chunk in reply.chunks:
                    if streamed:
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    else:
                        self.wfile.write(chunk)
                    self.wfile.flush()
                if streamed:
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, method: str, prefix: str, handler: Handler) -> None:
        self.routes.append((method, prefix, handler))

    def answer(self, request: Request) -> Reply:
        path = request.path.split("?", 1)[0]
        for method, prefix, handler in self.routes:
            if request.method == method and path.startswith(prefix):
                try:
                    return handler(request)
                except Exception as exc:  # a script's bug shows in the test, not as a hang
                    return json_reply({"error": {"message": f"fake API handler failed: {exc!r}"}}, 500)
        if request.method == "HEAD":
            return Reply(200, {}, [])
        return json_reply({"error": {"message": f"no route for {request.method} {path}"}}, 404)

    def __enter__(self) -> FakeAPI:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
