"""The tools of ``uet mcp``: each calls the engine functions the command line calls (the planner,
``engine.steering``, the patch ledger, the review rounds, ``engine.operations``) through
``Project.call``. Logs and diffs are cut (``LOG_LINES``/``LOG_BYTES``, ``DIFF_LINES``/
``DIFF_BYTES`` by default, each raisable up to its ``*_MAX``) with a ``… N more lines`` note.
``patch_approve`` and ``patch_apply`` are registered only when the project opts in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from engine.errors import ValidationFailed
from engine.operations import head, patch_document, plan_text, profile_entries, tail_file
from schemas.states import PatchState
from store import queries
from tui.mcp.project import TEXT_MAX, Project, Refused, client_name, clipped

LOG_LINES, LOG_LINES_MAX = 200, 5000
LOG_BYTES, LOG_BYTES_MAX = 64 * 1024, 1024 * 1024
DIFF_LINES, DIFF_LINES_MAX = 400, 20000
DIFF_BYTES, DIFF_BYTES_MAX = 128 * 1024, 2 * 1024 * 1024
#: Tools that decide for a person: listed only when the project opts in.
OPT_IN = ("patch_approve", "patch_apply")
OPT_IN_REFUSAL = ("{tool} is not offered: this project lets a person approve and apply patches. To let MCP "
                  "clients do it, add `mcp: {{allow_approve: true}}` to .uet/project.yaml")


RunId = Annotated[str, Field(description="A run id, or a unique prefix of one (as `uet runs` shows).", max_length=64)]
PatchId = Annotated[str, Field(description="A patch id (as patches_list shows).", max_length=64)]
StepId = Annotated[str, Field(description="A step id of the run.", max_length=200)]
Reason = Annotated[str | None, Field(description="Why; recorded with the request.", max_length=TEXT_MAX)]


def register(server: MCPServer[Any], project: Project) -> None:  # noqa: C901 - one registration per tool
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
            project.about(run_id)
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
        return steer("run_cancel", lambda r: steering.cancel(project.store, r, who, clipped(reason)), run, ctx,
                     reason=reason)

    @tool(description="Pause a run: no new step starts, running ones finish (as `uet pause`).")
    def run_pause(run: RunId, ctx: Context, reason: Reason = None) -> dict[str, Any]:
        from engine import steering

        who = client_name(ctx)
        return steer("run_pause", lambda r: steering.pause(project.store, r, who, clipped(reason)), run, ctx,
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
        state: Annotated[PatchState | None, Field(description="Only patches in this state.")] = None,
    ) -> list[dict[str, Any]]:
        def work() -> list[dict[str, Any]]:
            run_id = project.run(run) if run else None
            return [p.model_dump(mode="json")
                    for p in queries.list_patches(run_id=run_id, state=state.value if state else None)]

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
            project.about(document["run_id"])
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
            project.about(found.run_id)
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
            done = Ledger(project.store).approve(patch, who, comment=clipped(comment))
            project.about(done.run_id)
            return {"patch": done.id, "state": done.state.value}

        return project.call(ctx, "patch_approve", {"patch": patch, "comment": comment}, work)

    @tool(description="Apply an approved patch to the working tree, optionally committing it (the project "
                      "allows MCP clients to: mcp.allow_approve).")
    def patch_apply(patch: PatchId, ctx: Context, commit: bool = False) -> dict[str, Any]:
        from engine.patches.ledger import Ledger

        who = client_name(ctx)

        def work() -> dict[str, Any]:
            done = Ledger(project.store).apply(patch, who, commit=commit)
            project.about(done.run_id)
            return {"patch": done.id, "state": done.state.value, "commit": done.applied_commit}

        return project.call(ctx, "patch_apply", {"patch": patch, "commit": commit}, work)
