"""Process trees really end: helpers that leave the attempt's process group or session, daemons
and SIGTERM-ignorers are all gone when the adapter returns, whether the step timed out, was
canceled or exited normally leaving them behind; also when the leader is bubblewrap.

Each hostile pattern starts its escapee(s), which write their own pids to a file; the leader
waits until they did, says "ready", then exits or sleeps. The test then polls /proc for those
pids, and for any process still carrying the attempt's marker, with a generous deadline."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from engine.adapters.base import CancelToken
from engine.adapters.subprocess import run_subprocess
from engine.reaper import MARKER, become_subreaper, marker_of
from schemas.execution import ExecutionRequest, ExecutionResult
from tests.conftest import Project, pid_dead, wait_for

pytestmark = pytest.mark.slow

PY = sys.executable
ESCAPEE = "sh -c 'echo $$ >> \"$PIDS\"; exec sleep 300'"

#: name -> (shell lines that start the escapees, how many pids they write)
PATTERNS: dict[str, tuple[str, int]] = {
    "setsid": (f"setsid {ESCAPEE} &", 1),
    "double-fork": (f"( {ESCAPEE} & )", 1),
    "setpgid": (f"{PY} -c 'import os, time; os.setpgid(0, 0); "
                "open(os.environ[\"PIDS\"], \"a\").write(f\"{os.getpid()}\\n\"); time.sleep(300)' &", 1),
    "nohup-setsid": (f"nohup setsid {ESCAPEE} >/dev/null 2>&1 &", 1),
    # No marker: the environment is cleared, so PIDS is passed on the command line.
    "env-i": ("env -i PIDS=\"$PIDS\" sh -c 'echo $$ >> \"$PIDS\"; exec sleep 300' &", 1),
    "env-i-setsid": ("env -i PIDS=\"$PIDS\" setsid sh -c 'echo $$ >> \"$PIDS\"; exec sleep 300' &", 1),
    "daemon": (f"{PY} -c '"
               "import os, time\n"
               "if os.fork(): os._exit(0)\n"
               "os.setsid()\n"
               "if os.fork(): os._exit(0)\n"
               "fd = os.open(os.devnull, os.O_RDWR)\n"
               "[os.dup2(fd, n) for n in (0, 1, 2)]\n"
               "open(os.environ[\"PIDS\"], \"a\").write(f\"{os.getpid()}\\n\")\n"
               "time.sleep(300)' &", 1),
    "ignores-sigterm": (f"{PY} -c 'import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                        "open(os.environ[\"PIDS\"], \"a\").write(f\"{os.getpid()}\\n\"); time.sleep(300)' &", 1),
}


def _script(tmp_path: Path, pattern: str, then: str) -> Path:
    start, count = PATTERNS[pattern]
    script = tmp_path / "step.sh"
    script.write_text(textwrap.dedent("""\
        #!/bin/sh
        {start}
        while [ "$(wc -l < "$PIDS" 2>/dev/null || echo 0)" -lt {count} ]; do sleep 0.01; done
        echo ready
        {then}
        """).format(start=start, count=count, then=then))
    script.chmod(0o755)
    return script


def _request(tmp_path: Path, argv: list[str], run_id: str, **kw: object) -> ExecutionRequest:
    fields: dict[str, object] = {
        "run_id": run_id, "step_id": "hostile", "attempt": 1, "tool": "sh", "adapter": "subprocess",
        "argv": argv, "cwd": str(tmp_path), "env": {"PIDS": str(tmp_path / "pids")}, "grace": 0.5,
        "log_path": str(tmp_path / "step.log"),
    }
    fields.update(kw)
    return ExecutionRequest(**fields)  # type: ignore[arg-type]


def _run(request: ExecutionRequest, cancel_on_ready: bool) -> ExecutionResult:
    async def main() -> ExecutionResult:
        cancel = CancelToken()

        def seen(text: str) -> None:
            if cancel_on_ready and "ready" in text:
                cancel.set()

        return await run_subprocess(request, cancel, seen)

    return asyncio.run(main())


def _marked(run_id: str) -> list[int]:
    """Live processes whose environment carries a marker of ``run_id``."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and not pid_dead(int(name)):
            mark = marker_of(int(name))
            if mark is not None and mark.startswith(run_id + ":"):
                found.append(int(name))
    return found


def _survivors(pids: list[int], run_id: str, within: float = 10.0) -> list[int]:
    """Poll until the pids and the run's marked processes are gone; what is left at the deadline
    is killed (so it does not leak into other tests) and returned."""
    deadline = time.monotonic() + within
    while True:
        alive = sorted({pid for pid in pids if not pid_dead(pid)} | set(_marked(run_id)))
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return alive


MODES = {"timeout": ("sleep 300", False), "cancel": ("sleep 300", True), "exit": ("exit 0", False)}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_no_process_of_the_attempt_survives(tmp_path: Path, pattern: str, mode: str) -> None:
    then, cancel = MODES[mode]
    run_id = uuid.uuid4().hex[:12]
    timeout = 2.0 if mode == "timeout" else None
    request = _request(tmp_path, [str(_script(tmp_path, pattern, then))], run_id, timeout=timeout)
    result = _run(request, cancel_on_ready=cancel)
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert "ready" in result.output_tail, result
    expected = {"timeout": "timed_out", "cancel": "canceled", "exit": "succeeded"}[mode]
    assert result.outcome == expected, result
    assert _survivors(pids, run_id) == [], f"{pattern} under {mode} left survivors"


