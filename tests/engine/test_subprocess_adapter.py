"""The subprocess adapter against real processes: outcomes, output capture and, above all, that
nothing in the child's process group survives a timeout, a cancel or a normal exit."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from engine.adapters.base import CancelToken
from engine.adapters.subprocess import run_subprocess
from schemas.execution import ExecutionRequest, ExecutionResult

pytestmark = pytest.mark.slow

PY = sys.executable

# Ignores SIGTERM (inherited by its children: an ignored disposition survives fork and exec),
# starts two grandchildren that ignore it too, records all pids, then sleeps "forever".
TREE_SCRIPT = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)"
    kids = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(" ".join(str(p) for p in [os.getpid()] + [k.pid for k in kids]))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    print("started", flush=True)
    time.sleep(3600)
    """
)


def _request(tmp_path: Path, argv: list[str], **kw: object) -> ExecutionRequest:
    fields: dict[str, object] = {
        "run_id": "run1",
        "step_id": "step1",
        "attempt": 1,
        "tool": "probe",
        "adapter": "subprocess",
        "argv": argv,
        "cwd": str(tmp_path),
        "log_path": str(tmp_path / "logs" / "step1.log"),
    }
    fields.update(kw)
    return ExecutionRequest(**fields)  # type: ignore[arg-type]


def _run(
    request: ExecutionRequest, cancel_on: str | None = None
) -> tuple[ExecutionResult, list[str]]:
    """Run the adapter; collect output chunks; set the cancel event once ``cancel_on`` is seen."""
    chunks: list[str] = []

    async def main() -> ExecutionResult:
        cancel = asyncio.Event()

        def collect(text: str) -> None:
            chunks.append(text)
            if cancel_on is not None and cancel_on in "".join(chunks):
                cancel.set()

        return await run_subprocess(request, cancel, collect)

    return asyncio.run(main()), chunks


