"""The OS sandbox a patch step's command runs in: bubblewrap, wrapped around the argv before it
reaches the subprocess adapter.

A patch step runs code nobody reviewed yet (an agent, a model's shell commands, a patch's own
tests), so it may write only its scratch copy and a private ``/tmp``. Everything else is the
host's filesystem read-only; the user's repository is covered by an empty tmpfs, and only its
object store is shown again, read-only, because the scratch copy borrows objects from it
(``objects/info/alternates``). ``$HOME`` and ``/run`` are covered too: credentials, and unix
sockets (docker, dbus), which a read-only bind would still let a step connect to. Of the home
and the repository, only what the step's program needs to run is shown again, read-only
(``toolchain``: PATH directories in the home, the program's and its interpreter's install
prefix, such as the project's ``.venv``). The network is a separate namespace (only ``lo``)
unless the step or its tool says ``network: true``.

The sandbox gets its own PID namespace and dies with the process that started it
(``--die-with-parent``), so killing the outer bwrap, which is what the subprocess adapter's
timeout and cancel do to the process group it started, ends every process of the step
however it escaped its group. ``--die-with-parent`` follows the spawning *thread*: the
adapter spawns from the event loop's thread, never from a short-lived one.

Root keeps every capability inside a user namespace unless told otherwise, and could then
remount ``/`` read-write: ``--cap-drop ALL`` is not optional.

The environment is scrubbed with ``--unsetenv`` for every variable of ours that is not
allowed (PATH, LANG, LC_*, TERM, UET_ATTEMPT; with the network also the proxy and certificate
variables) rather than ``--clearenv`` plus ``--setenv``: the step's and its tool's declared
variables (API keys among them) reach the sandbox through the process environment and never
appear on bwrap's command line, which any local user can read in ``/proc/PID/cmdline``.

``BWRAP`` (or the ``UET_BWRAP`` environment variable) names the program; the probe runs once
per program per process.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

BWRAP = "bwrap"
PROBE_SECONDS = 10.0
TMP_BYTES = 1 << 30
HOME_INSIDE = "/tmp/home"
ALLOWED_VARIABLES = frozenset({"PATH", "LANG", "LANGUAGE", "TERM", "UET_ATTEMPT"})
#: With the network, what reaching it takes on this machine: its proxy and its certificates.
NETWORK_VARIABLES = frozenset({
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
    "GIT_SSL_CAINFO",
})
INSTALL_HINT = "install bubblewrap (apt-get install bubblewrap, dnf install bubblewrap)"


@dataclass(frozen=True)
class Probe:
    """Whether bubblewrap can sandbox a step on this machine, and if not, why not."""

    available: bool
    program: str
    reason: str = ""
    disable_userns: bool = False


@dataclass(frozen=True)
class Confinement:
    """What one sandboxed command may see: ``writable`` directories (the scratch copy), the
    ``repository`` to hide and its ``objects`` to show read-only, extra files to show
    read-only (a fix round's feedback), and whether it has the network."""

    writable: tuple[Path, ...]
    repository: Path
    objects: Path | None
    readable: tuple[Path, ...] = ()
    network: bool = False


def program() -> str:
    """The bwrap to use: ``UET_BWRAP`` when set (tests point it at a missing file), else ``BWRAP``."""
    return os.environ.get("UET_BWRAP") or BWRAP


def probe() -> Probe:
    """Whether the sandbox works here: bwrap exists, and a namespace with every capability
    dropped can be made (it cannot inside some containers, or where AppArmor restricts user
    namespaces). Asked once per program per process."""
    return _probe(program())


@functools.cache
def _probe(name: str) -> Probe:
    found = shutil.which(name) if os.sep not in name else (name if os.access(name, os.X_OK) else None)
    if found is None:
        return Probe(False, name, f"bubblewrap ({name}) is not installed")
    failure = ""
    # --disable-userns (bubblewrap 0.8) keeps the step from making a user namespace of its own;
    # an older bwrap without it still sandboxes, one layer less.
    for extra in (["--unshare-user", "--disable-userns"], []):
        try:
            result = subprocess.run([found, "--unshare-all", *extra, "--die-with-parent", "--cap-drop", "ALL",
                                     "--ro-bind", "/", "/", "true"],
                                    capture_output=True, timeout=PROBE_SECONDS, check=False,
                                    stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Probe(False, found, f"bubblewrap ({found}) cannot run: {exc}")
        if result.returncode == 0:
            return Probe(True, found, disable_userns=bool(extra))
        words = result.stderr.decode("utf-8", errors="replace").strip().splitlines()
        failure = failure or (words[-1] if words else f"exit code {result.returncode}")
    return Probe(False, found, f"bubblewrap ({found}) cannot make a sandbox here: {failure}")


def toolchain(program: str, search_path: str, hidden: str, *, path_entries: bool = True) -> list[str]:
    """What of the covered folder ``hidden`` (the home, the repository) the step needs to run
    ``program``, shown read-only: the PATH directories inside it (``path_entries``), and the
    install prefix of the program and of its interpreter (followed through symlinks and a
    ``#!`` line), such as a pyenv version, a pipx venv or the project's ``.venv``. Never the
    folder itself, nor ``~/.local`` (it holds ``~/.local/share``): nothing else of it (dotfiles,
    credentials, the user's sources) is shown."""
    shown = [entry for entry in search_path.split(os.pathsep)
             if path_entries and entry and _within(entry, hidden) and entry != hidden and os.path.isdir(entry)]
    found = program if os.sep in program else shutil.which(program, path=search_path)
    seen: set[str] = set()
    while found and found not in seen and len(seen) < 4:
        seen.add(found)
        real = os.path.realpath(found)
        for path in (found, real):
            folder = os.path.dirname(path)
            # bin/ of an install prefix; node_modules/.bin/ of an npm install, whose launchers
            # need their sibling packages (a CLI's native binary is one); shims/ of a version
            # manager (pyenv, asdf), whose shims run its own libexec and versions
            prefix = os.path.dirname(folder) if os.path.basename(folder) in ("bin", ".bin", "shims") else folder
            if prefix in (hidden, os.path.join(hidden, ".local")):
                prefix = folder
            if _within(prefix, hidden) and prefix != hidden:
                shown.append(prefix)
        found = _interpreter(real, search_path)
    return sorted(set(shown), key=len)


def _interpreter(path: str, search_path: str) -> str | None:
    """The program a script's ``#!`` line runs (through ``env``), if it has one."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].decode("utf-8", errors="replace").split()
    if not words:
        return None
    if os.path.basename(words[0]) == "env" and len(words) > 1:
        name = next((w for w in words[1:] if not w.startswith("-")), None)
        return shutil.which(name, path=search_path) if name else None
    return words[0]


def allowed(name: str, declared: Iterable[str], network: bool = False) -> bool:
    return (name in ALLOWED_VARIABLES or name.startswith("LC_") or name in declared
            or (network and name in NETWORK_VARIABLES))


def sandbox_env(declared: Mapping[str, str]) -> dict[str, str]:
    """The variables to add to the request's environment: a home and a temp dir inside the
    sandbox (the real ones are hidden)."""
    return {**declared, "HOME": HOME_INSIDE, "TMPDIR": "/tmp"}


def wrap(argv: list[str], cwd: str, confinement: Confinement, env: Mapping[str, str],
         sandbox: Probe | None = None, outer: Mapping[str, str] | None = None) -> list[str]:
    """``argv`` as a bwrap command line that runs it in ``cwd`` under ``confinement``.

    ``env`` is what the request adds to the environment (kept); every other variable of
    ``outer`` (default: this process's environment) that is not allowed is unset inside.
    ``sandbox`` is the probed bwrap (default: this process's).
    """
    found = sandbox or probe()
    home = os.environ.get("HOME")
    repo = str(confinement.repository)
    line = [found.program, "--die-with-parent", "--new-session", "--unshare-all"]
    if confinement.network:
        line.append("--share-net")
    if found.disable_userns:
        line += ["--unshare-user", "--disable-userns"]
    line += ["--cap-drop", "ALL",
             "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
             "--size", str(TMP_BYTES), "--tmpfs", "/tmp", "--dir", HOME_INSIDE, "--tmpfs", "/run"]
    if confinement.network:
        # /etc/resolv.conf often links into /run (systemd-resolved), which is covered above.
        resolv = os.path.realpath("/etc/resolv.conf")
        if resolv.startswith("/run/") and os.path.exists(resolv):
            line += ["--ro-bind", os.path.dirname(resolv), os.path.dirname(resolv)]
    search = env.get("PATH") or (outer if outer is not None else os.environ).get("PATH", os.defpath)
    # The private /tmp covers the host's: a program installed under it (a checkout's .venv in
    # /tmp, as CI and throwaway clones have) is shown again read-only, like a home's.
    for path in toolchain(argv[0], search, "/tmp"):
        if not _within(path, repo) and not _within(path, HOME_INSIDE):
            line += ["--ro-bind", path, path]
    covered: list[str] = []
    # Mounts apply in order and later ones cover earlier ones: cover first, then show again
    # what must be seen, and make the covers read-only last (a read-only tmpfs cannot take the
    # mount points bwrap creates for the binds).
    shown: list[str] = []
    if home and home != "/" and not _within(home, repo) and not _within(home, "/tmp"):
        line += ["--tmpfs", home]
        covered.append(home)
        shown = [path for path in toolchain(argv[0], search, home) if not _within(path, repo)]
    for path in shown:
        line += ["--ro-bind", path, path]
    line += ["--tmpfs", repo]
    covered.append(repo)
    # The step's own program may live in the repository (its .venv): shown like a home's, but
    # never its git dir or UET's folder (where the scratch copies and logs are).
    private = (os.path.join(repo, ".git"), os.path.join(repo, ".uet"))
    for path in toolchain(argv[0], search, repo, path_entries=False):
        if not any(_within(path, folder) for folder in private):
            line += ["--ro-bind", path, path]
    if confinement.objects is not None:
        line += ["--ro-bind", str(confinement.objects), str(confinement.objects)]
    for path in confinement.readable:
        line += ["--ro-bind", str(path), str(path)]
    for path in confinement.writable:
        line += ["--bind", str(path), str(path)]
    for path in reversed(covered):
        line += ["--remount-ro", path]
    source = os.environ if outer is None else outer
    for name in sorted(source):
        if not allowed(name, env, confinement.network):
            line += ["--unsetenv", name]
    line += ["--chdir", cwd, "--", *argv]
    return line


def _within(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")
