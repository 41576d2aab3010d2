"""Which tools a project has and whether they are here: the rows of ``uet tools`` and of the
dashboard's Tools screen, both read from ``tool_rows``.

A row joins the router's definition (``engine.toolconfig``: UET's own, or the project's
``.uet/router.yaml``), the program on PATH with its version, the breaker the store keeps and
what the store's attempts say of the tool (``store.tool_totals.tool_usage``, totals kept as
attempts finish), and per kind of step (``store.tool_totals.kind_stats``, what ``auto`` routing
learns from).

Asking each program its version is the slow part: every tool is asked at once, each in a thread,
with stdin closed, a deadline and a bounded read, and the answer is kept in
``.uet/cache/tool-versions.json`` for the executable's path and modification time (and the
arguments asked with), so a second look starts no process until the program changes.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from engine.agents.catalog import EXECUTABLES, PACKAGES
from engine.toolconfig import load_router_config, router_path
from engine.yamlsafe import load
from schemas.memory import KindStats
from schemas.records import BreakerRecord
from schemas.router import ToolSpec
from schemas.tools import ToolInfo, ToolUsage
from store import Store, queries
from store.tool_totals import kind_stats, tool_usage

VERSION_TIMEOUT = 10.0
"""Seconds a program has to print its version (an agent CLI written in Node or Python takes a few on a
busy machine; an answer is cached, a timeout is not)."""
VERSION_CHARS = 200
"""The version is the first line printed, cut to this many characters."""
READ_LIMIT = 4096
"""Bytes kept of each of a version probe's streams; the rest is not read."""
CACHE_ENTRIES = 256
CACHE_BYTES = 1 << 20
PROBE_THREADS = 16
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]")


def cache_path(root: Path) -> Path:
    return root / ".uet" / "cache" / "tool-versions.json"


def program(name: str, spec: ToolSpec, root: Path) -> str | None:
    """The program a tool needs on PATH, as the router looks for it; None for tools that run no
    program of their own (python callables, simulations)."""
    if spec.adapter != "subprocess":
        return None
    found = spec.executable or (spec.command[0] if spec.command else None)
    if found is None and spec.agent is not None:
        found = EXECUTABLES[spec.agent]
    return (found or name).replace("{root}", str(root))


def probe_args(spec: ToolSpec) -> list[str]:
    """The arguments that make a tool's program print its version: the tool's ``version_args``,
    except for a command run as ``python -m module`` that leaves them unset. That is asked its
    module's version (``python -m pytest --version`` says "pytest 8.4.1", where ``python
    --version`` would say Python's); a module of Python's own library has Python's."""
    command = spec.command or []
    if ("version_args" not in spec.model_fields_set and len(command) >= 3 and command[1] == "-m"
            and spec.executable in (None, command[0])):
        module = command[2]
        if re.fullmatch(r"[A-Za-z_][\w.]*", module) and module.split(".")[0] not in sys.stdlib_module_names:
            return ["-m", module, "--version"]
    return list(spec.version_args)


def locate(executable: str, root: Path) -> str | None:
    """The program's absolute path if it is here and executable: a bare name is searched on
    PATH, a relative path is taken from the project's root."""
    if "/" not in executable:
        return shutil.which(executable)
    path = Path(executable) if os.path.isabs(executable) else root / executable
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def project_tools(root: Path) -> set[str]:
    """The tools the project's own router file defines (none without a file)."""
    path = router_path(root)
    if not os.path.lexists(path):
        return set()
    data = load(path).data
    tools = data.get("tools") if isinstance(data, dict) else None
    return set(tools) if isinstance(tools, dict) else set()


