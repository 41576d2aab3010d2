"""The python adapter: results, costs, failures, timeouts and cancellation of in-process callables."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from engine.adapters.python import run_python
from schemas.execution import ExecutionRequest, ExecutionResult

MODULE = "tests.engine.pycallables"


def request(
    name: str, *, target: str | None = None, log: Path | None = None, **extra: Any
) -> ExecutionRequest:
    return ExecutionRequest(
        run_id="r-py",
        step_id="s1",
        attempt=1,
        tool="python",
        adapter="python",
        cwd=".",
        callable=target or f"{MODULE}:{name}",
        log_path=str(log) if log else None,
        **extra,
    )


def call(
    req: ExecutionRequest, cancel: asyncio.Event | None = None, on_output: Any = None
) -> ExecutionResult:
    async def go() -> ExecutionResult:
        return await run_python(req, cancel or asyncio.Event(), on_output)

    return asyncio.run(go())


@pytest.mark.parametrize("name", ["ok", "async_ok"])
def test_success(name: str) -> None:
    result = call(request(name))
    assert result.outcome == "succeeded"
    assert result.exit_code == 0
    assert result.error is None
    assert result.duration >= 0.0
    assert (result.tokens_in, result.tokens_out, result.model) == (None, None, None)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("with_tokens", (120, 45, "test-model")), ("async_with_tokens", (7, 3, "async-model"))],
)
def test_tokens_are_recorded(name: str, expected: tuple[int, int, str]) -> None:
    result = call(request(name))
    assert result.outcome == "succeeded" and result.exit_code == 0
    assert (result.tokens_in, result.tokens_out, result.model) == expected


@pytest.mark.parametrize("name", ["returns_false", "async_returns_false"])
def test_false_means_failed(name: str) -> None:
    result = call(request(name))
    assert result.outcome == "failed"
    assert result.exit_code == 1
    assert result.error == "the callable returned False"


@pytest.mark.parametrize(
    ("name", "message"), [("raises", "bad input 42"), ("async_raises", "bad async input")]
)
def test_an_exception_is_a_failure_with_its_traceback_logged(
    name: str, message: str, tmp_path: Path
) -> None:
    log = tmp_path / "logs" / "r-py" / "s1.1.log"
    chunks: list[str] = []
    result = call(request(name, log=log), on_output=chunks.append)
    assert result.outcome == "failed"
    assert result.exit_code == 1
    assert result.error == f"ValueError: {message}"
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text
    assert f"ValueError: {message}" in text
    assert "pycallables.py" in text
    assert f"ValueError: {message}" in result.output_tail
    assert "".join(chunks) == text


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("tests.engine.no_such_module_xyz:ok", "ModuleNotFoundError"),
        (f"{MODULE}:no_such_function", "AttributeError"),
        (f"{MODULE}:NOT_A_FUNCTION", "TypeError"),
    ],
)
def test_an_unloadable_target_fails_naming_it(target: str, kind: str, tmp_path: Path) -> None:
    log = tmp_path / "s1.1.log"
    result = call(request("", target=target, log=log))
    assert result.outcome == "failed"
    assert result.error is not None
    assert result.error.startswith(f"cannot load {target}: {kind}")
    assert result.output_tail == result.error
    assert target in log.read_text(encoding="utf-8")


def test_params_are_passed_through() -> None:
    sink: list[Any] = []
    result = call(request("takes_params", params={"a": 5, "b": "gpt", "sink": sink}))
    assert result.outcome == "succeeded"
    assert sink == [(5, "gpt")]
    assert (result.tokens_in, result.model) == (5, "gpt")
    result = call(request("async_takes_params", params={"a": 9}))
    assert (result.outcome, result.tokens_out, result.model) == ("succeeded", 9, "x")


def test_params_that_do_not_fit_the_signature_fail() -> None:
    result = call(request("takes_params", params={"nope": 1}))
    assert result.outcome == "failed"
    assert result.error is not None and result.error.startswith("TypeError:")


def test_async_timeout_is_prompt() -> None:
    started = time.monotonic()
    result = call(request("async_sleeps", params={"seconds": 30.0}, timeout=0.1))
    elapsed = time.monotonic() - started
    assert result.outcome == "timed_out"
    assert result.error == "timed out after 0.1s"
    assert 0.05 <= result.duration < 2.0
    assert elapsed < 2.0


def test_sync_timeout_reports_at_once_and_leaves_the_thread() -> None:
    release = threading.Event()

    async def go() -> tuple[ExecutionResult, float]:
        req = request("sync_sleeps", params={"seconds": 0.5, "release": release}, timeout=0.1)
        started = time.monotonic()
        try:
            result = await run_python(req, asyncio.Event())
            return result, time.monotonic() - started
        finally:
            release.set()  # let the abandoned worker thread finish now

    result, elapsed = asyncio.run(go())
    assert result.outcome == "timed_out"
    assert result.error == "timed out after 0.1s"
    assert elapsed < 0.45  # reported before the thread's 0.5 s were up


def test_cancel_before_start() -> None:
    cancel = asyncio.Event()
    cancel.set()
    result = call(request("async_sleeps"), cancel)
    assert result.outcome == "canceled"
    assert result.error == "canceled before start"


def test_cancel_before_start_does_not_even_load() -> None:
    cancel = asyncio.Event()
    cancel.set()
    assert (
        call(request("", target="tests.engine.no_such_module_xyz:ok"), cancel).outcome == "canceled"
    )


def test_cancel_mid_run_of_an_async_callable() -> None:
    async def go() -> tuple[ExecutionResult, float]:
        started = asyncio.Event()
        cancel = asyncio.Event()
        task = asyncio.create_task(
            run_python(
                request("async_sleeps", params={"seconds": 30.0, "started": started}), cancel
            )
        )
        await started.wait()
        t0 = time.monotonic()
        cancel.set()  # what the engine does for a python attempt: set the event, cancel the task
        task.cancel()
        result = await task
        return result, time.monotonic() - t0

    result, elapsed = asyncio.run(go())
    assert result.outcome == "canceled"
    assert result.error == "canceled"
    assert elapsed < 1.0


def test_cancel_mid_run_of_a_sync_callable() -> None:
    release = threading.Event()

    async def go() -> ExecutionResult:
        loop = asyncio.get_running_loop()
        started = asyncio.Event()
        cancel = asyncio.Event()

        def notify() -> None:  # called in the worker thread
            loop.call_soon_threadsafe(started.set)

        req = request("sync_sleeps", params={"seconds": 5.0, "notify": notify, "release": release})
        task = asyncio.create_task(run_python(req, cancel))
        try:
            await started.wait()
            cancel.set()
            task.cancel()
            return await task
        finally:
            release.set()

    result = asyncio.run(go())
    assert result.outcome == "canceled"


def test_a_task_cancel_without_the_event_propagates() -> None:
    """A cancel that is not the operator's (e.g. the engine shutting down) is not swallowed."""

    async def go() -> None:
        started = asyncio.Event()
        task = asyncio.create_task(
            run_python(
                request("async_sleeps", params={"seconds": 30.0, "started": started}),
                asyncio.Event(),
            )
        )
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())


def test_a_timeout_error_raised_by_the_callable_without_a_timeout_is_a_failure() -> None:
    result = call(request("raises_timeout_error"))
    assert result.outcome == "failed"
    assert result.error == "TimeoutError: upstream socket timed out"


def test_sys_exit_in_a_callable_is_a_failure() -> None:
    try:
        result = call(request("exits"))
    except SystemExit:
        pytest.fail("SystemExit escaped the python adapter")
    assert result.outcome == "failed"
    assert result.exit_code == 3
