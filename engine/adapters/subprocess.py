"""The subprocess adapter: run one argv (never a shell) and turn whatever happens into a result.

The child leads its own session and process group, and its environment carries the attempt's
marker (``UET_ATTEMPT``). Tools routinely spawn helpers, and some leave the group or the
session; every kill therefore goes to the group *and* to every process of the attempt that
``engine.reaper`` finds (descendants, and orphans re-parented to the engine, which is a child
subreaper). A timeout or cancel sends SIGTERM to all of them, then SIGKILL after the grace
period (a cancel's is at most ``CANCEL_GRACE_SECONDS``, and a cancel during a timeout's grace
cuts what is left of it to that); once the leader has exited, whether on its own or not,
anything of the attempt still alive is killed and reaped before the attempt ends.

Stdout and stderr come through two pipes, both read on the event loop as data arrives (a child
that fills one pipe while we wait on the other cannot hang it). Each chunk goes (through the
request's ``stream``, when it has one: whole lines, secrets masked, an agent's stream made
readable; stderr gets the same masking but no agent parser) to the attempt's log file, which is
created only when the first byte arrives (a silent tool costs no file), to ``on_output``, and to
a bounded tail. The log holds both streams merged in arrival order, as one pipe did; beside it
``engine.logindex`` keeps which bytes came from stderr, and when (``<log>.idx``). After the
leader exits and its group is killed, the pipes are drained for at most ``DRAIN_SECONDS``, so a
grandchild that escaped into its own session and kept stdout open cannot hold the attempt up.

Exit is noticed through a pidfd on the event loop (no thread per child; where pidfds are
missing, a worker thread waits). Children that run in the engine's own working directory start
through ``posix_spawn``; others through Popen, which changes directory for them.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

from engine.adapters.base import TAIL_CHARS, CancelToken, OutputCallback
from engine.logindex import STDERR, STDOUT, UNMARKED, IndexWriter
from engine.reaper import MARKER, AttemptTree, attempt_marker, become_subreaper
from schemas.execution import ExecutionRequest, ExecutionResult, Outcome

CANCEL_GRACE_SECONDS = 0.5
DRAIN_SECONDS = 0.2
_READ_SIZE = 1 << 16


class _Output:
    """Copies the child's output to the log (created on first write, its stream index beside it),
    the callback and a tail.

    Decoding is incremental so a multi-byte character split across two reads is not mangled.
    A failing ``on_output`` is the caller's bug: it is kept, the callback disabled, and the
    error re-raised once the process is dealt with.
    """

    def __init__(self, log_path: str | None, on_output: OutputCallback | None, stream: Any = None) -> None:
        self.log_path = log_path
        self.stream = stream
        # Stderr is masked like stdout but never given to an agent's parser (it is not its stream).
        self.err_stream = stream.for_stderr() if stream is not None else None
        self.log: int | None = None
        self.index: IndexWriter | None = None
        self.size = 0  # where the next byte lands in the log
        self.on_output = on_output
        self.callback_error: BaseException | None = None
        self.log_error: OSError | None = None
        self.tail = bytearray()
        self._decoder: codecs.IncrementalDecoder | None = None  # made on the first bytes, if anyone listens

    def feed(self, data: bytes, source: str = STDOUT) -> None:
        stream = self.stream if source == STDOUT else self.err_stream
        if stream is not None:
            data = stream.feed(data)
            if data:
                self._write(data, source)
        else:
            self._write(data, source)

    def _write(self, data: bytes, source: str = UNMARKED) -> None:
        if self.log_path is not None:
            try:
                if self.log is None:
                    self.log = _open_log(self.log_path)
                    self.size = os.fstat(self.log).st_size
                    self.index = IndexWriter(self.log_path)
                at = self.size
                self.size += os.write(self.log, data)
                if self.index is not None:
                    self.index.mark(at, source)
            except OSError as exc:
                # A full or failing disk under the log: the output still reaches the tail and the
                # callback, and the pipe is still drained (a child blocked on a full pipe would
                # hang the attempt); the engine says what happened to the disk on its own.
                self.log_error = exc
                self.log_path = None
                if self.log is not None:
                    os.close(self.log)
                    self.log = None
        self.tail += data
        if len(self.tail) > 8 * TAIL_CHARS:
            del self.tail[: -4 * TAIL_CHARS]
        if self.on_output is not None:
            if self._decoder is None:
                self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            self._emit(self._decoder.decode(data))

    def note(self, text: str) -> None:
        """A line of our own in the log (why the tool could not start)."""
        self._write(f"uet: {text}\n".encode())

    def finish(self) -> str:
        for source in (STDOUT, STDERR):
            stream = self.stream if source == STDOUT else self.err_stream
            if stream is not None:
                rest = stream.finish()
                if rest:
                    self._write(rest, source)
        self.stream = self.err_stream = None
        if self._decoder is not None:
            self._emit(self._decoder.decode(b"", final=True))
        if self.index is not None:
            self.index.close(self.size)
            self.index = None
        if self.log is not None:
            os.close(self.log)
            self.log = None
        return bytes(self.tail).decode("utf-8", errors="replace")[-TAIL_CHARS:]

    def _emit(self, text: str) -> None:
        if text and self.on_output is not None:
            try:
                self.on_output(text)
            except Exception as exc:  # re-raised after cleanup
                self.callback_error, self.on_output = exc, None


#: Log folders this process made (one per run): made again, harmlessly, once this many came, so
#: that a server running for months keeps no folder name of every run it ever ran.
_made_dirs: set[str] = set()
MADE_DIRS = 1_024


def _open_log(path: str) -> int:
    directory = os.path.dirname(os.path.abspath(path))
    if directory not in _made_dirs:
        os.makedirs(directory, exist_ok=True)
        if len(_made_dirs) >= MADE_DIRS:
            _made_dirs.clear()
        _made_dirs.add(directory)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    """Signal the whole group; an already-empty group is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _spawn_error(request: ExecutionRequest, exc: OSError) -> tuple[int | None, str]:
    """Map an exec failure to a shell-like exit code and a message naming what was missing."""
    exe = request.argv[0] if request.argv else "?"
    if exc.filename == request.cwd:
        return None, f"cannot use working directory {request.cwd}: {exc.strerror}"
    if isinstance(exc, FileNotFoundError):
        return 127, f"executable not found: {exe}"
    if isinstance(exc, PermissionError):
        return 126, f"permission denied executing {exe} (in {request.cwd})"
    return None, f"cannot start {exe}: {exc}"