def tool_rows(root: Path, store: Store | None = None, *, versions: bool = True) -> list[ToolInfo]:
    """Every tool of the project's router, in the router's order. With ``store`` (opened, so
    the store's queries read it), each row carries the tool's breaker and record; without one
    they are empty. ``versions=False`` leaves ``version`` null and starts no process."""
    config = load_router_config(root)
    own = project_tools(root)
    usage: dict[str, ToolUsage] = {}
    breakers: dict[str, BreakerRecord] = {}
    kinds: dict[str, list[KindStats]] = {}
    if store is not None:
        usage = tool_usage()
        breakers = {b.tool: b for b in queries.breakers(list(config.tools))}
        for stats in kind_stats():
            kinds.setdefault(stats.tool, []).append(stats)
    rows = []
    for name, spec in config.tools.items():
        executable = program(name, spec, root)
        path = locate(executable, root) if executable else None
        found = None if executable is None else path is not None
        used = usage.get(name) or ToolUsage(tool=name)
        breaker = breakers.get(name)
        rows.append(ToolInfo(
            name=name, source="project" if name in own else "built-in", adapter=spec.adapter, agent=spec.agent,
            executable=executable, path=path, found=found,
            install=PACKAGES[spec.agent] if spec.agent and found is False else None,
            capabilities=list(spec.capabilities),
            breaker=breaker.state.value if breaker else None,
            breaker_opened_at=breaker.opened_at if breaker else None,
            attempts=used.attempts, succeeded=used.succeeded,
            success_rate=used.succeeded / used.attempts if used.attempts else None,
            median_seconds=used.median_seconds,
            usd_per_attempt=used.usd / used.priced if used.priced else None,
            tokens_per_attempt=used.tokens / used.tokenized if used.tokenized else None,
            priced_attempts=used.priced, last_used_at=used.last_used_at, kinds=kinds.get(name, []),
        ))
    if versions:
        rows = add_versions(rows, root, {name: probe_args(spec) for name, spec in config.tools.items()})
    return rows


def add_versions(rows: Sequence[ToolInfo], root: Path, version_args: dict[str, list[str]] | None = None,
                 timeout: float = VERSION_TIMEOUT) -> list[ToolInfo]:
    """The rows with the version of each program that was found: from the cache when the
    program has not changed since it was asked, else asked now, all at once."""
    if version_args is None:
        config = load_router_config(root)
        version_args = {name: probe_args(spec) for name, spec in config.tools.items()}
    cache = VersionCache(cache_path(root))
    wanted: dict[str, tuple[str, list[str]]] = {}  # cache key -> (path, args)
    keys: dict[str, str] = {}  # tool -> cache key
    for row in rows:
        if row.path is None:
            continue
        args = version_args.get(row.name, ["--version"])
        key = cache.key(row.path, args)
        if key is None:
            continue
        keys[row.name] = key
        if cache.get(key) is None:
            wanted[key] = (row.path, args)
    if wanted:
        with ThreadPoolExecutor(max_workers=min(PROBE_THREADS, len(wanted)), thread_name_prefix="version") as pool:
            answers = dict(zip(wanted, pool.map(lambda job: probe_version(*job, timeout=timeout), wanted.values()),
                               strict=True))
        for key, (version, keep) in answers.items():
            cache.put(key, version, keep)
        cache.save()
    out = []
    for row in rows:
        key = keys.get(row.name)
        if key is not None:
            row = row.model_copy(update={"version": cache.get(key)})
        elif row.path is not None:
            row = row.model_copy(update={"version": "unknown (cannot read the program's file)"})
        out.append(row)
    return out


