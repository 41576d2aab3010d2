"""Between a tool's output and its log: whole lines, secrets masked, an agent's stream made
readable.

The subprocess adapter hands every chunk the child writes to ``LineStream.feed`` and writes
what comes back to the step's log. Chunks are cut into lines (a partial line waits for the
rest, up to ``MAX_PENDING`` bytes, past which it is let through as it is: a tool that never
prints a newline must not grow memory). Each line then has the values of the tool's
passed-through variables (API keys) replaced by ``***``, so no secret reaches the log, the
events or the store, and, for an agent, goes to its family's parser: the log gets the readable
lines it makes, and the raw stream (masked too) is kept beside the log as ``.raw.jsonl``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from engine.agents.base import StreamParser

MAX_PENDING = 1 << 20
MASK = "***"
#: A value shorter than this is no secret worth masking (it would mask ordinary words).
MIN_SECRET_CHARS = 4


def secrets_of(values: Iterable[str | None]) -> tuple[str, ...]:
    """The values worth masking, longest first (so a key that contains another is masked whole)."""
    found = {v for v in values if v and len(v) >= MIN_SECRET_CHARS}
    return tuple(sorted(found, key=len, reverse=True))


def mask(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class LineStream:
    def __init__(self, parser: StreamParser | None = None, raw_path: str | None = None,
                 secrets: tuple[str, ...] = ()) -> None:
        self.parser = parser
        self.raw_path = raw_path
        self.secrets = secrets
        self._pending = bytearray()
        self._raw: int | None = None
        self.lines = 0

    def for_stderr(self) -> LineStream:
        """The child's stderr: whole lines and the same secrets masked, but no parser (an
        agent's stream is its stdout) and no raw copy."""
        return LineStream(secrets=self.secrets)

    def feed(self, data: bytes) -> bytes:
        self._pending += data
        end = self._pending.rfind(b"\n")
        if end < 0:
            if len(self._pending) < MAX_PENDING:
                return b""
            end = len(self._pending) - 1  # let an endless line through as it is
        chunk = bytes(self._pending[: end + 1])
        del self._pending[: end + 1]
        return self._lines(chunk)

    def finish(self) -> bytes:
        chunk, self._pending = bytes(self._pending), bytearray()
        out = self._lines(chunk) if chunk else b""
        if self._raw is not None:
            os.close(self._raw)
            self._raw = None
        return out

    def _lines(self, chunk: bytes) -> bytes:
        text = chunk.decode("utf-8", errors="replace")
        if self.secrets:
            text = mask(text, self.secrets)
        if self.parser is None:
            return text.encode()
        self._write_raw(text)
        out: list[str] = []
        for line in text.splitlines():
            self.lines += 1
            try:
                out.extend(self.parser.feed(line))
            except Exception as exc:  # noqa: BLE001 - a parser bug must not lose the attempt
                out.append(f"uet: the stream parser failed on line {self.lines}: {type(exc).__name__}")
        if not out:
            return b""
        readable = "\n".join(mask(line, self.secrets) for line in out) + "\n"
        return readable.encode()

    def _write_raw(self, text: str) -> None:
        if self.raw_path is None:
            return
        if self._raw is None:
            os.makedirs(os.path.dirname(self.raw_path), exist_ok=True)
            self._raw = os.open(self.raw_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        os.write(self._raw, text.encode())
