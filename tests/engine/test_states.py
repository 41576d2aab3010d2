"""Every state machine, every ``(from, to)`` pair: allowed moves return the target, the rest raise.

The expected answers are written out here by hand, not read from ``engine.states``: a test that
takes its answer from the table it checks cannot fail when someone widens that table.
"""

from __future__ import annotations

from enum import StrEnum

import pytest

from engine.errors import InvalidTransition
from engine.states import MACHINES, can_transition, transition
from schemas.states import RunState, StepState

# The allowed moves of every machine, as the architecture describes them: "machine:from": "to ...".
# A move missing here must raise; a move added to engine.states must be added here on purpose.
EXPECTED_ALLOWED: dict[str, str] = {
    "run:pending": "running canceled quarantined",
    "run:running": "succeeded failed canceled paused quarantined",
    "run:paused": "running canceled quarantined",
    "run:failed": "running",
    "run:canceled": "running",
    "run:succeeded": "running",
    "run:quarantined": "running canceled",
    "step:pending": "ready waiting skipped canceled",
    "step:waiting": "ready skipped canceled",
    "step:ready": "running skipped canceled",
    "step:running": "succeeded failed retrying canceled",
    "step:retrying": "running failed canceled",
    "step:succeeded": "pending",
    "step:failed": "pending",
    "step:skipped": "pending",
    "step:canceled": "pending",
    "attempt:running": "succeeded failed timed_out crashed canceled",
    "attempt:succeeded": "",
    "attempt:failed": "",
    "attempt:timed_out": "",
    "attempt:crashed": "",
    "attempt:canceled": "",
    "patch:proposed": "gating approved rejected changes_requested",
    "patch:gating": "gate_passed gate_failed",
    "patch:gate_passed": "approved rejected gating changes_requested",
    "patch:gate_failed": "approved rejected gating changes_requested superseded",
    "patch:changes_requested": "superseded rejected",
    "patch:approved": "applied",
    "patch:applied": "reverted",
    "patch:rejected": "",
    "patch:reverted": "",
    "patch:superseded": "",
    "breaker:closed": "open",
    "breaker:open": "half_open",
    "breaker:half_open": "closed open",
    "worker:starting": "idle stopped lost",
    "worker:idle": "busy draining stopped lost",
    "worker:busy": "idle draining lost",
    "worker:draining": "stopped lost",
    "worker:stopped": "",
    "worker:lost": "",
}

# Moves a developer might be tempted to allow, each with the reason it stays forbidden.
FORBIDDEN = [
    ("step", "pending", "running", "a step runs only once the scheduler found it ready"),
    ("step", "succeeded", "running", "a succeeded step runs again only once reopened for a revision"),
    ("step", "retrying", "succeeded", "only an attempt that ran can succeed"),
    ("step", "waiting", "running", "a waiting step starts only once its due time made it ready"),
    ("run", "pending", "succeeded", "a run that never ran has not succeeded"),
    ("run", "succeeded", "paused", "a succeeded run is reopened only to run, for a revision"),
    ("run", "paused", "succeeded", "a paused run finishes only after it runs again"),
    ("attempt", "failed", "running", "a retry is a new attempt, not the old one reopened"),
    ("patch", "gating", "approved", "a patch is not approved while its gate still runs"),
    ("patch", "proposed", "applied", "nothing is applied before it is approved"),
    ("patch", "rejected", "approved", "a rejection is final"),
    ("patch", "changes_requested", "approved", "what the reviewer asked to change is revised first"),
    ("patch", "superseded", "changes_requested", "only the latest round is reviewed"),
    ("breaker", "closed", "half_open", "a breaker probes only after it opened"),
    ("breaker", "open", "closed", "an open breaker closes only through a probe"),
    ("worker", "lost", "idle", "a late heartbeat does not revive a lost worker"),
]

PAIRS = [
    pytest.param(machine, source, target, id=f"{machine}:{source}->{target}")
    for machine, (enum, _allowed, _terminal) in MACHINES.items()
    for source in enum
    for target in enum
]

# Leaving a terminal state is an operator's decision (resume a run, retry a step) and nothing
# else; changing this set must be deliberate.
REOPENS = {
    ("run", RunState.FAILED, RunState.RUNNING),
    ("run", RunState.CANCELED, RunState.RUNNING),
    ("step", StepState.FAILED, StepState.PENDING),
    ("step", StepState.SKIPPED, StepState.PENDING),
    ("step", StepState.CANCELED, StepState.PENDING),
    # A review's revision round runs the patch step of a finished run again.
    ("run", RunState.SUCCEEDED, RunState.RUNNING),
    ("step", StepState.SUCCEEDED, StepState.PENDING),
}


@pytest.mark.parametrize(("machine", "source", "target"), PAIRS)
def test_transition(machine: str, source: StrEnum, target: StrEnum) -> None:
    if str(target) in EXPECTED_ALLOWED[f"{machine}:{source}"].split():
        assert transition(machine, source, target) is target
        assert can_transition(machine, source, target)
    else:
        assert not can_transition(machine, source, target)
        with pytest.raises(InvalidTransition) as info:
            transition(machine, source, target)
        message = str(info.value)
        assert machine in message
        assert f"from {source} to {target}" in message
        assert (info.value.machine, info.value.source, info.value.target) == (
            machine,
            source,
            target,
        )


def test_expected_table_names_every_state() -> None:
    """The hand-written table covers every state of every machine, so no pair goes unchecked."""
    keys = {f"{machine}:{state}" for machine, (enum, _a, _t) in MACHINES.items() for state in enum}
    assert set(EXPECTED_ALLOWED) == keys
    for key, targets in EXPECTED_ALLOWED.items():
        enum = MACHINES[key.split(":")[0]][0]
        assert set(targets.split()) <= {str(state) for state in enum}, key


@pytest.mark.parametrize(
    ("machine", "source", "target", "reason"),
    [pytest.param(*move, id=f"{move[0]}:{move[1]}->{move[2]}") for move in FORBIDDEN],
)
def test_forbidden_moves_raise(machine: str, source: str, target: str, reason: str) -> None:
    enum = MACHINES[machine][0]
    assert not can_transition(machine, enum(source), enum(target)), reason
    with pytest.raises(InvalidTransition):
        transition(machine, enum(source), enum(target))


def test_invalid_transition_names_the_subject() -> None:
    with pytest.raises(InvalidTransition, match=r"run r-123 cannot go from succeeded to paused"):
        transition("run", RunState.SUCCEEDED, RunState.PAUSED, "r-123")


@pytest.mark.parametrize("machine", list(MACHINES))
def test_every_state_is_a_key_of_allowed(machine: str) -> None:
    enum, allowed, terminal = MACHINES[machine]
    assert set(allowed) == set(enum)
    assert terminal <= set(enum)
    for targets in allowed.values():
        assert targets <= set(enum)


def test_terminal_states_leave_only_by_operator_reopen() -> None:
    exits = {
        (machine, source, target)
        for machine in ("run", "step", "attempt")
        for source in MACHINES[machine][2]
        for target in MACHINES[machine][1][source]
    }
    assert exits == REOPENS


@pytest.mark.parametrize("machine", ["patch", "breaker", "worker"])
def test_other_machines_have_no_exit_from_terminal(machine: str) -> None:
    _enum, allowed, terminal = MACHINES[machine]
    assert all(not allowed[state] for state in terminal)
