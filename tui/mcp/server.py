"""The MCP server's tools and resources over one project, built on the official SDK's
``MCPServer``. Each tool calls the engine functions the command line calls (the planner,
``engine.steering``, the patch ledger, the review rounds, ``engine.operations``), under one
lock, and each call is recorded as an ``mcp.call`` event naming ``mcp:<client name>``.

Paths a client gives are taken relative to the project root and refused when they resolve
(symlinks followed) outside it. Logs and diffs are cut (``LOG_LINES``/``LOG_BYTES``,
``DIFF_LINES``/``DIFF_BYTES`` by default, each raisable up to its ``*_MAX``) with a
``… N more lines`` note. ``patch_approve`` and ``patch_apply`` exist only when the project's
manifest says ``mcp: {allow_approve: true}``.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resources import FunctionResource
from pydantic import Field

import schemas
from engine.errors import UetError, ValidationFailed
from engine.operations import (
    head,
    mcp_settings,
    patch_document,
    plan_text,
    profile_entries,
    record_call,
    tail_file,
)
from store import Store, queries
from store.errors import NoSuchRecord, StoreError

LOG_LINES, LOG_LINES_MAX = 200, 5000
LOG_BYTES, LOG_BYTES_MAX = 64 * 1024, 1024 * 1024
DIFF_LINES, DIFF_LINES_MAX = 400, 20000
DIFF_BYTES, DIFF_BYTES_MAX = 128 * 1024, 2 * 1024 * 1024
#: Free text a client sends (a reason, a comment) is cut here before it reaches the store.
TEXT_MAX = 4000
#: Tools that decide for a person: listed only when the project opts in.
OPT_IN = ("patch_approve", "patch_apply")
OPT_IN_REFUSAL = ("{tool} is not offered: this project lets a person approve and apply patches. To let MCP "
                  "clients do it, add `mcp: {{allow_approve: true}}` to .uet/project.yaml")

INSTRUCTIONS = """UET runs workstreams (DAGs of lint, test, edit and review steps) in this project and records
everything in its store. Validate a workstream with workstream_validate, start one with run_start, follow it
with run_status and step_log, and review the patches its editing steps propose with patches_list, patch_show
and patch_request_changes."""


class Refused(Exception):
    """A call the server will not carry out (a path outside the project, a tool not offered)."""


def client_name(ctx: Context) -> str:
    """``mcp:<name>`` from the initialize handshake's clientInfo, cut to printable words."""
    try:
        params = ctx.session.client_params
        name = params.client_info.name if params is not None else ""
    except (AttributeError, ValueError):
        name = ""
    cleaned = re.sub(r"[^A-Za-z0-9._ @/+-]", "", name or "").strip()[:64]
    return f"mcp:{cleaned or 'unknown'}"


def _message(exc: BaseException) -> str:
    if isinstance(exc, UetError | NoSuchRecord | StoreError | Refused):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"


def _text(value: str | None) -> str | None:
    return None if value is None else value[:TEXT_MAX]


class Project:
    """One project and its store, shared by the tools; calls run one at a time."""

    def __init__(self, root: Path, db: Path) -> None:
        self.root = root.resolve()
        self.db = db
        self.allow_approve = mcp_settings(self.root).allow_approve
        self._store: Store | None = None
        self._lock = threading.Lock()
        self._run_id: str | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.db)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def inside(self, path: str) -> Path:
        """``path`` (relative to the project root, or absolute) resolved; refused outside it."""
        if "\0" in path:
            raise Refused(f"{path!r}: not a path")
        given = Path(path)
        resolved = (given if given.is_absolute() else self.root / given).resolve()
        if resolved != self.root and not resolved.is_relative_to(self.root):
            raise Refused(f"{path}: outside the project {self.root}; only paths inside it are accepted")
        return resolved

    def run(self, prefix: str) -> str:
        """A run id from its prefix; remembered so the call's event names the run."""
        run_id = queries.resolve_run_id(prefix)
        self._run_id = run_id
        return run_id

    def call(self, ctx: Context, tool: str, arguments: dict[str, Any], work: Callable[[], Any]) -> Any:
        """Carry out ``work`` and record it; a refusal or an error is a tool error with its message."""
        who = client_name(ctx)
        with self._lock:
            self._run_id = None
            try:
                self.store  # noqa: B018 - opened here: queries read the store opened last
                result = work()
            except Exception as exc:  # noqa: BLE001 - every failure goes back to the client as words
                message = _message(exc)
                self._record(who, tool, arguments, "refused" if isinstance(exc, Refused) else "failed", message)
                raise ToolError(message) from exc
            self._record(who, tool, arguments, "done")
            return result

    def refuse(self, ctx: Context, tool: str, arguments: dict[str, Any], message: str) -> None:
        with self._lock:
            self._run_id = None
            self._record(client_name(ctx), tool, arguments, "refused", message)

    def _record(self, who: str, tool: str, arguments: dict[str, Any], outcome: str, error: str | None = None) -> None:
        with contextlib.suppress(UetError, StoreError):  # the store failed; the client has the answer
            record_call(self.store, who, tool, arguments, outcome, self._run_id, error)


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
    _tools(server, project)
    _resources(server, project)
    return server


