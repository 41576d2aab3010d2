"""Ending every process an attempt started, whatever its session or process group.

Killing an attempt's process group misses helpers that left it: ``setsid``, ``setpgid``, a
daemon's fork-setsid-fork, ``nohup setsid``. Three things find them:

* **The subreaper.** The engine marks itself a child subreaper (``PR_SET_CHILD_SUBREAPER``), so
  an orphan is re-parented to the engine instead of init: whatever escaped an attempt and
  outlived its parent is a child of the engine, listed in ``/proc/<engine>/task/*/children``
  (one read per engine thread, no /proc scan). While an attempt's leader lives, its
  descendants are found the same way, walking those files down from the leader.
* **Attribution.** A child of the engine that is not an attempt's leader belongs to attempt A
  when its session or group id is A's leader (every leader starts a new session, and only
  ``setsid`` leaves it), when its environment carries A's marker, or when it holds A's output
  pipe open (``env -i setsid`` leaves neither session nor marker, but keeps stdout). The
  engine's other children (git, a detached engine) are in the engine's session or match none
  of these, and are never touched.
* **The marker.** Every subprocess attempt's environment carries
  ``UET_ATTEMPT=<run>:<step>:<attempt>``, so a later process finds what a dead engine left by
  reading ``/proc/*/environ`` (:func:`end_run`: resume before it starts anything, and
  ``uet cancel`` with no engine). A process that cleared its environment is found then only
  through its recorded group or session, or as a descendant of one that was found.

Signals go through pidfds opened after checking the process's start time, so a pid reused in
the meantime is never signaled. Orphans are reaped by pid: ``waitpid(-1)`` would steal the
exit statuses that Popen and the adapter wait for.

A cgroup v2 per attempt would be exact as well, but it needs a writable tree (for an ordinary
user, a delegated one), and moving a child into it after the spawn races with the child's first
fork (Python has no ``CLONE_INTO_CGROUP``); the subreaper needs neither, and costs one read per
engine thread when an attempt ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import select
import signal
import sys
import time
from collections.abc import Iterable
from typing import NamedTuple

MARKER = "UET_ATTEMPT"
_MARKER_BYTES = MARKER.encode() + b"="
PR_SET_CHILD_SUBREAPER = 36
#: How much of a process's environment is read looking for the marker.
ENVIRON_LIMIT = 1 << 20
#: How many open files of a stranger are looked at for an attempt's pipe.
FD_LIMIT = 256
#: Kill-and-look-again rounds: each catches what the previous round's victims forked meanwhile.
ROUNDS = 8
#: How long killed processes get to die (SIGKILL takes microseconds, unless in the kernel).
KILL_WAIT_SECONDS = 1.0
#: How far a recorded leader's start time may be from its attempt's (clock-tick rounding).
START_SLACK_SECONDS = 5.0
_TREE_LIMIT = 100_000


def attempt_marker(run_id: str, step_id: str, number: int) -> str:
    """The value of ``UET_ATTEMPT`` for one attempt (step ids hold no ':')."""
    return f"{run_id}:{step_id}:{number}"


_subreaper: bool | None = None


def become_subreaper() -> bool:
    """Make this process the child subreaper of everything it starts (Linux; elsewhere a
    no-op returning False). Idempotent; the setting is not inherited by children."""
    global _subreaper
    if _subreaper is None:
        _subreaper = False
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):
                libc = ctypes.CDLL(None, use_errno=True)
                _subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    return _subreaper


class Proc(NamedTuple):
    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    start: int  # clock ticks since boot

    @property
    def dead(self) -> bool:
        return self.state in ("Z", "X")


def stat(pid: int) -> Proc | None:
    """``/proc/<pid>/stat``, or None when the process is gone or unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
        fields = data.rsplit(b")", 1)[1].split()
        return Proc(pid, int(fields[1]), int(fields[2]), int(fields[3]), fields[0].decode("ascii", "replace"),
                    int(fields[19]))
    except (OSError, IndexError, ValueError):
        return None


def children(pid: int) -> list[int]:
    """The direct children of every thread of ``pid`` (a child is listed under the thread that
    forked it)."""
    found: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
                found.extend(int(word) for word in handle.read().split())
        except (OSError, ValueError):
            continue
    return found


