"""An attempt's task, around the tool that runs it: the prompt rendered and delivered before,
the answer read back after.

Before (``prepare``): the step's prompt (or, without one, its description) is rendered with
the outputs of the steps it names and a fix round's gate feedback (``engine.prompts``), the
files of its ``context`` found in its working copy are listed after it, and it is written to
the attempt's prompt file. The attempt gets a home of its own, empty, under
``.uet/homes/<run>/<step>.<n>`` (no user config, session or cache leaks between attempts).
An agent tool's family builds its command line, environment and config files from that
(``engine.agents.<family>``); any other tool finds ``{prompt}``, ``{prompt_file}`` and
``{model}`` in its command, or the prompt as its stdin with ``stdin: prompt``. The tool's
passed-through variables (``env_passthrough``) are copied in, and their values are masked in
everything it prints.

After (``conclude``): an agent's stream parser gives the final message (the attempt's
output), the usage and the failure it reported; the attempt fails on that failure even when
the agent exited 0. Any other attempt's output is the file its step names (``output_file``)
or the end of what it printed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import prompts
from engine.adapters.base import TAIL_CHARS
from engine.agents.base import AgentResult, Task
from engine.agents.stream import LineStream, mask, secrets_of
from engine.toolvalues import MAX_OUTPUT_CHARS
from schemas.execution import ExecutionRequest, ExecutionResult
from schemas.router import ToolSpec

#: The most files of ``context`` listed in a prompt.
MAX_CONTEXT_FILES = 200


@dataclass
class Prepared:
    """What ``conclude`` needs of an attempt that had a task."""

    home: str
    prompt_file: str
    agent: str | None = None
    stream: LineStream | None = None
    output_file: str | None = None
    secrets: tuple[str, ...] = ()  # values masked in the output and errors, as in the log
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (field, message) for warning events


def wants_task(spec: dict[str, Any], tool: ToolSpec | None) -> bool:
    """Whether the attempt gets a prompt: the step has one, its tool is an agent or takes one."""
    if "prompt" in spec or (tool is not None and (tool.agent is not None or tool.stdin == "prompt")):
        return True
    argv = spec.get("run") or (tool.command if tool is not None else None) or ()
    return any("{prompt" in arg for arg in argv)


def homes_dir(root: Path | str, run_id: str) -> Path:
    return Path(root) / ".uet" / "homes" / run_id


def _context(workdir: str, patterns: list[str]) -> tuple[list[str], int]:
    """Files of the working copy matching ``patterns`` (relative, sorted, once each): at most
    ``MAX_CONTEXT_FILES``, and how many more there were. A pattern matching nothing is listed
    as written, so the agent still reads what the user meant."""
    found: dict[str, None] = {}
    more = 0
    base = os.path.realpath(workdir)
    for pattern in patterns:
        matches = sorted(glob.iglob(pattern, root_dir=workdir, recursive=True)) if glob.has_magic(pattern) else [pattern]
        for name in matches:
            real = os.path.realpath(os.path.join(workdir, name))
            if not (real == base or real.startswith(base + os.sep)) or "/.git/" in f"/{name}/":
                continue
            if os.path.isdir(real):
                continue
            if name not in found:
                if len(found) >= MAX_CONTEXT_FILES:
                    more += 1
                    continue
                found[name] = None
    return list(found), more


def prepare(request: ExecutionRequest, spec: dict[str, Any], tool: ToolSpec | None, *, root: str, workdir: str,
            outputs: dict[str, str | None], feedback: str = "", edits: bool = True,
            patches: dict[str, str | None] | None = None,
            sections: Mapping[str, Callable[[], str]] | None = None,
            append: Iterable[str] = ()) -> tuple[ExecutionRequest, Prepared]:
    """``request`` with its task: prompt file written, home made, command, stdin, environment
    and output stream set.

    ``sections``: a provider of each section's text (``engine.prompts.SECTIONS``), called only
    for the sections the prompt names or the step's ``context`` lists (those are appended after
    the prompt under their heading), and for those in ``append`` that the prompt does not name
    (a revision round's comments reach the agent even when its prompt forgot them)."""
    from engine.agents.catalog import driver
    from engine.pipeline import log_path  # imported here: the pipeline imports the adapters

    values = {"root": workdir, "run": request.run_id, "step": request.step_id, "attempt": str(request.attempt),
              "description": spec.get("description", ""), **spec.get("vars", {})}
    template = spec.get("prompt")
    context = spec.get("context", [])
    named = prompts.referenced_sections(template)
    appended = [name for name in (*[c for c in context if c in prompts.CONTEXT_SECTIONS], *append)
                if name not in named]
    texts = {name: _section(sections, name) for name in dict.fromkeys([*named, *appended])}
    # Without a prompt the description is the task, as written (it is no template).
    text = (prompts.render(template, values, outputs, feedback, patches, texts) if template is not None
            else values["description"])
    files, more = _context(workdir, [c for c in context if c not in prompts.CONTEXT_SECTIONS])
    text = prompts.with_context(text, files, more)
    text = prompts.with_sections(text, {name: texts[name] for name in dict.fromkeys(appended)})

    base = log_path(root, request.run_id, request.step_id, request.attempt)[: -len(".log")]
    prompt_file = base + ".prompt.md"
    os.makedirs(os.path.dirname(prompt_file), exist_ok=True)
    with open(prompt_file, "w", encoding="utf-8") as handle:
        handle.write(text)
    home = str(homes_dir(root, request.run_id) / f"{request.step_id}.{request.attempt}")
    shutil.rmtree(home, ignore_errors=True)
    make_home(home)

    env = dict(request.env)
    passthrough = tool.env_passthrough if tool is not None else []
    for name in passthrough:
        value = os.environ.get(name)
        if value is not None and name not in env:
            env[name] = value
    secrets = secrets_of(os.environ.get(name) for name in passthrough)
    prepared = Prepared(home, prompt_file, output_file=spec.get("output_file"), secrets=secrets)
    argv = request.argv
    stdin = prompt_file if tool is not None and tool.stdin == "prompt" else None
    model = (tool.model if tool is not None else None) or ""
    clean = False
    if tool is not None and tool.agent is not None:
        family = driver(tool.agent)
        task = Task(prompt=text, prompt_file=prompt_file, home=home, workdir=workdir, context=tuple(files),
                    model=tool.model, base_url=tool.base_url, args=tuple(tool.args), edits=edits)
        invocation = family.invocation(task)
        for name, content in invocation.files.items():
            target = os.path.realpath(os.path.join(home, name))
            if not target.startswith(os.path.realpath(home) + os.sep):
                raise ValueError(f"agent {tool.agent} asked to write {name!r} outside its home")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(content)
        if not tool.command and "run" not in spec:
            argv = invocation.argv
        env = {**invocation.env, **env}
        stdin = invocation.stdin if stdin is None else stdin
        prepared.agent = tool.agent
        prepared.stream = LineStream(family.parser(), base + ".raw.jsonl", secrets)
        clean = True
    elif secrets:
        prepared.stream = LineStream(None, None, secrets)
    env["HOME"] = home
    if argv is not None:
        fill = {"{prompt}": text, "{prompt_file}": prompt_file, "{model}": model}
        argv = [_fill(arg, fill) if "{" in arg else arg for arg in argv]
    return dataclasses.replace(request, argv=argv, env=env, stdin_path=stdin, stream=prepared.stream, clean_env=clean), prepared


def _section(sections: Mapping[str, Callable[[], str]] | None, name: str) -> str:
    provider = (sections or {}).get(name)
    return provider() if provider is not None else ""


def _fill(arg: str, fill: dict[str, str]) -> str:
    for key, value in fill.items():
        arg = arg.replace(key, value)
    return arg


def conclude(result: ExecutionResult, prepared: Prepared | None, workdir: str) -> ExecutionResult:
    """The attempt's result with its output, and for an agent its usage and reported failure."""
    output: str | None = None
    if prepared is not None and prepared.output_file:
        output = read_output_file(workdir, prepared.output_file, prepared)
    if prepared is not None and prepared.stream is not None and prepared.stream.parser is not None:
        answer = _finish(prepared)
        if output is None:
            output = answer.message
        usage = answer.usage
        result = result.replace(
            tokens_in=usage.tokens_in if usage.tokens_in is not None else result.tokens_in,
            tokens_out=usage.tokens_out if usage.tokens_out is not None else result.tokens_out,
            tokens_cached=usage.tokens_cached if usage.tokens_cached is not None else result.tokens_cached,
            usd=usage.usd if usage.usd is not None else result.usd,
            model=usage.model or result.model)
        if answer.malformed:
            prepared.warnings.append(("stream", f"{answer.malformed} line(s) of the agent's output were not the "
                                                "JSON its format promises; what they held is unknown"))
        if answer.denied:
            prepared.warnings.append(("permissions", "the agent's own permissions refused: "
                                                     + "; ".join(answer.denied[:5])))
        if answer.error and result.outcome == "succeeded":
            result = result.replace(outcome="failed", error=f"the agent reported a failure: {answer.error}")
        elif answer.error and result.outcome == "failed":  # its own words say more than its exit code
            result = result.replace(error=f"the agent reported a failure: {answer.error} ({result.error})")
    elif output is None and result.output_tail:
        output = last_block(result.output_tail)
    if prepared is not None and prepared.secrets:
        output = mask(output, prepared.secrets) if output else output
        if result.error:
            result = result.replace(error=mask(result.error, prepared.secrets))
    return result.replace(output=output) if output else result


def live_usage(parser: Any) -> dict[str, Any]:
    """An agent's usage so far, for a ``step.output`` event: checked like any tool value, and
    nothing when the parser fails (its final result says so)."""
    from engine.toolvalues import dollars, token_count

    try:
        usage = parser.usage()
    except Exception:  # noqa: BLE001 - a live figure is not worth an attempt
        return {}
    found: dict[str, Any] = {}
    for name in ("tokens_in", "tokens_out"):
        value = getattr(usage, name, None)
        if value is not None and not isinstance(count := token_count(value), str):
            found[name] = count
    if usage.usd is not None and not isinstance(amount := dollars(usage.usd), str):
        found["usd"] = amount
    return found


def _finish(prepared: Prepared) -> AgentResult:
    stream = prepared.stream
    assert stream is not None and stream.parser is not None
    try:
        return stream.parser.finish(prepared.home)
    except Exception as exc:  # noqa: BLE001 - a parser's bug is a warning, the attempt is kept
        from engine.agents.base import Usage

        prepared.warnings.append(("stream", f"reading the agent's result failed: {type(exc).__name__}: {exc}"))
        return AgentResult(None, Usage())


def last_block(tail: str) -> str | None:
    """The end of what a tool printed: the output tail from its first whole line, trailing
    blank space removed."""
    text = tail.rstrip()
    if len(tail) >= TAIL_CHARS and "\n" in text:
        text = text.split("\n", 1)[1]
    return text or None


def read_output_file(workdir: str, name: str, prepared: Prepared) -> str | None:
    """The text of the file the step names as its output: a regular file inside the working
    copy, at most ``MAX_OUTPUT_CHARS`` read."""
    base = os.path.realpath(workdir)
    path = os.path.realpath(os.path.join(workdir, name))
    if not path.startswith(base + os.sep):
        prepared.warnings.append(("output_file", f"{name} leads out of the step's working copy; not read"))
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        prepared.warnings.append(("output_file", f"{name}: {exc.strerror}; the step has no output"))
        return None
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            prepared.warnings.append(("output_file", f"{name} is not a regular file; not read"))
            return None
        data = os.read(fd, MAX_OUTPUT_CHARS * 4 + 1)
    finally:
        os.close(fd)
    return data.decode("utf-8", errors="replace")


def make_home(home: str) -> None:
    """A fresh home for one attempt. Another attempt's ``cleanup`` may remove the run's folder of
    homes the moment it is empty, between ``makedirs`` making it and making ``home`` in it: make
    both again then (a third step cannot empty a folder that holds this home)."""
    for _ in range(8):
        try:
            os.makedirs(home, mode=0o700)
            return
        except FileNotFoundError:
            continue
    os.makedirs(home, mode=0o700)  # the error, if the folder keeps going away


def cleanup(prepared: Prepared | None) -> None:
    """The attempt's home goes once its result is read: it may hold the agent's session and
    caches, and nothing in it is the user's."""
    if prepared is not None:
        shutil.rmtree(prepared.home, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(prepared.home))  # the run's folder of homes, once empty