RunId = Annotated[str, Field(description="A run id, or a unique prefix of one (as `uet runs` shows).", max_length=64)]
PatchId = Annotated[str, Field(description="A patch id (as patches_list shows).", max_length=64)]
StepId = Annotated[str, Field(description="A step id of the run.", max_length=200)]
Reason = Annotated[str | None, Field(description="Why; recorded with the request.", max_length=TEXT_MAX)]


def _tools(server: Server, project: Project) -> None:  # noqa: C901 - one registration per tool
    tool = server.tool

    @tool(description="Every profile this project sees (built-ins and .uet/profiles/*.yaml): name, source, "
                      "what it extends, whether it reads.")
    def profiles_list(ctx: Context) -> list[dict[str, Any]]:
        return project.call(ctx, "profiles_list", {}, lambda: profile_entries(project.root))

    @tool(description="One profile with its `extends` chain applied, as JSON.")
    def profile_show(name: Annotated[str, Field(max_length=200)], ctx: Context) -> dict[str, Any]:
        from engine.profiles import resolve_chain

        def work() -> dict[str, Any]:
            resolved = resolve_chain(name, project.root)
            return {"profile": resolved.profile.model_dump(mode="json"),
                    "chain": [item.source.origin for item in resolved.chain]}

        return project.call(ctx, "profile_show", {"name": name}, work)

    @tool(description="Check a workstream given as YAML text (schema, DAG, prompts, tools) as `uet validate` "
                      "does; nothing is written. Problems come back with line and column.")
    def workstream_validate(
        text: Annotated[str, Field(description="The workstream's YAML.", max_length=5 * 1024 * 1024)],
        ctx: Context,
        name: Annotated[str, Field(description="The file name the problems are reported under.",
                                   max_length=200)] = "workstream.yaml",
    ) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            project.inside(name)
            try:
                plan = plan_text(text, name, project.root)
            except ValidationFailed as exc:
                return {"valid": False, "problems": [p.__dict__ for p in exc.problems]}
            return {"valid": True, "workstream": plan.workstream.name, "steps": [s.id for s in plan.steps],
                    "warnings": [p.__dict__ for p in plan.warnings]}

        return project.call(ctx, "workstream_validate", {"name": name, "text": f"{len(text)} chars"}, work)

    @tool(description="What `uet bootstrap --dry-run` would do for a folder of this project: the profile "
                      "chosen and why, each file it would write (with its diff, cut), problems. Writes nothing.")
    def bootstrap_preview(
        ctx: Context,
        path: Annotated[str, Field(description="A folder inside the project.", max_length=4096)] = ".",
        profile: Annotated[str | None, Field(description="Use this profile instead of the one detected.",
                                             max_length=200)] = None,
    ) -> dict[str, Any]:
        from engine.bootstrap.orchestrate import bootstrap

        def work() -> dict[str, Any]:
            report = bootstrap(project.inside(path), profile=profile, dry_run=True)
            files = [{**f.model_dump(mode="json", exclude={"diff"}),
                      "diff": head(f.diff, DIFF_LINES, DIFF_BYTES).text if f.diff else None} for f in report.files]
            return {"profile": report.profile, "chosen_by": report.chosen_by, "confidence": report.confidence,
                    "runner_up": report.runner_up, "ambiguous": report.ambiguous, "files": files,
                    "problems": [i.model_dump(mode="json") for i in report.problems],
                    "agents": report.agents, "next_steps": report.next_steps}

        return project.call(ctx, "bootstrap_preview", {"path": path, "profile": profile}, work)

    @tool(description="Start a workstream file of this project in the background (as `uet run --detach`); "
                      "returns the run id to follow with run_status.")
    def run_start(file: Annotated[str, Field(description="The workstream file, inside the project.",
                                             max_length=4096)], ctx: Context) -> dict[str, Any]:
        from engine.planner import plan_file
        from engine.projects import workstream_project
        from engine.session import create_run
        from engine.steering import spawn_engine

        def work() -> dict[str, Any]:
            path = project.inside(file)
            owner = workstream_project(path, project.root)
            if owner.root != project.root:
                raise Refused(f"{file} belongs to the project {owner.root}; this server serves {project.root}")
            plan = plan_file(path, project.root)
            run_id = create_run(project.store, plan)
            project._run_id = run_id
            started = spawn_engine(project.store, project.root, run_id)
            return {"run": run_id, "pid": started.pid, "warnings": [p.__dict__ for p in plan.warnings]}

        return project.call(ctx, "run_start", {"file": file}, work)

    @tool(description="A run's state, progress, steps and breakers (as `uet status --json`); with `step`, that "
                      "step's attempts and output.")
    def run_status(run: RunId, ctx: Context, step: StepId | None = None) -> dict[str, Any]:
        from tui.cli.output import status_document, step_document

        def work() -> dict[str, Any]:
            run_id = project.run(run)
            return step_document(run_id, step) if step is not None else status_document(run_id)

        return project.call(ctx, "run_status", {"run": run, "step": step}, work)

    @tool(description=f"The end of a step's log (an attempt's output): the last `lines` lines (default "
                      f"{LOG_LINES}, at most {LOG_LINES_MAX}) within `max_bytes` (default {LOG_BYTES}, at most "
                      f"{LOG_BYTES_MAX}); what is left out is said as `… N more lines above`.")
    def step_log(
        run: RunId, step: StepId, ctx: Context,
        attempt: Annotated[int | None, Field(description="Which attempt (default: the latest).", ge=1)] = None,
        lines: Annotated[int, Field(ge=1, le=LOG_LINES_MAX)] = LOG_LINES,
        max_bytes: Annotated[int, Field(ge=1, le=LOG_BYTES_MAX)] = LOG_BYTES,
    ) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            run_id = project.run(run)
            found = queries.get_step(run_id, step)
            attempts = queries.attempts(run_id, found.id)
            chosen = attempts[-1] if attempts and attempt is None else next(
                (a for a in attempts if a.number == attempt), None)
            if chosen is None:
                have = ", ".join(str(a.number) for a in attempts) or "none yet"
                raise Refused(f"step {found.id} has no attempt {attempt}; its attempts: {have}")
            text, omitted = "", 0
            if chosen.log_path:
                log = project.inside(chosen.log_path)
                if log.is_file():
                    cut = tail_file(log, lines, max_bytes)
                    text, omitted = cut.text, cut.omitted
            return {"run": run_id, "step": found.id, "step_state": str(found.state), "attempt": chosen.number,
                    "attempt_state": str(chosen.state), "log": text, "omitted_lines": omitted}

        return project.call(ctx, "step_log", {"run": run, "step": step, "attempt": attempt}, work)

    def steer(name: str, action: Callable[[str], str], run: str, ctx: Context, **arguments: Any) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            run_id = project.run(run)
            return {"run": run_id, "message": action(run_id)}

        return project.call(ctx, name, {"run": run, **arguments}, work)

    @tool(description="Cancel a run wherever it executes, every process it started included (as `uet cancel`).")
    def run_cancel(run: RunId, ctx: Context, reason: Reason = None) -> dict[str, Any]:
        from engine import steering

        who = client_name(ctx)
        return steer("run_cancel", lambda r: steering.cancel(project.store, r, who, _text(reason)), run, ctx,
                     reason=reason)

    @tool(description="Pause a run: no new step starts, running ones finish (as `uet pause`).")
    def run_pause(run: RunId, ctx: Context, reason: Reason = None) -> dict[str, Any]:
        from engine import steering

        who = client_name(ctx)
        return steer("run_pause", lambda r: steering.pause(project.store, r, who, _text(reason)), run, ctx,
                     reason=reason)

    @tool(description="Continue a paused, interrupted, failed or canceled run in the background (as "
                      "`uet resume --detach`).")
    def run_resume(run: RunId, ctx: Context) -> dict[str, Any]:
        from engine import steering

        who = client_name(ctx)
        return steer("run_resume", lambda r: steering.resume(project.store, r, who), run, ctx)

    @tool(description="The patch ledger, newest first (as `uet patches --json`), at most 200.")
    def patches_list(
        ctx: Context, run: RunId | None = None,
        state: Annotated[str | None, Field(description="proposed, gating, gate_passed, gate_failed, "
                                                       "changes_requested, approved, rejected, applied, reverted "
                                                       "or superseded", max_length=40)] = None,
    ) -> list[dict[str, Any]]:
        def work() -> list[dict[str, Any]]:
            run_id = project.run(run) if run else None
            return [p.model_dump(mode="json") for p in queries.list_patches(run_id=run_id, state=state)]

        return project.call(ctx, "patches_list", {"run": run, "state": state}, work)

    @tool(description=f"One patch: its files, diff (the first `max_lines` lines, default {DIFF_LINES}, within "
                      f"`max_bytes`, default {DIFF_BYTES}, then `… N more lines`), gate results, rounds and "
                      "review comments (as `uet patch show --json`).")
    def patch_show(
        patch: PatchId, ctx: Context,
        max_lines: Annotated[int, Field(ge=1, le=DIFF_LINES_MAX)] = DIFF_LINES,
        max_bytes: Annotated[int, Field(ge=1, le=DIFF_BYTES_MAX)] = DIFF_BYTES,
    ) -> dict[str, Any]:
        from engine.patches.ledger import Ledger

        def work() -> dict[str, Any]:
            document = patch_document(Ledger(project.store).get(patch))
            project._run_id = document["run_id"]
            cut = head(document["diff"], max_lines, max_bytes)
            return {**document, "diff": cut.text, "diff_omitted_lines": cut.omitted}

        return project.call(ctx, "patch_show", {"patch": patch}, work)

    @tool(description="Send a patch back with a review comment (on the whole patch, a file, or a line of the "
                      "patched file); its step runs again in the background as a revision round (as `uet patch "
                      "request-changes --detach`).")
    def patch_request_changes(
        patch: PatchId,
        comment: Annotated[str, Field(description="What to change.", min_length=1, max_length=TEXT_MAX)],
        ctx: Context,
        file: Annotated[str | None, Field(description="A file of the patch the comment is on.",
                                          max_length=4096)] = None,
        line: Annotated[int | None, Field(description="A line of `file`, numbered as in the patched file.",
                                          ge=1, le=10**9)] = None,
    ) -> dict[str, Any]:
        from engine.patches.ledger import Ledger
        from engine.review.comments import CommentError, ReviewComment
        from engine.review.rounds import request_changes, revision_problem, start_revision

        who = client_name(ctx)

        def work() -> dict[str, Any]:
            if line is not None and file is None:
                raise CommentError("`line` says where in `file` the comment goes; give the `file`")
            found = Ledger(project.store).get(patch)
            project._run_id = found.run_id
            changed = request_changes(project.store, found.id, who, [ReviewComment(comment, file, line, None)])
            problem = revision_problem(changed)
            started = start_revision(project.store, changed.id, who, detach=True) if problem is None else None
            return {"patch": changed.id, "state": changed.state.value, "reason": changed.reason,
                    "revision": started, "revision_problem": problem}

        return project.call(ctx, "patch_request_changes",
                            {"patch": patch, "comment": comment, "file": file, "line": line}, work)

    if not project.allow_approve:
        return

    @tool(description="Approve a patch whose gate passed (the project allows MCP clients to: mcp.allow_approve).")
    def patch_approve(patch: PatchId, ctx: Context, comment: Reason = None) -> dict[str, Any]:
        from engine.patches.ledger import Ledger

        who = client_name(ctx)

        def work() -> dict[str, Any]:
            done = Ledger(project.store).approve(patch, who, comment=_text(comment))
            project._run_id = done.run_id
            return {"patch": done.id, "state": done.state.value}

        return project.call(ctx, "patch_approve", {"patch": patch, "comment": comment}, work)

    @tool(description="Apply an approved patch to the working tree, optionally committing it (the project "
                      "allows MCP clients to: mcp.allow_approve).")
    def patch_apply(patch: PatchId, ctx: Context, commit: bool = False) -> dict[str, Any]:
        from engine.patches.ledger import Ledger

        who = client_name(ctx)

        def work() -> dict[str, Any]:
            done = Ledger(project.store).apply(patch, who, commit=commit)
            project._run_id = done.run_id
            return {"patch": done.id, "state": done.state.value, "commit": done.applied_commit}

        return project.call(ctx, "patch_apply", {"patch": patch, "commit": commit}, work)


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
