"""A failing store stops the engine truthfully, through the real ``uet``: the database deleted
mid-run, a full disk (a tiny tmpfs) and a read-only store (a read-only bind mount). Each time
the engine stops its children, says in one line what happened and where, exits 3, never says
the run succeeded, and once the fault is gone ``uet resume`` finishes the run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Project, pid_dead, wait_for

pytestmark = pytest.mark.slow

WAITS_FOR_FLAG = "while [ ! -e flag ]; do sleep 0.05; done"


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def mounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Path]]:
    """Mount points made by a test, unmounted after it whatever happened. Skipped where this
    process cannot mount (not root, or a container without the capability)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs or a read-only bind needs root")
    probe = tmp_path_factory.mktemp("mount-probe")
    tried = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True,
                           text=True, check=False)
    if tried.returncode != 0:
        pytest.skip(f"cannot mount here: {tried.stderr.strip()}")
    subprocess.run(["umount", str(probe)], check=True)
    made: list[Path] = []
    yield made
    for point in reversed(made):
        subprocess.run(["umount", "--lazy", str(point)], check=False, capture_output=True)


def _assert_stopped_truthfully(result: tuple[int, str, str], message: str, steps_stopped: str = "") -> None:
    """One line, exit 3, no 'succeeded' for the run. The line names the running steps it
    stopped; ``steps_stopped`` is a pattern for that part when the timing decides it."""
    code, out, err = result
    assert code == 3, out + err
    before, marker, after = message.partition("{stopped}")
    pattern = re.escape(f"uet: {before}")
    if marker:
        pattern += steps_stopped + re.escape(after)
    assert re.fullmatch(pattern + r"\n", err), err
    assert "succeeded" not in "".join(line for line in out.splitlines(keepends=True) if "run " in line), out
    assert "Traceback" not in out + err and "Exception in callback" not in out + err


