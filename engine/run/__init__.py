"""The parts of a run's execution that ``engine.runner.RunExecutor`` is composed of.

From the bottom up: ``table`` (the steps' states and rows, and how a move is recorded),
``budget`` (what the run has spent against its budget), ``dispatch`` (ready steps waiting per
routing key, started under the limits when the router allows), ``attempts`` (an attempt from
its start to the verdict on its result: retry, fix round, success or failure) and ``recovery``
(what a lost engine left behind). Each imports only those below it (a layers contract in
pyproject.toml); the runner above them holds the run's life: claim, lease, control, finish.
"""

from __future__ import annotations

__all__: list[str] = []
