"""The project an ``uet mcp`` process serves: its root and store, the paths a client may name
(inside the root, symlinks followed), and the one way a tool call is carried out — under a lock,
its failure turned into words for the client, and recorded as an ``mcp.call`` event naming
``mcp:<client name>`` from the initialize handshake."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from engine.errors import UetError
from engine.operations import mcp_settings, record_call
from store import Store, queries
from store.errors import NoSuchRecord, StoreError

#: Free text a client sends (a reason, a comment) is cut here before it reaches the store.
TEXT_MAX = 4000


class Refused(Exception):
    """A call the server will not carry out (a path outside the project, a tool not offered)."""


def client_name(ctx: Context) -> str:
    """``mcp:<name>`` from the initialize handshake's clientInfo, cut to printable words."""
    try:
        params = ctx.session.client_params
        name = params.client_info.name if params is not None else ""
    except (AttributeError, ValueError):
        name = ""
    cleaned = re.sub(r"[^A-Za-z0-9._ @/+-]", "", name or "").strip()[:64]
    return f"mcp:{cleaned or 'unknown'}"


def _message(exc: BaseException) -> str:
    if isinstance(exc, UetError | NoSuchRecord | StoreError | Refused):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"


def clipped(value: str | None) -> str | None:
    """Free text from a client, cut to ``TEXT_MAX``."""
    return None if value is None else value[:TEXT_MAX]


class Project:
    """One project and its store, shared by the tools; calls run one at a time."""

    def __init__(self, root: Path, db: Path) -> None:
        self.root = root.resolve()
        self.db = db
        self.allow_approve = mcp_settings(self.root).allow_approve
        self._store: Store | None = None
        self._lock = threading.Lock()
        self._run_id: str | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.db)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def inside(self, path: str) -> Path:
        """``path`` (relative to the project root, or absolute) resolved; refused outside it."""
        if "\0" in path:
            raise Refused(f"{path!r}: not a path")
        given = Path(path)
        resolved = (given if given.is_absolute() else self.root / given).resolve()
        if resolved != self.root and not resolved.is_relative_to(self.root):
            raise Refused(f"{path}: outside the project {self.root}; only paths inside it are accepted")
        return resolved

    def run(self, prefix: str) -> str:
        """A run id from its prefix; the call's event names the run."""
        return self.about(queries.resolve_run_id(prefix))

    def about(self, run_id: str) -> str:
        """Say that the call in progress concerns ``run_id``: its event is recorded with the run."""
        self._run_id = run_id
        return run_id

    def call(self, ctx: Context, tool: str, arguments: dict[str, Any], work: Callable[[], Any]) -> Any:
        """Carry out ``work`` and record it; a refusal or an error is a tool error with its message."""
        who = client_name(ctx)
        with self._lock:
            self._run_id = None
            try:
                self.store  # noqa: B018 - opened here: queries read the store opened last
                result = work()
            except Exception as exc:  # noqa: BLE001 - every failure goes back to the client as words
                message = _message(exc)
                self._record(who, tool, arguments, "refused" if isinstance(exc, Refused) else "failed", message)
                raise ToolError(message) from exc
            self._record(who, tool, arguments, "done")
            return result

    def refuse(self, ctx: Context, tool: str, arguments: dict[str, Any], message: str) -> None:
        with self._lock:
            self._run_id = None
            self._record(client_name(ctx), tool, arguments, "refused", message)

    def _record(self, who: str, tool: str, arguments: dict[str, Any], outcome: str, error: str | None = None) -> None:
        with contextlib.suppress(UetError, StoreError):  # the store failed; the client has the answer
            record_call(self.store, who, tool, arguments, outcome, self._run_id, error)