_own: tuple[int, int] | None = None  # (pid, fd) of this process's main-thread children file


def adopted() -> list[int]:
    """Children of this process's main thread, which is where the kernel re-parents orphans
    (the first live thread of the subreaper's group, its leader unless that exited), besides
    the children that thread started. Read through a descriptor kept open (a few
    microseconds, against about 30 for opening the file each time), as it is read whenever
    an attempt ends. Without the file (a kernel built without it), /proc is scanned."""
    global _own
    pid = os.getpid()
    if _own is None or _own[0] != pid:
        try:
            _own = (pid, os.open(f"/proc/{pid}/task/{pid}/children", os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            return [proc.pid for proc in _all_processes() if proc.ppid == pid]
    fd = _own[1]
    data = os.pread(fd, 1 << 16, 0)
    while len(data) % (1 << 16) == 0 and data:
        more = os.pread(fd, 1 << 16, len(data))
        if not more:
            break
        data += more
    return [int(word) for word in data.split()]


def descendants(roots: Iterable[int]) -> list[int]:
    """Every live descendant of ``roots`` (not the roots), whatever its session or group."""
    seen: set[int] = set(roots)
    stack = list(seen)
    found: list[int] = []
    while stack and len(found) < _TREE_LIMIT:
        for child in children(stack.pop()):
            if child not in seen:
                seen.add(child)
                found.append(child)
                stack.append(child)
    return found


def marker_of(pid: int) -> str | None:
    """The ``UET_ATTEMPT`` value a process started with, if any (bounded read)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            data = handle.read(ENVIRON_LIMIT)
    except OSError:
        return None
    if data.startswith(_MARKER_BYTES):
        at = 0
    else:
        at = data.find(b"\0" + _MARKER_BYTES)
        if at < 0:
            return None
        at += 1
    value = data[at + len(_MARKER_BYTES):].split(b"\0", 1)[0]
    return value.decode("utf-8", "replace")


def holds(pid: int, link: str) -> bool:
    """Does ``pid`` have ``link`` (such as ``pipe:[1234]``) among its first open files?"""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds[:FD_LIMIT]:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == link:
                return True
    return False


def _exited(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class Targets:
    """Processes to end, each held by a pidfd opened while its start time still matched, so a
    pid reused after it died is never signaled."""

    def __init__(self) -> None:
        self.fds: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.fds)

    def add(self, proc: Proc) -> bool:
        if proc.pid in self.fds or proc.dead or proc.pid == os.getpid():
            return False
        try:
            fd = os.pidfd_open(proc.pid)
        except (OSError, AttributeError):  # gone already, or no pidfds (not Linux)
            return False
        again = stat(proc.pid)
        if again is None or again.start != proc.start:
            os.close(fd)
            return False
        self.fds[proc.pid] = fd
        return True

    def signal(self, sig: signal.Signals) -> None:
        for fd in self.fds.values():
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(fd, sig)

    def alive(self) -> list[int]:
        return [pid for pid, fd in self.fds.items() if not _exited(fd)]

    def wait(self, timeout: float) -> bool:
        """Block until every target exited or ``timeout`` passed; True when all are gone."""
        deadline = time.monotonic() + timeout
        pending = {fd for fd in self.fds.values()}
        poller = select.poll()
        for fd in pending:
            poller.register(fd, select.POLLIN)
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for fd, _event in poller.poll(left * 1000):
                poller.unregister(fd)
                pending.discard(fd)
        return True

    async def wait_async(self, timeout: float) -> None:
        """Wait on the event loop until every target exited or ``timeout`` passed."""
        pending = {fd for fd in self.fds.values() if not _exited(fd)}
        if not pending:
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def gone(fd: int) -> None:
            loop.remove_reader(fd)
            pending.discard(fd)
            if not pending and not done.done():
                done.set_result(None)

        for fd in pending:
            loop.add_reader(fd, gone, fd)
        try:
            await asyncio.wait({done}, timeout=timeout)
        finally:
            for fd in list(pending):
                loop.remove_reader(fd)

    def reap(self) -> None:
        """Collect the exit status of those that were (or became) this process's children;
        others are their own parents' business. Through the pidfd, so a pid reused by a new
        child of ours (whose status Popen or the adapter waits for) is never reaped instead."""
        for fd in self.fds.values():
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitid(os.P_PIDFD, fd, os.WEXITED | os.WNOHANG)

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


# -- the attempts of this process ----------------------------------------------------------

#: Leaders of the attempts this process is running, with their markers.
_live: dict[int, str] = {}
#: Runs this process started attempts for, the newest last: a marker of one of them that belongs
#: to no live attempt is a leftover of an attempt already over. Bounded: a server that runs for
#: months starts attempts for hundreds of thousands of runs, and a leftover is claimed by the
#: sweep of the next attempt that ends, long before RECENT_RUNS more runs have come.
_runs: dict[str, None] = {}
RECENT_RUNS = 1_024


class AttemptTree:
    """The processes of one running attempt: its leader's group and session, its descendants,
    and the orphans it left to the engine."""

    def __init__(self, leader: int, marker: str, pipe_fd: int | None) -> None:
        self.leader = leader
        self.marker = marker
        self._pipe_fd = pipe_fd
        self._pipe: str | None = None
        self.targets = Targets()
        _live[leader] = marker
        run = marker.split(":", 1)[0]
        _runs.pop(run, None)
        _runs[run] = None
        if len(_runs) > RECENT_RUNS:
            del _runs[next(iter(_runs))]

    def close(self) -> None:
        _live.pop(self.leader, None)
        self.targets.close()

    def _pipe_link(self) -> str | None:
        if self._pipe is None and self._pipe_fd is not None:
            with contextlib.suppress(OSError):
                self._pipe = f"pipe:[{os.fstat(self._pipe_fd).st_ino}]"
        return self._pipe

    def _mine(self, proc: Proc, my_sid: int) -> bool:
        leader = self.leader
        if proc.sid == leader or proc.pgid == leader:
            return True
        if proc.sid == my_sid or proc.dead:
            return False
        mark = marker_of(proc.pid)
        if mark is not None:
            if mark == self.marker:
                return True
            # Another attempt's, or left behind by an attempt of ours that is over.
            return mark.split(":", 1)[0] in _runs and mark not in _live.values()
        link = self._pipe_link()
        return link is not None and holds(proc.pid, link)

    def orphans(self) -> list[Proc]:
        """Children of this process that escaped this attempt (not anyone's leader)."""
        found: list[Proc] = []
        my_sid = -1
        for pid in adopted():
            if pid in _live:
                continue
            proc = stat(pid)
            if proc is None:
                continue
            if my_sid == -1:
                my_sid = os.getsid(0)
            if self._mine(proc, my_sid):
                found.append(proc)
        return found

    def collect(self, with_leader_tree: bool) -> int:
        """Add what belongs to the attempt now to the targets; returns how many were new.
        Zombie orphans are reaped on the way."""
        roots: list[int] = []
        added = 0
        for proc in self.orphans():
            if proc.dead:
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(proc.pid, os.WNOHANG)
                continue
            roots.append(proc.pid)
            added += self.targets.add(proc)
        if with_leader_tree:
            roots.append(self.leader)
        for pid in descendants(roots):
            proc = stat(pid)
            if proc is not None:
                added += self.targets.add(proc)
        return added

    def terminate(self) -> None:
        """SIGTERM to the group and to every process of the attempt found now."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.leader, signal.SIGTERM)
        self.collect(with_leader_tree=True)
        self.targets.signal(signal.SIGTERM)

    async def end(self) -> None:
        """The leader has exited: SIGKILL everything of the attempt still alive, round after
        round until a look finds nothing new, and reap what became our children."""
        targets = self.targets
        if targets.alive():
            targets.signal(signal.SIGKILL)
            await targets.wait_async(KILL_WAIT_SECONDS)
            targets.reap()
        for _ in range(ROUNDS):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.leader, signal.SIGKILL)
            if not self.collect(with_leader_tree=False):
                return
            targets.signal(signal.SIGKILL)
            await targets.wait_async(KILL_WAIT_SECONDS)
            targets.reap()

    def end_now(self) -> None:
        """:meth:`end` without the event loop (the attempt's own task is being cancelled)."""
        for _ in range(ROUNDS):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.leader, signal.SIGKILL)
            added = self.collect(with_leader_tree=True)
            self.targets.signal(signal.SIGKILL)
            self.targets.wait(KILL_WAIT_SECONDS)
            self.targets.reap()
            if not added:
                return


# -- what a dead engine left ---------------------------------------------------------------


def _all_processes() -> list[Proc]:
    found: list[Proc] = []
    try:
        names = os.listdir("/proc")
    except OSError:  # no /proc (not Linux): only the process group is reached
        return found
    for name in names:
        if name.isdigit():
            proc = stat(int(name))
            if proc is not None and not proc.dead:
                found.append(proc)
    return found


def _ancestors() -> set[int]:
    """This process and its ancestors: never ended by a sweep (``uet cancel`` run from inside
    a step of the run it cancels carries the run's marker)."""
    mine = {os.getpid()}
    pid = os.getppid()
    while pid > 1 and pid not in mine:
        mine.add(pid)
        proc = stat(pid)
        pid = proc.ppid if proc is not None else 0
    return mine


def _boot_time() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            return next(float(line.split()[1]) for line in handle if line.startswith("btime "))
    except (OSError, StopIteration, ValueError, IndexError):
        return None


class Swept(NamedTuple):
    ended: list[int]  # pids signaled
    markers: set[str]  # attempt markers found on them


def _find_run(run_id: str, leaders: Iterable[tuple[int, float]]) -> tuple[list[Proc], set[str]]:
    procs = _all_processes()
    spared = _ancestors()
    by_pid = {proc.pid: proc for proc in procs}
    boot, tick = _boot_time(), os.sysconf("SC_CLK_TCK")
    groups: set[int] = set()
    for pid, started_at in leaders:
        proc = by_pid.get(pid)
        # A live leader must have started with its attempt (else the pid was reused). A dead
        # one's group and session ids are not handed out while members remain.
        if proc is not None and boot is not None and abs(boot + proc.start / tick - started_at) > START_SLACK_SECONDS:
            continue
        groups.add(pid)
    prefix = f"{run_id}:"
    found: dict[int, Proc] = {}
    markers: set[str] = set()
    for proc in procs:
        if proc.pid in spared:
            continue
        if proc.pgid in groups or proc.sid in groups:
            found[proc.pid] = proc
        mark = marker_of(proc.pid)
        if mark is not None and mark.startswith(prefix):
            found[proc.pid] = proc
            markers.add(mark)
    kids: dict[int, list[Proc]] = {}
    for proc in procs:
        kids.setdefault(proc.ppid, []).append(proc)
    stack = list(found)
    while stack:
        for child in kids.get(stack.pop(), ()):
            if child.pid not in found and child.pid not in spared:
                found[child.pid] = child
                stack.append(child.pid)
    return list(found.values()), markers


def end_run(run_id: str, leaders: Iterable[tuple[int, float]] = (), grace: float = 0.5) -> Swept:
    """End every process of ``run_id`` on this host, whoever its parent: those carrying the
    run's marker, those in the group or session of a recorded leader ``(pid, started_at)``,
    and their descendants. All of them get SIGTERM at once, then those still alive after
    ``grace`` get SIGKILL; a second look catches what they forked meanwhile. Bounded by about
    ``grace`` plus a second; a process stuck in the kernel is left after that."""
    leaders = list(leaders)
    targets = Targets()
    markers: set[str] = set()
    try:
        procs, found = _find_run(run_id, leaders)
        markers |= found
        for proc in procs:
            targets.add(proc)
        if not targets:
            return Swept([], markers)
        targets.signal(signal.SIGTERM)
        if not targets.wait(grace):
            targets.signal(signal.SIGKILL)
        procs, found = _find_run(run_id, leaders)
        markers |= found
        for proc in procs:
            targets.add(proc)
        targets.signal(signal.SIGKILL)
        targets.wait(KILL_WAIT_SECONDS / 2)
        targets.reap()
        return Swept(sorted(targets.fds), markers)
    finally:
        targets.close()
