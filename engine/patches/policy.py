"""Whether a patch step may run, and how contained: the project's ``sandbox:`` setting and the
refusal when no sandbox is available.

A patch step runs in bubblewrap whenever it works. Where it does not (bwrap missing, user
namespaces forbidden), a patch step refuses to run, with the reason and the fix, unless the
project's ``.uet/project.yaml`` says ``sandbox: off``; a step then runs in its scratch copy
without the OS sandbox, and every such attempt says so (an event and a line in its log).
``sandbox: off`` also turns the sandbox off where it would work (for a tool that cannot run in
it). Only the ``sandbox`` key of the manifest is read here: a hand-written manifest holding
nothing else is fine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.adapters.sandbox import INSTALL_HINT, Confinement, Probe, probe, sandbox_env, wrap
from engine.errors import ValidationFailed
from engine.patches.scratch import Scratch
from engine.yamlsafe import load
from schemas.execution import ExecutionRequest

MANIFEST = ".uet/project.yaml"
SandboxSetting = Literal["on", "off"]
_SPELLINGS: dict[object, SandboxSetting] = {"on": "on", "off": "off", True: "on", False: "off"}


def sandbox_setting(root: Path) -> SandboxSetting:
    """The project's ``sandbox:`` (``on`` when the manifest or the key is absent). YAML 1.1 reads
    an unquoted ``off`` as false, which means off too. ValidationFailed names file:line for
    anything else."""
    path = root / MANIFEST
    if not path.exists():
        return "on"
    located = load(path)
    if not isinstance(located.data, dict) or "sandbox" not in located.data:
        return "on"
    value = located.data["sandbox"]
    setting = _SPELLINGS.get(value) if isinstance(value, (str, bool)) else None
    if setting is None:
        raise ValidationFailed([located.problem(f"{value!r} is not a sandbox setting: use on or off", ("sandbox",))])
    return setting


def refusal(probe: Probe) -> str:
    """One line: why a patch step will not run, and the two ways to change that."""
    return (f"refused to run a patch step without a sandbox: {probe.reason}; {INSTALL_HINT}, "
            f"or set `sandbox: off` in {MANIFEST} to run patch steps uncontained")


def uncontained_note(probe: Probe, setting: SandboxSetting) -> str:
    """What an attempt without the sandbox says in its log and event."""
    why = "the project says `sandbox: off`" if setting == "off" else probe.reason
    return (f"patch step runs WITHOUT the OS sandbox ({why}): it can write anywhere this user can; "
            "only its scratch copy and the check of the repository afterwards protect the repository")


@dataclass(frozen=True)
class Decision:
    """How a patch step's (or gate's) command runs: in the sandbox, uncontained (``note`` says
    why, for its event and log), or not at all (``refused`` says why and what to do)."""

    contained: bool
    refused: str | None = None
    note: str | None = None


def decide(root: Path) -> Decision:
    """The project's setting and the probe, together. Blocks (the probe runs bwrap once per
    process, the manifest is read each time): call it from a thread."""
    try:
        setting = sandbox_setting(root)
    except ValidationFailed as exc:
        return Decision(False, refused=f"cannot read the sandbox setting: {exc}")
    found = probe()
    if setting == "off":
        return Decision(False, note=uncontained_note(found, setting))
    if not found.available:
        return Decision(False, refused=refusal(found))
    return Decision(True)


def confine(request: ExecutionRequest, scratch: Scratch, *, network: bool,
            readable: tuple[Path, ...] = (), home: Path | None = None) -> ExecutionRequest:
    """``request`` with its argv run inside the sandbox: writable only ``scratch``'s checkout
    (and a private /tmp, and the attempt's own ``home`` when it has one, which is then its
    HOME), the user's repository hidden but for its objects, ``readable`` shown read-only. The
    trusted git dir beside the checkout is never shown."""
    assert request.argv is not None
    env = sandbox_env(request.env)
    writable: tuple[Path, ...] = (scratch.work,)
    if home is not None:
        env["HOME"] = str(home)
        writable += (home,)
    confinement = Confinement(writable=writable, repository=scratch.repository, objects=scratch.objects,
                              readable=readable, network=network)
    argv = wrap(request.argv, request.cwd, confinement, env)
    return dataclasses.replace(request, argv=argv, env=env)


def append_log(path: str | None, line: str) -> None:
    """A line of UET's own in an attempt's log (the engine writes logs, never the step)."""
    if path is None:
        return
    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"uet: {line}\n")
