"""Containment events in words, as the dashboard's event log, `uet logs` and plain lines show them."""

from __future__ import annotations

from tui.format import describe


def test_an_attempt_without_the_sandbox_a_refusal_and_a_touched_repository_are_said() -> None:
    assert describe("sandbox.off", "fix", {"attempt": 2, "reason": "patch step runs WITHOUT the OS sandbox"}) == (
        "step fix attempt 2 without the sandbox: patch step runs WITHOUT the OS sandbox")
    assert describe("sandbox.refused", "fix", {"patch": "4aa4", "gate": "tests", "round": 1,
                                               "reason": "refused to run a patch step without a sandbox"}) == (
        "step fix gate tests refused: refused to run a patch step without a sandbox")
    assert describe("repository.changed", "fix", {"attempt": 1, "changed": [".git/config"],
                                                  "reason": "the user's repository changed: .git/config"}) == (
        "step fix attempt 1 REPOSITORY CHANGED: the user's repository changed: .git/config")


def test_the_dashboard_event_log_shows_an_attempt_without_the_sandbox() -> None:
    from schemas.records import EventRecord
    from tui.widgets.event_log import event_line

    line = event_line(EventRecord(seq=7, ts=0.0, run_id="r1234567890", step_id="fix", kind="sandbox.off",
                                  data={"attempt": 1, "reason": "the project says `sandbox: off`"}))
    assert line.plain.endswith("r1234567 step fix attempt 1 without the sandbox: the project says `sandbox: off`")