def test_the_marker_names_the_attempt_and_cannot_be_overridden(tmp_path: Path) -> None:
    run_id = uuid.uuid4().hex[:12]
    request = _request(tmp_path, ["sh", "-c", f"echo ${MARKER}"], run_id, attempt=3,
                       env={MARKER: "forged:step:1"})
    result = _run(request, cancel_on_ready=False)
    assert result.output_tail.strip() == f"{run_id}:hostile:3"


def test_the_engine_is_a_child_subreaper(tmp_path: Path) -> None:
    # An escapee whose parent exits is re-parented to this process, not to init.
    run_id = uuid.uuid4().hex[:12]
    assert become_subreaper()
    code = ("import os, subprocess, sys; p = subprocess.Popen(['sleep', '300'], start_new_session=True); "
            "print(p.pid, flush=True); os._exit(0)")
    reparented: list[int] = []

    async def main() -> ExecutionResult:
        from engine.reaper import stat

        received: list[str] = []

        def seen(text: str) -> None:
            # Output arrives in chunks as the pipe gives them: the pid may come in two.
            received.append(text)
            if not "".join(received).endswith("\n") or reparented:
                return
            pid = int("".join(received).split()[0])
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                proc = stat(pid)
                if proc is not None and proc.ppid == os.getpid():
                    reparented.append(pid)
                    return
                if proc is None or proc.dead:
                    return
                time.sleep(0.01)

        return await run_subprocess(_request(tmp_path, [PY, "-c", code], run_id), CancelToken(), seen)

    result = asyncio.run(main())
    assert result.outcome == "succeeded"
    assert reparented, "the orphan was not re-parented to the engine"
    assert _survivors(reparented, run_id) == []


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
@pytest.mark.parametrize("mode", list(MODES))
def test_a_bubblewrap_leader_ends_with_everything_inside(tmp_path: Path, mode: str) -> None:
    then, cancel = MODES[mode]
    run_id = uuid.uuid4().hex[:12]
    script = _script(tmp_path, "setsid", then)
    argv = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--ro-bind", "/", "/", "--dev", "/dev",
            "--proc", "/proc", "--bind", str(tmp_path), str(tmp_path), "--", str(script)]
    probe = tmp_path / "probe"
    if os.system(f"bwrap --unshare-pid --ro-bind / / --dev /dev --proc /proc true 2>{probe}") != 0:
        pytest.skip(f"bubblewrap cannot run here: {probe.read_text().strip()}")
    timeout = 2.0 if mode == "timeout" else None
    result = _run(_request(tmp_path, argv, run_id, timeout=timeout), cancel_on_ready=cancel)
    assert "ready" in result.output_tail, result
    # The pids the step wrote are the sandbox's own; the marker finds the processes outside.
    assert _survivors([], run_id) == [], f"bwrap leader under {mode} left survivors"


def test_a_live_cancel_through_uet_leaves_nothing(project: Project) -> None:
    """Every pattern at once in one step of a real ``uet run``, canceled from another process."""
    lines = "\n".join(start for start, _count in PATTERNS.values())
    total = sum(count for _start, count in PATTERNS.values())
    project.script("all.sh", f"""
        {lines}
        while [ "$(wc -l < "$PIDS" 2>/dev/null || echo 0)" -lt {total} ]; do sleep 0.01; done
        echo $$ >> "$PIDS"
        sleep 300
    """.replace("\n        ", "\n"))
    workstream = project.write("ws.yaml", f"""
        name: hostile
        steps:
          - id: all
            run: ./all.sh
            env: {{PIDS: {project.root / "pids"}}}
    """)
    engine, run_id = project.start(workstream)
    wait_for(lambda: len(project.read("pids").split()) == total + 1, what="every escapee to start")
    pids = [int(p) for p in project.read("pids").split()]
    cancel = project.uet("cancel", run_id, timeout=30)
    assert cancel.returncode == 0, cancel.stdout + cancel.stderr
    engine.communicate(timeout=30)
    assert _survivors(pids, run_id) == [], "a live cancel left survivors"


def test_a_sweep_ends_the_runs_processes_but_never_itself(tmp_path: Path) -> None:
    """``uet cancel`` run from inside a step of the run it cancels carries the run's marker: the
    sweep ends the run's other processes, not the one sweeping nor its ancestors."""
    run_id = uuid.uuid4().hex[:12]
    env = {**os.environ, MARKER: f"{run_id}:other:1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    sibling = subprocess.Popen(["sleep", "300"], env=env, start_new_session=True)
    code = ("import os, sys; from engine.reaper import end_run; "
            f"swept = end_run({run_id!r}); print(os.getpid() in swept.ended, os.getppid() in swept.ended, "
            f"{sibling.pid} in swept.ended)")
    # The sweeper's parent, a shell, carries the marker too: an ancestor, spared as well.
    sweeper = subprocess.run(["sh", "-c", f'{PY} -c "$CODE"; echo shell-alive'],
                             env={**env, MARKER: f"{run_id}:sweeper:1", "CODE": code}, capture_output=True,
                             text=True, timeout=60)
    try:
        assert sweeper.returncode == 0, sweeper.stderr
        assert sweeper.stdout.split() == ["False", "False", "True", "shell-alive"]
        assert sibling.wait(timeout=10) == -signal.SIGTERM
    finally:
        sibling.kill()
        sibling.wait()