def _exit_error(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by signal {signal.Signals(-code).name}"
    return f"exit code {code}"


def _result(start: float, outcome: Outcome, code: int | None, error: str | None, out: str = "") -> ExecutionResult:
    return ExecutionResult(outcome=outcome, exit_code=code, duration=time.monotonic() - start, error=error,
                           output_tail=out)


class _Child:
    """A started child, reaped once. Children started with posix_spawn are reaped with waitpid;
    those from Popen through Popen, so it never warns about a child it thinks still runs."""

    def __init__(self, pid: int, popen: subprocess.Popen[bytes] | None = None) -> None:
        self.pid = pid
        self.popen = popen
        self.returncode: int | None = None

    def wait(self) -> int:
        if self.returncode is None:
            if self.popen is not None:
                self.returncode = self.popen.wait()
            else:
                _pid, status = os.waitpid(self.pid, 0)
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


_which: dict[tuple[str, str], str] = {}
#: What a tool with a clean environment keeps of UET's (see ExecutionRequest.clean_env).
_KEPT = frozenset({"PATH", "LANG", "LANGUAGE", "TERM", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY",
                   "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "NODE_EXTRA_CA_CERTS"})
_cwd_cache: dict[str, str] = {}
_environ: tuple[int, dict[str, str]] | None = None


def _base_env() -> dict[str, str]:
    """A plain copy of the environment, remade only when the environment changed: os.environ
    decodes on every access, which posix_spawn would otherwise pay for each child. The
    fingerprint hashes the raw entries (bytes cache their hashes, so it costs a few
    microseconds). Steps add to it through ``env``."""
    global _environ
    raw = getattr(os.environ, "_data", None)
    fingerprint = hash(tuple(raw.items())) if isinstance(raw, dict) else None
    if _environ is None or fingerprint is None or _environ[0] != fingerprint:
        _environ = (fingerprint or 0, dict(os.environ))
    return _environ[1]


def _resolve(program: str, env: dict[str, str]) -> str | None:
    """``program`` as an executable path, searched on the child's PATH like execvp would. A
    hit is kept; a miss is searched again next time (the tool may have been installed since:
    the dashboard is a long-lived process)."""
    if os.sep in program:
        return program
    search = env.get("PATH", os.defpath)
    key = (program, search)
    found = _which.get(key)
    if found is None:
        found = shutil.which(program, path=search)
        if found is not None:
            _which[key] = found
    return found


def _here(cwd: str) -> bool:
    """Is ``cwd`` this process's working directory? (realpath is cached; getcwd is one call)"""
    real = _cwd_cache.get(cwd)
    if real is None:
        real = _cwd_cache[cwd] = os.path.realpath(cwd)
    return real == os.getcwd()


def _spawn(request: ExecutionRequest, out_fd: int, err_fd: int, here: bool) -> _Child:
    """Start the child in its own session with stdout on ``out_fd``, stderr on ``err_fd`` and stdin from
    the request's ``stdin_path`` (else /dev/null); ``here`` says
    whether ``request.cwd`` is this process's working directory. The attempt's marker goes into
    its environment last, so a step cannot set it."""
    base = _base_env()
    if request.clean_env:
        base = {name: value for name, value in base.items() if name in _KEPT or name.startswith("LC_")}
    env = {**base, **request.env, MARKER: attempt_marker(request.run_id, request.step_id, request.attempt)}
    argv = request.argv or []
    if here:
        program = _resolve(argv[0], env)
        if program is None:
            raise FileNotFoundError(2, "No such file or directory", argv[0])
        pid = os.posix_spawn(
            program,
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, request.stdin_path or os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out_fd, 1),
                (os.POSIX_SPAWN_DUP2, err_fd, 2),
            ],
            setsid=True,
        )
        return _Child(pid)
    stdin = os.open(request.stdin_path, os.O_RDONLY | os.O_CLOEXEC) if request.stdin_path else subprocess.DEVNULL
    try:
        popen = subprocess.Popen(argv, stdin=stdin, stdout=out_fd, stderr=err_fd,
                                 cwd=request.cwd, env=env, start_new_session=True, close_fds=True)
    finally:
        if stdin != subprocess.DEVNULL:
            os.close(stdin)
    return _Child(popen.pid, popen)


def _watch_exit(child: _Child, exited: asyncio.Future[None], on_exit: Callable[[], None]) -> int | None:
    """Complete ``exited`` and call ``on_exit`` when the child exits: a pidfd on the loop, else a
    waiting thread. (A direct call, not a callback on the future: one loop turn less per attempt.)"""
    loop = asyncio.get_running_loop()

    def done() -> None:
        if not exited.done():
            exited.set_result(None)
        on_exit()

    try:
        pidfd = os.pidfd_open(child.pid)
    except (AttributeError, OSError):
        loop.run_in_executor(None, child.wait).add_done_callback(lambda _f: done())
        return None
    loop.add_reader(pidfd, done)
    return pidfd


async def run_subprocess(
    request: ExecutionRequest,
    cancel: asyncio.Event,
    on_output: OutputCallback | None = None,
    on_spawn: Callable[[int], None] | None = None,
) -> ExecutionResult:
    """Run ``request.argv`` to completion, timeout or cancel; never raise for the tool's failure.

    ``on_spawn`` gets the child's pid (its process group id) as soon as it exists, so that an
    engine that dies while the child runs leaves enough behind for the next one to kill it.
    """
    if not request.argv:
        raise ValueError(f"subprocess request for step {request.step_id!r} has no argv")
    start = time.monotonic()
    if cancel.is_set():
        return _result(start, "canceled", None, "canceled before start")
    output = _Output(request.log_path, on_output, request.stream)
    # A child started in our own working directory needs no check (it is where we are).
    here = _here(request.cwd)
    if not here and not os.path.isdir(request.cwd):
        error = f"working directory not found: {request.cwd}"
        output.note(error)
        output.finish()
        return _result(start, "failed", None, error)

    # Before the first child: from now on whatever an attempt orphans is re-parented to us.
    become_subreaper()
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    err_read_fd, err_write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        try:
            child = _spawn(request, write_fd, err_write_fd, here)
        except OSError as exc:
            code, error = _spawn_error(request, exc)
            output.note(error)
            output.finish()
            return _result(start, "failed", code, error)
        finally:
            os.close(write_fd)  # only the child's process tree holds the write ends now
            os.close(err_write_fd)
        if on_spawn is not None:
            on_spawn(child.pid)
        outcome = await _supervise(child, request, cancel, output, read_fd, err_read_fd)
    finally:
        os.close(read_fd)
        os.close(err_read_fd)
    out = output.finish()
    if output.callback_error is not None:
        raise output.callback_error

    code = child.wait()
    if outcome == "timed_out":
        error = (f"timed out after {request.timeout:g}s; process tree killed "
                 f"(SIGTERM, then SIGKILL after {request.grace:g}s)")
        return _result(start, "timed_out", code, error, out)
    if outcome == "canceled":
        return _result(start, "canceled", code, "canceled; process tree killed", out)
    if code in request.success_codes:
        return _result(start, "succeeded", code, None, out)
    return _result(start, "failed", code, _exit_error(code), out)


async def _supervise(
    child: _Child, request: ExecutionRequest, cancel: asyncio.Event, output: _Output, read_fd: int, err_fd: int
) -> Outcome | None:
    """Wait for exit, timeout or cancel; return who ended it (None: the child itself).

    Whatever happens, every process of the attempt is dead, the leader reaped and both pipes
    drained when this returns. No task is created per attempt: exit, timer, cancel and EOF each
    settle a future.
    """
    loop = asyncio.get_running_loop()
    pgid = child.pid  # a new session: the child's pid is its process group id
    exited: asyncio.Future[None] = loop.create_future()
    drained: asyncio.Future[None] = loop.create_future()
    trigger: asyncio.Future[Outcome | None] = loop.create_future()
    hurry: asyncio.Future[None] | None = None  # made only once a timeout fired

    def fire(reason: Outcome | None) -> None:
        if not trigger.done():
            trigger.set_result(reason)
        elif reason == "canceled" and hurry is not None and not hurry.done() and not exited.done():
            hurry.set_result(None)  # a cancel during a timeout's grace: cut the grace short

    open_fds = {read_fd, err_fd}

    def readable(fd: int, source: str) -> None:
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return
        if data:
            output.feed(data, source)
        else:
            loop.remove_reader(fd)
            open_fds.discard(fd)
            if not open_fds and not drained.done():
                drained.set_result(None)

    for fd, source in ((read_fd, STDOUT), (err_fd, STDERR)):
        os.set_blocking(fd, False)
        loop.add_reader(fd, readable, fd, source)
    handle = _watch_exit(child, exited, lambda: fire(None))
    timer = loop.call_later(request.timeout, fire, "timed_out") if request.timeout else None
    on_cancel = functools.partial(fire, "canceled")
    parked: asyncio.Task[bool] | None = None
    if isinstance(cancel, CancelToken):
        cancel.add_callback(on_cancel)
    else:
        parked = asyncio.ensure_future(cancel.wait())
        parked.add_done_callback(lambda _t: on_cancel())
    # A stranger is known as the attempt's by holding its stdout pipe: one that escaped with only
    # stderr open is found only by its marker, group or session, and its pipe drains for
    # DRAIN_SECONDS at most.
    tree = AttemptTree(pgid, attempt_marker(request.run_id, request.step_id, request.attempt), read_fd)
    try:
        outcome = await trigger
        if outcome is not None and not exited.done():
            # Polite first: SIGTERM lets the tool clean up; SIGKILL after the grace period. An
            # operator's cancel must take effect within a second, so its grace is short.
            tree.terminate()
            if outcome == "canceled":
                await asyncio.wait({exited}, timeout=min(request.grace, CANCEL_GRACE_SECONDS))
            else:
                hurry = loop.create_future()
                outcome = await _timeout_grace(loop, request.grace, exited, hurry, cancel)
            if not exited.done():
                _signal_group(pgid, signal.SIGKILL)
            await exited
        elif outcome is not None:
            outcome = None  # it exited on its own just as the timer or cancel fired
        # The leader has exited; anything of the attempt still alive (a helper that ignored
        # SIGTERM, a background job or daemon of a tool that exited normally, in the group or
        # out of it) is a straggler and must not outlive it. The leader is reaped last, so its
        # pid (the group and session id the stragglers are known by) is not reused meanwhile.
        await tree.end()
        child.wait()
        if not drained.done():
            await asyncio.wait({drained}, timeout=DRAIN_SECONDS)
    except BaseException:
        # Our own task was cancelled (or something broke): leak nothing, then propagate.
        _signal_group(pgid, signal.SIGKILL)
        tree.end_now()
        child.wait()
        raise
    finally:
        tree.close()
        for fd in open_fds:
            loop.remove_reader(fd)
        if timer is not None:
            timer.cancel()
        if isinstance(cancel, CancelToken):
            cancel.remove_callback(on_cancel)
        if parked is not None:
            parked.cancel()
        if handle is not None:
            loop.remove_reader(handle)
            os.close(handle)
    return outcome


async def _timeout_grace(
    loop: asyncio.AbstractEventLoop, grace: float, exited: asyncio.Future[None], hurry: asyncio.Future[None],
    cancel: asyncio.Event,
) -> Outcome:
    """Wait out a timeout's grace period for the leader to exit (SIGTERM is already sent).

    An operator's cancel must still stop the run within a second: one that arrives while the
    leader lives (it completes ``hurry``, or was set just before the grace began) leaves at most
    ``CANCEL_GRACE_SECONDS`` of the grace. The attempt is then reported canceled: the cancel, not
    the timeout, is what cut the grace short, and the engine reports canceled any attempt whose
    cancel arrived before it finished. A cancel after the leader exited changes nothing.
    """
    deadline = loop.time() + grace
    if cancel.is_set():
        hurry.set_result(None)
    await asyncio.wait({exited, hurry}, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
    if not hurry.done():
        return "timed_out"  # it exited, or the whole grace ran out
    await asyncio.wait({exited}, timeout=max(0.0, min(CANCEL_GRACE_SECONDS, deadline - loop.time())))
    return "canceled"