def _finish(engine: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = engine.communicate(timeout=60)
    return engine.returncode, out, err


def test_deleting_the_store_mid_run_stops_the_children_and_says_so(project: Project) -> None:
    """`rm -rf .uet` while a step runs used to end '✔ succeeded', exit 0, with nothing kept."""
    project.write("ws.yaml", """
        name: doomed
        max_parallel: 1
        steps:
          - id: first
            run: ['true']
          - id: long
            needs: [first]
            run: [sh, -c, 'echo $$ > long.pid; exec sleep 300']
          - id: last
            needs: [long]
            run: ['true']
    """)
    engine, run_id = project.start(project.root / "ws.yaml")
    pid = 0
    try:
        pid = int(wait_for(lambda: project.read("long.pid"), what="the long step to start"))
        shutil.rmtree(project.root / ".uet")
        result = _finish(engine)
        wait_for(lambda: pid_dead(pid), what="the step's process to end")
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.communicate()
        if pid and not pid_dead(pid):
            os.kill(pid, 9)
    _assert_stopped_truthfully(result, f"the store {project.db} was deleted while run {run_id} ran; its 1 running "
                                       "step(s) were stopped and nothing more was recorded")


def test_a_store_named_relative_to_where_uet_started_is_not_mistaken_for_deleted(project: Project) -> None:
    """The engine works in the project's root; a relative UET_DB names the file from where uet
    started. The check that the store is still there must look where the connection opened."""
    (project.root / "sub").mkdir()
    project.write("ws.yaml", "name: slowish\nsteps:\n  - id: a\n    run: [sleep, '1.5']\n")
    env = {**project.env(), "UET_DB": "../elsewhere.db"}
    ran = subprocess.run(project.argv("run", "--plain", "../ws.yaml"), cwd=project.root / "sub", env=env,
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (project.root / "elsewhere.db").exists()


def test_a_run_whose_end_went_into_a_deleted_store_is_not_told_as_ended(project: Project) -> None:
    """The last step deletes the store: the end is committed into the deleted file, and a live
    display that heard of the end before the store had it (in the file it opened) said
    'succeeded'. The end is told only once the store has it."""
    project.write("ws.yaml", """
        name: last-act
        steps:
          - id: wipe
            run: [rm, -rf, .uet]
    """)
    ran = project.uet("run", "--plain", "ws.yaml")
    run_id = re.search(r"while run (\w+) ran", ran.stderr)
    assert run_id, ran.stderr
    _assert_stopped_truthfully((ran.returncode, ran.stdout, ran.stderr),
                               f"the store {project.db} was deleted while run {run_id[1]} ran; nothing more was recorded")


def test_a_full_disk_stops_the_engine_and_resume_works_once_there_is_room(project: Project,
                                                                          mounts: list[Path]) -> None:
    """The store on a 1 MiB tmpfs that a step fills up: the commit fails with SQLITE_FULL. The
    old writer rolled back a transaction SQLite had already ended, and 'cannot rollback - no
    transaction is active' hid the cause, after the display had said the run succeeded. The
    step's output then fails to reach its log, in a loop callback ('Exception in callback',
    a traceback, before). A resume while the disk is still full says so in one line."""
    _mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(project.root / ".uet"))
    mounts.append(project.root / ".uet")
    project.write("ws.yaml", """
        name: filling
        max_parallel: 1
        steps:
          - id: one
            run: ['true']
          - id: fill
            needs: [one]
            run: [sh, -c, '[ -e filled ] || { touch filled; dd if=/dev/zero of=.uet/filler bs=4k 2>/dev/null; }; echo done']
            retry: {max_attempts: 3}
          - id: after
            needs: [fill]
            run: ['true']
    """)
    engine, run_id = project.start(project.root / "ws.yaml")
    # The commit that fails may come before or after the last step started (a lease renewal
    # commits at once): the line says which.
    _assert_stopped_truthfully(_finish(engine), f"the disk holding the store {project.db} is full (database or "
                                                f"disk is full) while run {run_id} ran; {{stopped}}nothing more was "
                                                "recorded", r"(its 1 running step\(s\) were stopped and )?")
    still_full = project.uet("resume", "--plain", run_id)
    assert (still_full.returncode, still_full.stderr) == (
        3, f"uet: the disk holding the store {project.db} is full (database or disk is full)\n")
    (project.root / ".uet" / "filler").unlink()
    resumed = project.uet("resume", "--plain", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    status = project.status(run_id)
    assert status["state"] == "succeeded"
    assert [s["state"] for s in status["steps"]] == ["succeeded"] * 3


def test_a_read_only_store_is_refused_in_one_line_and_resume_works_once_writable(project: Project,
                                                                               mounts: list[Path]) -> None:
    """An engine killed mid-run leaves its WAL behind; `uet resume` with the store's folder
    mounted read-only printed 'internal error: OperationalError: attempt to write a readonly
    database'. A mount cannot turn read-only under an engine holding the files open for
    writing (the kernel refuses: busy), so this is the read-only store an engine meets."""
    project.write("ws.yaml", f"""
        name: interrupted
        steps:
          - id: wait
            run: [sh, -c, '[ -e flag ] && exit 0; echo $$ > wait.pid; {WAITS_FOR_FLAG}']
            retry: {{max_attempts: 3}}
    """)
    engine, run_id = project.start(project.root / "ws.yaml")
    try:
        pid = int(wait_for(lambda: project.read("wait.pid"), what="the step to start"))
    finally:
        engine.kill()
        engine.communicate()
    os.kill(pid, 9)
    store = project.root / ".uet"
    _mount("--bind", "-o", "ro", str(store), str(store))
    mounts.append(store)
    refused = project.uet("resume", "--plain", run_id)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert refused.stderr == f"uet: the store {project.db} is read-only (attempt to write a readonly database)\n"
    (project.root / "flag").touch()
    subprocess.run(["umount", str(store)], check=True)
    mounts.remove(store)
    resumed = project.uet("resume", "--plain", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert project.status(run_id)["state"] == "succeeded"
