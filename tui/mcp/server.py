"""``uet mcp``'s server: the official SDK's ``MCPServer`` with the tools of ``tui.mcp.tools`` and
the project's files as resources. An opt-in tool (approve, apply) that the project has not
allowed is not listed, and a call to it by name is refused with the reason and recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resources import FunctionResource

import schemas
from tui.mcp.project import Project
from tui.mcp.tools import OPT_IN, OPT_IN_REFUSAL, register

INSTRUCTIONS = """UET runs workstreams (DAGs of lint, test, edit and review steps) in this project and records
everything in its store. Validate a workstream with workstream_validate, start one with run_start, follow it
with run_status and step_log, and review the patches its editing steps propose with patches_list, patch_show
and patch_request_changes."""


class Server(MCPServer[Any]):
    """Refuses the opt-in tools by name, with the reason, when the project has not opted in."""

    def __init__(self, project: Project, **settings: Any) -> None:
        super().__init__(**settings)
        self.project = project

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None) -> Any:
        if name in OPT_IN and not self.project.allow_approve:
            message = OPT_IN_REFUSAL.format(tool=name)
            if context is not None:
                self.project.refuse(context, name, arguments, message)
            raise ToolError(message)
        return await super().call_tool(name, arguments, context)


def build(root: Path, db: Path) -> Server:
    """The server for the project at ``root`` whose store is ``db``."""
    project = Project(root, db)
    server = Server(project, name="uet", title="UET", instructions=INSTRUCTIONS, log_level="WARNING")
    register(server, project)
    _resources(server, project)
    return server


# -- resources -----------------------------------------------------------------------------------


def _reader(project: Project, path: Path, inside: bool) -> Callable[[], str]:
    def read() -> str:
        real = project.inside(str(path)) if inside else path.resolve()
        return real.read_text(encoding="utf-8", errors="replace")

    return read


def _resources(server: Server, project: Project) -> None:
    """The project's workstreams, profiles and router config, and the JSON Schemas, as they are
    at start-up (a file's text is read when it is asked for)."""
    from engine.profiles import available_profiles

    found: list[tuple[str, str, Path, bool, str]] = []
    workstreams = project.root / ".uet" / "workstreams"
    for path in sorted([*workstreams.glob("*.yaml"), *workstreams.glob("*.yml")]):
        found.append((f"uet://workstreams/{path.name}", f"workstream {path.stem}", path, True, "application/yaml"))
    for name, source in available_profiles(project.root).items():
        found.append((f"uet://profiles/{name}", f"profile {name} ({'builtin' if source.builtin else 'project'})",
                      source.path, not source.builtin, "application/yaml"))
    router = project.root / ".uet" / "router.yaml"
    if router.exists():
        found.append(("uet://router", "router config", router, True, "application/yaml"))
    for path in sorted((Path(schemas.__file__).parent / "json").glob("*.json")):
        found.append((f"uet://schemas/{path.name}", f"JSON Schema {path.stem}", path, False, "application/json"))
    for uri, title, path, inside, mime in found:
        server.add_resource(FunctionResource(uri=uri, name=uri.removeprefix("uet://"), title=title,
                                             mime_type=mime, fn=_reader(project, path, inside)))
