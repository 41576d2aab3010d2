"""Where a step runs: its ``cwd`` must lead to a directory inside the project.

The schema refuses a ``cwd`` that is absolute or climbs out with ``..``, but a symbolic link
inside the project may point anywhere (``link -> /etc``), and it may be made after the
workstream was validated. So the real path is checked twice: by the planner for the links that
exist when the file is validated, and before each attempt of a step that names a ``cwd`` (the
only steps that can be led out this way; the others run in the root itself).
"""

from __future__ import annotations

import os

_real_roots: dict[str, str] = {}


def cwd_outside(root: str, cwd: str) -> str | None:
    """Why ``cwd`` (relative to ``root``, as the pipeline joins them) leads out of the project,
    or None when it stays inside. A directory that does not exist yet is inside if its path is:
    the step itself says so when it runs."""
    real_root = _real_roots.get(root)
    if real_root is None:
        real_root = _real_roots[root] = os.path.realpath(root)
    real = os.path.realpath(f"{root}/{cwd}")
    if real == real_root or real.startswith(real_root.rstrip("/") + "/"):
        return None
    return f"the working directory {cwd!r} leads to {real}, outside the project (a symbolic link?): " \
           "`cwd` must stay inside the project"
