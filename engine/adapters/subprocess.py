"""The subprocess adapter: run one argv (never a shell) and turn whatever happens into a result.

The child is started with ``start_new_session=True`` so it leads its own process group; every
kill goes to the whole group, because tools routinely spawn helpers that would otherwise outlive
a timeout or a cancel and keep eating CPU (or keep our output pipe open forever). Output is read
incrementally so the log file and ``on_output`` see it live, and reading stops shortly after the
main child exits instead of waiting for an EOF a straggler may never give.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import time
from typing import IO

from engine.adapters.base import OutputCallback, tail
from schemas.execution import ExecutionRequest, ExecutionResult, Outcome

#: After the main child is gone, how long the reader may keep draining the pipe. Output that was
#: written before exit is already in the pipe buffer and arrives well within this window.
CANCEL_GRACE_SECONDS = 0.5
DRAIN_SECONDS = 0.2
_READ_SIZE = 65536


class _Pump:
    """Copies the merged stdout/stderr stream to the log, the callback and a bounded tail.

    Decoding is incremental so a multi-byte character split across two reads is not mangled.
    A failing ``on_output`` is a bug in the caller, but the child must not then block on a full
    pipe: the error is kept, the callback disabled, the draining continues, and the error is
    re-raised once the process is dealt with.
    """

    def __init__(self, log: IO[bytes] | None, on_output: OutputCallback | None) -> None:
        self.log = log
        self.on_output = on_output
        self.callback_error: BaseException | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._tail = ""

    async def run(self, stream: asyncio.StreamReader) -> None:
        while data := await stream.read(_READ_SIZE):
            if self.log is not None:
                self.log.write(data)
                self.log.flush()
            self._emit(self._decoder.decode(data))

    def finish(self) -> str:
        """Flush a trailing partial character (as U+FFFD) and return the tail."""
        self._emit(self._decoder.decode(b"", final=True))
        return self._tail

    def _emit(self, text: str) -> None:
        if not text:
            return
        self._tail = tail(self._tail + text)
        if self.on_output is not None:
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
    if exc.filename == request.cwd:  # chdir failed in the child, after our isdir() check
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


def _result(
    start: float, outcome: Outcome, code: int | None, error: str | None, out: str = ""
) -> ExecutionResult:
    return ExecutionResult(
        outcome=outcome,
        exit_code=code,
        duration=time.monotonic() - start,
        error=error,
        output_tail=out,
    )


async def run_subprocess(
    request: ExecutionRequest, cancel: asyncio.Event, on_output: OutputCallback | None = None
) -> ExecutionResult:
    """Run ``request.argv`` to completion, timeout or cancel; never raise for the tool's failure."""
    if not request.argv:
        raise ValueError(f"subprocess request for step {request.step_id!r} has no argv")
    start = time.monotonic()
    if cancel.is_set():
        return _result(start, "canceled", None, "canceled before start")
    if not os.path.isdir(request.cwd):
        return _result(start, "failed", None, f"working directory not found: {request.cwd}")

    with contextlib.ExitStack() as stack:
        log: IO[bytes] | None = None
        if request.log_path is not None:
            os.makedirs(os.path.dirname(os.path.abspath(request.log_path)), exist_ok=True)
            log = stack.enter_context(open(request.log_path, "ab"))
        # Our own pipe rather than PIPE: on Python 3.11 ``Process.wait()`` only returns once the
        # child's pipes hit EOF, which a straggler holding stdout can delay forever.
        read_fd, write_fd = os.pipe()
        read_end = stack.enter_context(open(read_fd, "rb", buffering=0))
        try:
            proc = await asyncio.create_subprocess_exec(
                *request.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_fd,
                stderr=asyncio.subprocess.STDOUT,
                cwd=request.cwd,
                env={**os.environ, **request.env},
                start_new_session=True,
            )
        except OSError as exc:
            code, error = _spawn_error(request, exc)
            return _result(start, "failed", code, error)
        finally:
            os.close(write_fd)  # only the child's process tree may hold the write end
        pump = _Pump(log, on_output)
        outcome = await _supervise(proc, read_end, request, cancel, pump)
        out = pump.finish()
    if pump.callback_error is not None:
        raise pump.callback_error

    code = proc.returncode
    assert code is not None
    if outcome == "timed_out":
        error = (
            f"timed out after {request.timeout}s; process group killed "
            f"(SIGTERM, then SIGKILL after {request.grace}s)"
        )
        return _result(start, "timed_out", code, error, out)
    if outcome == "canceled":
        return _result(start, "canceled", code, "canceled; process group killed", out)
    if code in request.success_codes:
        return _result(start, "succeeded", code, None, out)
    return _result(start, "failed", code, _exit_error(code), out)


async def _supervise(
    proc: asyncio.subprocess.Process,
    read_end: IO[bytes],
    request: ExecutionRequest,
    cancel: asyncio.Event,
    pump: _Pump,
) -> Outcome | None:
    """Wait for exit, timeout or cancel; return who ended it (None: the child itself).

    Whatever happens, the whole group is dead and the leader reaped when this returns.
    """
    pgid = proc.pid  # start_new_session: the child's pid is its process group id
    stream = asyncio.StreamReader()
    reader = asyncio.ensure_future(pump.run(stream))
    waiter = asyncio.ensure_future(proc.wait())
    canceller = asyncio.ensure_future(cancel.wait())
    outcome: Outcome | None = None
    transport: asyncio.BaseTransport | None = None
    try:
        transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stream), read_end
        )
        await asyncio.wait(
            {waiter, canceller}, timeout=request.timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if not waiter.done():
            outcome = "canceled" if canceller.done() else "timed_out"
            # Polite first: SIGTERM lets the tool clean up; SIGKILL after the grace period.
            # An operator's cancel must take effect within a second, so its grace is short.
            grace = min(request.grace, CANCEL_GRACE_SECONDS) if outcome == "canceled" else request.grace
            _signal_group(pgid, signal.SIGTERM)
            await asyncio.wait({waiter}, timeout=grace)
            if not waiter.done():
                _signal_group(pgid, signal.SIGKILL)
            await waiter
        # The leader is reaped; anything still in its group (a helper that ignored SIGTERM, a
        # background job of a tool that exited normally) is a straggler and must not outlive us.
        _signal_group(pgid, signal.SIGKILL)
        await asyncio.wait({reader}, timeout=DRAIN_SECONDS)
    except BaseException:
        # Our own task was cancelled (or something broke): leak nothing, then propagate.
        _signal_group(pgid, signal.SIGKILL)
        await asyncio.wait({waiter}, timeout=1.0)
        raise
    finally:
        for task in (reader, canceller, waiter):
            task.cancel()
        await asyncio.gather(reader, canceller, waiter, return_exceptions=True)
        # A straggler that escaped the group (setsid) may still hold the write end; closing our
        # read end is what stops us waiting for it.
        if transport is not None:
            transport.close()
    return outcome
