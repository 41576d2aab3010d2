"""A project whose run ends up held by an open breaker: the first step's failure opens its
tool's breaker; the second step, of the same tool, can only wait."""

from __future__ import annotations

from tests.conftest import Project


def held_by_breaker(project: Project, open_for: str) -> None:
    """Write the router (tool `flaky`: fails once, then succeeds; one failure opens its breaker
    for ``open_for``) and `ws.yaml` (two `flaky` steps, one at a time)."""
    project.write(".uet/router.yaml", f"""
        tools:
          flaky:
            command: [sh, -c, "test -f ok || {{ touch ok; exit 1; }}"]
            capabilities: [flaky]
            breaker: {{consecutive_failures: 1, open_for: {open_for}}}
    """)
    project.write("ws.yaml", """
        name: held
        max_parallel: 1
        steps:
          - {id: first, kind: flaky}
          - {id: second, kind: flaky}
    """)