def probe_version(path: str, args: Sequence[str], timeout: float = VERSION_TIMEOUT) -> tuple[str, bool]:
    """Run ``path args`` with stdin closed and return (its version, whether to keep the answer).

    The version is the first non-empty line of its output (stdout, else stderr), without
    terminal escapes, cut to ``VERSION_CHARS``. A program that fails says ``unknown (why)``;
    one that does not answer in ``timeout`` seconds is killed with its process group, and that
    answer is not kept (the next look asks again)."""
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb"}
    try:
        child = subprocess.Popen([path, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=env, start_new_session=True)
    except OSError as exc:
        return f"unknown (cannot run it: {exc.strerror or exc})", False
    try:
        out, err, finished = _read_bounded(child, time.monotonic() + timeout)
    finally:
        if child.poll() is None:
            _kill(child)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    if not finished:
        return f"unknown (no answer in {timeout:g}s)", False
    line = _first_line(out) or _first_line(err)
    if child.returncode != 0:
        why = f"exit {child.returncode}" if child.returncode > 0 else f"killed by signal {-child.returncode}"
        return f"unknown ({why}{': ' + line if line else ''})"[: VERSION_CHARS + 20], True
    if not line:
        return "unknown (it printed nothing)", True
    return line, True


def _read_bounded(child: subprocess.Popen[bytes], deadline: float) -> tuple[bytes, bytes, bool]:
    """Read both streams until they end or the deadline, keeping ``READ_LIMIT`` bytes of each;
    True when the program exited in time."""
    kept = {"out": bytearray(), "err": bytearray()}
    with selectors.DefaultSelector() as selector:
        for stream, name in ((child.stdout, "out"), (child.stderr, "err")):
            if stream is not None:
                os.set_blocking(stream.fileno(), False)
                selector.register(stream, selectors.EVENT_READ, name)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(kept["out"]), bytes(kept["err"]), False
            for key, _ in selector.select(left):
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                buffer = kept[key.data]
                buffer += chunk[: max(0, READ_LIMIT - len(buffer))]
    try:
        child.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return bytes(kept["out"]), bytes(kept["err"]), False
    return bytes(kept["out"]), bytes(kept["err"]), True


def _kill(child: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except OSError:
        child.kill()
    child.wait()


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    for line in text.splitlines():
        line = _CONTROL.sub("", line).strip()
        if line:
            return line[:VERSION_CHARS]
    return ""


class VersionCache:
    """Versions kept per (executable path, modification time, arguments) in a small JSON file.
    A file that cannot be read is an empty cache; one that cannot be written is skipped: the
    cache only saves time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, str] = {}
        self.changed = False
        self.transient: set[str] = set()  # answers given to this look only
        try:
            if path.stat().st_size <= CACHE_BYTES:
                data = json.loads(path.read_text(encoding="utf-8"))
                entries = data.get("entries") if isinstance(data, dict) else None
                if isinstance(entries, dict):
                    self.entries = {k: v for k, v in entries.items() if isinstance(k, str) and isinstance(v, str)}
        except (OSError, ValueError):
            pass

    @staticmethod
    def key(path: str, args: Sequence[str]) -> str | None:
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            return None
        return json.dumps([path, mtime, list(args)])

    def get(self, key: str) -> str | None:
        return self.entries.get(key)

    def put(self, key: str, version: str, keep: bool) -> None:
        """Keep the answer; one not to keep (a timeout) is still given to this look."""
        self.entries.pop(key, None)
        self.entries[key] = version  # newest last: the oldest are dropped first
        self.changed = self.changed or keep
        if not keep:
            self.transient.add(key)

    def save(self) -> None:
        if not self.changed or not self.path.parent.parent.is_dir():  # no .uet: not a project, write nothing
            return
        kept = {k: v for k, v in self.entries.items() if k not in self.transient and _still_there(k)}
        kept = dict(list(kept.items())[-CACHE_ENTRIES:])
        try:
            if not self.path.parent.is_dir():
                self.path.parent.mkdir()
                # A cache is nobody's to commit: the folder ignores itself, whatever .gitignore says.
                (self.path.parent / ".gitignore").write_text("*\n", encoding="utf-8")
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps({"entries": kept}, indent=1), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            pass


def _still_there(key: str) -> bool:
    try:
        path: Any = json.loads(key)[0]
    except (ValueError, IndexError, TypeError):
        return False
    return isinstance(path, str) and os.path.exists(path)


def not_installed(rows: Sequence[ToolInfo]) -> list[ToolInfo]:
    """The tools whose program is missing, agents first (they come with an install hint)."""
    missing = [row for row in rows if row.found is False]
    return sorted(missing, key=lambda row: row.agent is None)


def uncovered(rows: Sequence[ToolInfo]) -> list[str]:
    """Capabilities that some tool declares but no installed tool has."""
    declared: dict[str, bool] = {}
    for row in rows:
        for capability in row.capabilities:
            declared[capability] = declared.get(capability, False) or row.found is not False
    return sorted(c for c, covered in declared.items() if not covered)
