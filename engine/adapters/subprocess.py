"""The subprocess adapter: run one argv (never a shell) and turn whatever happens into a result.

The child leads its own process group (``start_new_session``), and every kill goes to the whole
group, because tools routinely spawn helpers that would otherwise outlive a timeout or a cancel.
A timeout or cancel sends SIGTERM, then SIGKILL after the grace period; once the leader is
reaped, anything left in its group is killed too.

The child writes straight into the attempt's log file: no pipe passes through this process, so
a straggler that keeps stdout open can never hold us up, and a fast tool costs us no reads.
``on_output`` is fed by reading new bytes from the log every ``OUTPUT_POLL_SECONDS`` while the
child runs, and once more at the end. Exit is noticed through a pidfd on the event loop (no
thread per child); where pidfds are missing, a worker thread waits instead.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import IO

from engine.adapters.base import TAIL_CHARS, OutputCallback
from schemas.execution import ExecutionRequest, ExecutionResult, Outcome

CANCEL_GRACE_SECONDS = 0.5
OUTPUT_POLL_SECONDS = 0.2
_READ_SIZE = 1 << 20


class _Output:
    """Reads what the child appended to the log since the attempt began, incrementally.

    Decoding is incremental so a multi-byte character split across two reads is not mangled.
    A failing ``on_output`` is the caller's bug: it is kept, the callback disabled, and the
    error re-raised once the process is dealt with.
    """

    def __init__(self, log: IO[bytes], start: int, on_output: OutputCallback | None) -> None:
        self.log = log
        self.offset = start
        self.start = start
        self.on_output = on_output
        self.callback_error: BaseException | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def poll(self) -> None:
        if self.on_output is None:
            return
        data = os.pread(self.log.fileno(), _READ_SIZE, self.offset)
        while data:
            self.offset += len(data)
            self._emit(self._decoder.decode(data))
            data = os.pread(self.log.fileno(), _READ_SIZE, self.offset) if len(data) == _READ_SIZE else b""

    def finish(self) -> str:
        """Deliver the rest to the callback and return the tail of this attempt's output."""
        self.poll()
        if self.on_output is not None:
            self._emit(self._decoder.decode(b"", final=True))
        end = os.fstat(self.log.fileno()).st_size
        begin = max(self.start, end - 4 * TAIL_CHARS)
        text = os.pread(self.log.fileno(), end - begin, begin).decode("utf-8", errors="replace")
        return text[-TAIL_CHARS:]

    def _emit(self, text: str) -> None:
        if text and self.on_output is not None:
            try:
                self.on_output(text)
            except Exception as exc:  # re-raised after cleanup
                self.callback_error, self.on_output = exc, None


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
    return ExecutionResult(
        outcome=outcome, exit_code=code, duration=time.monotonic() - start, error=error, output_tail=out,
        tokens_in=None, tokens_out=None, model=None,
    )


def _exit_future(proc: subprocess.Popen[bytes]) -> tuple[asyncio.Future[None], object]:
    """A future that completes when ``proc`` exits, and a handle to release afterwards."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        waiter = loop.run_in_executor(None, proc.wait)
        waiter.add_done_callback(lambda _f: future.done() or future.set_result(None))
        return future, None
    loop.add_reader(pidfd, lambda: future.done() or future.set_result(None))
    return future, pidfd


def _release(handle: object) -> None:
    if isinstance(handle, int):
        asyncio.get_running_loop().remove_reader(handle)
        os.close(handle)


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
    if not os.path.isdir(request.cwd):
        return _result(start, "failed", None, f"working directory not found: {request.cwd}")

    with contextlib.ExitStack() as stack:
        if request.log_path:
            os.makedirs(os.path.dirname(os.path.abspath(request.log_path)), exist_ok=True)
            log: IO[bytes] = stack.enter_context(open(request.log_path, "ab+"))
        else:
            log = stack.enter_context(tempfile.TemporaryFile())
        output = _Output(log, log.seek(0, os.SEEK_END), on_output)
        try:
            proc = subprocess.Popen(
                request.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=request.cwd,
                env={**os.environ, **request.env} if request.env else None,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            code, error = _spawn_error(request, exc)
            log.write(f"uet: {error}\n".encode())
            return _result(start, "failed", code, error)
        if on_spawn is not None:
            on_spawn(proc.pid)
        outcome = await _supervise(proc, request, cancel, output)
        out = output.finish()
    if output.callback_error is not None:
        raise output.callback_error

    code = proc.returncode
    assert code is not None
    if outcome == "timed_out":
        error = f"timed out after {request.timeout:g}s; process group killed (SIGTERM, then SIGKILL after {request.grace:g}s)"
        return _result(start, "timed_out", code, error, out)
    if outcome == "canceled":
        return _result(start, "canceled", code, "canceled; process group killed", out)
    if code in request.success_codes:
        return _result(start, "succeeded", code, None, out)
    return _result(start, "failed", code, _exit_error(code), out)


async def _supervise(
    proc: subprocess.Popen[bytes], request: ExecutionRequest, cancel: asyncio.Event, output: _Output
) -> Outcome | None:
    """Wait for exit, timeout or cancel; return who ended it (None: the child itself).

    Whatever happens, the whole group is dead and the leader reaped when this returns.
    """
    loop = asyncio.get_running_loop()
    pgid = proc.pid  # start_new_session: the child's pid is its process group id
    exited, handle = _exit_future(proc)
    canceller = asyncio.ensure_future(cancel.wait())
    poller: asyncio.TimerHandle | None = None

    def poll_output() -> None:
        nonlocal poller
        output.poll()
        poller = loop.call_later(OUTPUT_POLL_SECONDS, poll_output)

    if output.on_output is not None:
        poller = loop.call_later(OUTPUT_POLL_SECONDS, poll_output)
    outcome: Outcome | None = None
    try:
        await asyncio.wait({exited, canceller}, timeout=request.timeout, return_when=asyncio.FIRST_COMPLETED)
        if not exited.done():
            outcome = "canceled" if canceller.done() else "timed_out"
            # Polite first: SIGTERM lets the tool clean up; SIGKILL after the grace period. An
            # operator's cancel must take effect within a second, so its grace is short.
            grace = min(request.grace, CANCEL_GRACE_SECONDS) if outcome == "canceled" else request.grace
            _signal_group(pgid, signal.SIGTERM)
            await asyncio.wait({exited}, timeout=grace)
            if not exited.done():
                _signal_group(pgid, signal.SIGKILL)
            await exited
        # The leader has exited; anything still in its group (a helper that ignored SIGTERM, a
        # background job of a tool that exited normally) is a straggler and must not outlive it.
        _signal_group(pgid, signal.SIGKILL)
        proc.wait()
    except BaseException:
        # Our own task was cancelled (or something broke): leak nothing, then propagate.
        _signal_group(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1.0)
        raise
    finally:
        if poller is not None:
            poller.cancel()
        canceller.cancel()
        _release(handle)
        with contextlib.suppress(asyncio.CancelledError):
            await canceller
    return outcome