def _is_dead(pid: int) -> bool:
    """Gone, or a zombie: reparented stragglers may wait for an init that never reaps them."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _assert_all_dead(pids: list[int], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while True:
        alive = [pid for pid in pids if not _is_dead(pid)]
        if not alive:
            return
        if time.monotonic() > deadline:
            for pid in alive:  # don't leak them into the rest of the test session
                os.kill(pid, signal.SIGKILL)
            pytest.fail(f"processes still alive: {alive}")
        time.sleep(0.02)


def _tree_pids(pid_file: Path) -> list[int]:
    return [int(p) for p in pid_file.read_text().split()]


def test_success_captures_output_in_log_tail_and_callback(tmp_path: Path) -> None:
    code = "import sys; print('hello out'); print('hello err', file=sys.stderr)"
    result, chunks = _run(_request(tmp_path, [PY, "-c", code]))
    assert result.outcome == "succeeded"
    assert result.exit_code == 0
    assert result.error is None
    assert result.duration > 0
    log = (tmp_path / "logs" / "step1.log").read_text()
    assert "hello out" in log and "hello err" in log  # stderr is merged into the same stream
    assert "hello out" in result.output_tail and "hello err" in result.output_tail
    assert "".join(chunks) == log


def test_log_is_appended_and_tail_is_bounded(tmp_path: Path) -> None:
    request = _request(tmp_path, [PY, "-c", "print('x' * 10000)"])
    _run(request)
    result, _ = _run(request)
    assert len(result.output_tail) == 4000
    assert (tmp_path / "logs" / "step1.log").read_text().count("x") == 20000


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full, a file every write to fails with ENOSPC")
def test_a_full_disk_under_the_log_does_not_break_the_attempt(tmp_path: Path) -> None:
    """A log write failing with ENOSPC inside the pipe's reader used to escape the event loop
    ("Exception in callback"), leaving the pipe unread: the child's output still reaches the tail
    and the callback, and the attempt ends on its own terms."""
    code = "print('a' * 200000); print('done')"
    result, chunks = _run(_request(tmp_path, [PY, "-c", code], log_path="/dev/full"))
    assert result.outcome == "succeeded" and result.exit_code == 0
    assert "done" in result.output_tail
    assert "".join(chunks).endswith("done\n")


def test_no_log_path_writes_no_file(tmp_path: Path) -> None:
    result, chunks = _run(_request(tmp_path, [PY, "-c", "print('hi')"], log_path=None))
    assert result.outcome == "succeeded"
    assert "".join(chunks) == "hi\n"
    assert not (tmp_path / "logs").exists()


def test_non_zero_exit_fails_with_the_code(tmp_path: Path) -> None:
    result, _ = _run(_request(tmp_path, [PY, "-c", "raise SystemExit(3)"]))
    assert result.outcome == "failed"
    assert result.exit_code == 3
    assert result.error == "exit code 3"


def test_custom_success_codes(tmp_path: Path) -> None:
    request = _request(tmp_path, [PY, "-c", "raise SystemExit(3)"], success_codes=(0, 3))
    result, _ = _run(request)
    assert result.outcome == "succeeded"
    assert result.exit_code == 3


def test_missing_executable_fails_with_127_naming_it(tmp_path: Path) -> None:
    result, _ = _run(_request(tmp_path, ["uet-no-such-tool-xyz", "--flag"]))
    assert result.outcome == "failed"
    assert result.exit_code == 127
    assert result.error is not None and "uet-no-such-tool-xyz" in result.error


def test_non_executable_file_fails_with_126(tmp_path: Path) -> None:
    script = tmp_path / "not-exec.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    result, _ = _run(_request(tmp_path, [str(script)]))
    assert result.outcome == "failed"
    assert result.exit_code == 126
    assert result.error is not None and str(script) in result.error


def test_missing_cwd_fails(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result, _ = _run(_request(tmp_path, [PY, "-c", "pass"], cwd=str(missing)))
    assert result.outcome == "failed"
    assert result.exit_code is None
    assert result.error is not None and str(missing) in result.error


def test_env_overlay_and_cwd_are_visible_to_the_child(tmp_path: Path) -> None:
    code = "import os; print(os.environ['UET_PROBE'], 'PATH' in os.environ, os.getcwd())"
    result, _ = _run(_request(tmp_path, [PY, "-c", code], env={"UET_PROBE": "overlaid"}))
    assert result.outcome == "succeeded"
    assert result.output_tail.split() == ["overlaid", "True", os.path.realpath(tmp_path)]


def test_timeout_kills_a_sleeping_child_quickly(tmp_path: Path) -> None:
    result, _ = _run(_request(tmp_path, ["sleep", "30"], timeout=0.5, grace=0.5))
    assert result.outcome == "timed_out"
    assert result.exit_code == -signal.SIGTERM  # sleep honours SIGTERM: no need for SIGKILL
    assert result.error is not None and "timed out after 0.5s" in result.error
    assert result.duration < 2.0


def test_timeout_kills_a_tree_that_ignores_sigterm(tmp_path: Path) -> None:
    script = tmp_path / "tree.py"
    script.write_text(TREE_SCRIPT)
    pid_file = tmp_path / "pids"
    request = _request(tmp_path, [PY, str(script), str(pid_file)], timeout=1.0, grace=0.5)
    result, _ = _run(request)
    assert result.outcome == "timed_out"
    assert result.exit_code == -signal.SIGKILL  # SIGTERM was ignored; the grace ran out
    assert "started" in result.output_tail
    assert 1.4 <= result.duration < 3.0
    pids = _tree_pids(pid_file)
    assert len(pids) == 3
    _assert_all_dead(pids)


def test_cancel_kills_the_whole_group(tmp_path: Path) -> None:
    script = tmp_path / "tree.py"
    script.write_text(TREE_SCRIPT)
    pid_file = tmp_path / "pids"
    request = _request(tmp_path, [PY, str(script), str(pid_file)], grace=0.3)
    result, _ = _run(request, cancel_on="started")
    assert result.outcome == "canceled"
    assert result.exit_code == -signal.SIGKILL
    assert result.duration < 3.0
    _assert_all_dead(_tree_pids(pid_file))


def _group_alive(pgid: int) -> list[int]:
    """Members of process group ``pgid`` that are neither gone nor zombies."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return []
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                alive.append(int(entry.name))
    return alive


