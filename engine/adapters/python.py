"""The python adapter: call ``module:function`` in this process.

A coroutine function is awaited on the engine's loop, so a timeout or a cancel interrupts it at
its next await. A plain function runs in a worker thread; Python cannot stop a thread, so on
timeout or cancel the attempt is reported at once and the thread is left to finish on its own
(its result is discarded). Use ``run`` with a subprocess for code that must be killable.

The function's return value may be a mapping with ``tokens_in``, ``tokens_out`` and ``model``,
which are recorded as the attempt's cost; ``False`` means failure; anything else is success.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from engine.adapters.base import OutputCallback, tail
from schemas.execution import ExecutionRequest, ExecutionResult

_cache: dict[str, tuple[Callable[..., Any], bool]] = {}


def resolve(target: str) -> tuple[Callable[..., Any], bool]:
    found = _cache.get(target)
    if found is None:
        module_name, _, name = target.partition(":")
        module = importlib.import_module(module_name)
        function = getattr(module, name)
        if not callable(function):
            raise TypeError(f"{target} is not callable")
        found = _cache[target] = (function, inspect.iscoroutinefunction(function))
    return found


def _in_thread(loop: asyncio.AbstractEventLoop, call: Callable[[], Any]) -> asyncio.Future[Any]:
    """Run ``call`` in a daemon thread: one that overruns its timeout can neither be stopped
    nor be allowed to hold up the engine's exit, so it is not in a pool that exit waits for."""
    future: asyncio.Future[Any] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not future.done():
            future.set_result(value) if ok else future.set_exception(value)

    def target() -> None:
        try:
            value = call()
        except BaseException as exc:  # noqa: BLE001 - delivered to the awaiting attempt
            ok, value = False, exc
        else:
            ok = True
        if not loop.is_closed():
            loop.call_soon_threadsafe(settle, ok, value)

    threading.Thread(target=target, name="uet-python-step", daemon=True).start()
    return future


def _write_log(path: str | None, text: str) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


def _result(value: Any, started: float) -> ExecutionResult:
    duration = time.monotonic() - started
    if value is False:
        return ExecutionResult(outcome="failed", exit_code=1, duration=duration, error="the callable returned False")
    if isinstance(value, dict):
        return ExecutionResult(
            outcome="succeeded",
            exit_code=0,
            duration=duration,
            tokens_in=value.get("tokens_in"),
            tokens_out=value.get("tokens_out"),
            model=value.get("model"),
        )
    return ExecutionResult(
        outcome="succeeded", exit_code=0, duration=duration, error=None, tokens_in=None, tokens_out=None,
        model=None, output_tail="",
    )


async def run_python(request: ExecutionRequest, cancel: asyncio.Event, on_output: OutputCallback | None = None) -> ExecutionResult:
    started = time.monotonic()
    if cancel.is_set():
        return ExecutionResult(outcome="canceled", error="canceled before start")
    try:
        function, is_async = resolve(request.callable or "")
    except Exception as exc:  # noqa: BLE001 - any import failure is the attempt's failure
        message = f"cannot load {request.callable}: {type(exc).__name__}: {exc}"
        _write_log(request.log_path, message + "\n")
        return ExecutionResult(outcome="failed", exit_code=None, error=message, output_tail=message)
    loop = asyncio.get_running_loop()
    try:
        if is_async:
            work: Awaitable[Any] = function(**request.params)
        else:
            work = _in_thread(loop, functools.partial(function, **request.params))
        if request.timeout:
            try:
                async with asyncio.timeout(request.timeout):
                    value = await work
            except TimeoutError as exc:
                if exc.__context__ is None or isinstance(exc.__context__, asyncio.CancelledError):
                    return ExecutionResult(outcome="timed_out", duration=time.monotonic() - started,
                                           error=f"timed out after {request.timeout:g}s")
                raise exc.__context__ from None
        else:
            value = await work
    except asyncio.CancelledError:
        if cancel.is_set():
            return ExecutionResult(outcome="canceled", duration=time.monotonic() - started, error="canceled")
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the callable's failure is the attempt's failure
        text = "".join(traceback.format_exception(exc))
        _write_log(request.log_path, text)
        if on_output is not None:
            on_output(text)
        code = (exc.code if isinstance(exc.code, int) else 1) if isinstance(exc, SystemExit) else 1
        return ExecutionResult(
            outcome="failed",
            exit_code=code,
            duration=time.monotonic() - started,
            error=f"{type(exc).__name__}: {exc}",
            output_tail=tail(text),
        )
    return _result(value, started)
