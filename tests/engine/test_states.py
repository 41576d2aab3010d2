"""Every state machine, every ``(from, to)`` pair: allowed moves return the target, the rest raise."""

from __future__ import annotations

from enum import StrEnum

import pytest

from engine.errors import InvalidTransition
from engine.states import MACHINES, can_transition, transition
from schemas.states import RunState, StepState

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
}


@pytest.mark.parametrize(("machine", "source", "target"), PAIRS)
def test_transition(machine: str, source: StrEnum, target: StrEnum) -> None:
    allowed = MACHINES[machine][1]
    if target in allowed[source]:
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


def test_invalid_transition_names_the_subject() -> None:
    with pytest.raises(InvalidTransition, match=r"run r-123 cannot go from succeeded to running"):
        transition("run", RunState.SUCCEEDED, RunState.RUNNING, "r-123")


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