@pytest.mark.parametrize("token", [CancelToken, asyncio.Event])
def test_cancel_during_a_timeouts_grace_stops_the_group_within_a_second(
    tmp_path: Path, token: type[asyncio.Event]
) -> None:
    """The timeout's SIGTERM is ignored and its grace is 5 s; an operator's cancel in that grace
    must still end the attempt (the whole group) within a second, and the attempt is canceled."""
    pid_file = tmp_path / "pids"
    script = f"trap '' TERM INT; sleep 3600 & echo $$ $! > {pid_file}; echo started; wait"
    request = _request(tmp_path, ["sh", "-c", script], timeout=0.3, grace=5.0)
    canceled_at: list[float] = []

    async def main() -> ExecutionResult:
        cancel = token()

        def stop() -> None:
            canceled_at.append(time.monotonic())
            cancel.set()

        asyncio.get_running_loop().call_later(0.7, stop)  # the timeout fired 0.4 s before
        return await run_subprocess(request, cancel)

    result = asyncio.run(main())
    returned_after = time.monotonic() - canceled_at[0]
    leader, grandchild = _tree_pids(pid_file)
    try:
        assert returned_after < 1.5  # not the 4.6 s left of the timeout's grace
        assert result.outcome == "canceled", result.error
        assert result.exit_code == -signal.SIGKILL  # TERM was ignored: the cut-short grace ran out
        assert "started" in result.output_tail
        deadline = time.monotonic() + 1.0
        while _group_alive(leader) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _group_alive(leader) == []
    finally:
        _assert_all_dead([leader, grandchild])


def test_cancelling_the_task_kills_the_group_and_propagates(tmp_path: Path) -> None:
    script = tmp_path / "tree.py"
    script.write_text(TREE_SCRIPT)
    pid_file = tmp_path / "pids"
    request = _request(tmp_path, [PY, str(script), str(pid_file)], grace=5.0)

    async def main() -> None:
        started = asyncio.Event()

        def watch(text: str) -> None:
            if "started" in text:
                started.set()

        task = asyncio.create_task(run_subprocess(request, asyncio.Event(), watch))
        await asyncio.wait_for(started.wait(), 3.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    began = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - began < 4.0  # SIGKILL at once, not SIGTERM plus a 5 s grace
    _assert_all_dead(_tree_pids(pid_file))


def test_grandchild_holding_the_pipe_does_not_block_and_is_killed(tmp_path: Path) -> None:
    # The background sleep inherits stdout, so EOF never comes while it lives.
    result, _ = _run(_request(tmp_path, ["sh", "-c", "sleep 30 & echo $!"]))
    assert result.outcome == "succeeded"
    assert result.duration < 2.0
    _assert_all_dead([int(result.output_tail.split()[0])])


def test_binary_output_does_not_crash(tmp_path: Path) -> None:
    code = "import sys; sys.stdout.buffer.write(bytes(range(256)) + b' ok \\xc3')"
    result, _ = _run(_request(tmp_path, [PY, "-c", code]))
    assert result.outcome == "succeeded"
    assert " ok \ufffd" in result.output_tail
    assert (tmp_path / "logs" / "step1.log").read_bytes() == bytes(range(256)) + b" ok \xc3"


def test_multibyte_character_split_across_reads_survives(tmp_path: Path) -> None:
    code = (
        "import sys, time; out = sys.stdout.buffer; out.write(b'caf\\xc3'); out.flush(); "
        "time.sleep(0.1); out.write(b'\\xa9\\n'); out.flush()"
    )
    result, _ = _run(_request(tmp_path, [PY, "-c", code]))
    assert result.output_tail == "café\n"


def test_failing_callback_still_cleans_up_then_raises(tmp_path: Path) -> None:
    def boom(text: str) -> None:
        raise RuntimeError("callback bug")

    request = _request(tmp_path, [PY, "-c", "print('a'); print('b' * 100000)"])
    with pytest.raises(RuntimeError, match="callback bug"):
        asyncio.run(run_subprocess(request, asyncio.Event(), boom))
    # The child was never left blocked on a full pipe: its whole output reached the log.
    assert (tmp_path / "logs" / "step1.log").read_text().count("b") == 100000


def test_escaped_grandchild_holding_the_pipe_does_not_block(tmp_path: Path) -> None:
    # A grandchild in its own session is out of reach of killpg, but not of the reaper (it
    # carries the attempt's marker and holds its pipe); it must not keep the call waiting for
    # an EOF either.
    code = (
        "import subprocess; "
        "p = subprocess.Popen(['sleep', '30'], start_new_session=True); print(p.pid, flush=True)"
    )
    result, _ = _run(_request(tmp_path, [PY, "-c", code]))
    escaped = int(result.output_tail.split()[0])
    assert result.outcome == "succeeded"
    assert result.duration < 2.0
    _assert_all_dead([escaped])


def test_cancel_set_before_start_spawns_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    request = _request(tmp_path, ["touch", str(marker)])

    async def main() -> ExecutionResult:
        cancel = asyncio.Event()
        cancel.set()
        return await run_subprocess(request, cancel)

    result = asyncio.run(main())
    assert result.outcome == "canceled"
    assert not marker.exists()


def test_children_in_our_own_directory_start_through_posix_spawn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Steps that run in the engine's working directory take the posix_spawn path: the same
    results, PATH searched in the child's environment, a clear error for a missing program."""
    monkeypatch.chdir(tmp_path)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "hello-tool"
    tool.write_text("#!/bin/sh\necho hello from $PWD; exit 4\n")
    tool.chmod(0o755)
    log = tmp_path / "out.log"
    path = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
    request = ExecutionRequest(run_id="r", step_id="s", attempt=1, tool="hello-tool", adapter="subprocess",
                               cwd=str(tmp_path), argv=["hello-tool"], env={"PATH": path}, log_path=str(log))
    result = asyncio.run(run_subprocess(request, asyncio.Event()))
    assert result.outcome == "failed" and result.exit_code == 4
    assert log.read_text().strip() == f"hello from {tmp_path}"
    missing = ExecutionRequest(run_id="r", step_id="s", attempt=2, tool="x", adapter="subprocess",
                               cwd=str(tmp_path), argv=["no-such-program-here"], log_path=str(log))
    result = asyncio.run(run_subprocess(missing, asyncio.Event()))
    assert result.outcome == "failed" and result.exit_code == 127
    assert "no-such-program-here" in (result.error or "")


def test_children_see_the_environment_as_it_is_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter keeps a copy of the environment for speed; a change must still reach the
    next child (a long-lived process such as the dashboard may change PATH)."""
    from engine.adapters.subprocess import _base_env

    monkeypatch.setenv("UET_PROBE", "one")
    assert _base_env()["UET_PROBE"] == "one"
    monkeypatch.setenv("UET_PROBE", "two")
    assert _base_env()["UET_PROBE"] == "two"
    monkeypatch.delenv("UET_PROBE")
    assert "UET_PROBE" not in _base_env()


def test_a_tool_installed_after_a_miss_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-lived engine (the dashboard) must find a tool installed after an attempt that
    found it missing: lookups are kept only when they succeed."""
    monkeypatch.chdir(tmp_path)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    path = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"

    def attempt(number: int) -> ExecutionResult:
        request = ExecutionRequest(run_id="r", step_id="s", attempt=number, tool="late-tool", adapter="subprocess",
                                   cwd=str(tmp_path), argv=["late-tool"], env={"PATH": path},
                                   log_path=str(tmp_path / f"{number}.log"))
        return asyncio.run(run_subprocess(request, asyncio.Event()))

    assert attempt(1).exit_code == 127
    tool = bindir / "late-tool"
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o755)
    second = attempt(2)
    assert second.outcome == "succeeded", second.error
