"""Prompts through the real CLI: a step's task is rendered from the outputs of the steps before
it and reaches its tool as an argument, a file or stdin; each attempt's output is recorded
(bounded, secrets masked) and shown by ``uet status RUN STEP``; a placeholder that names
nothing is an error at ``uet validate`` at its own line and column.

The tools are real processes (python3 one-liners); nothing is simulated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.agents.stream import LineStream, mask, secrets_of
from engine.prompts import check, fill_matrix, referenced_steps, render

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable


def uet(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "tui.cli", *args], cwd=project, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", **(env or {})})


def project(tmp_path: Path, workstream: str, router: str = "") -> Path:
    (tmp_path / ".uet").mkdir()
    (tmp_path / "ws.yaml").write_text(workstream)
    if router:
        (tmp_path / ".uet" / "router.yaml").write_text(router)
    return tmp_path


def last_run(root: Path) -> str:
    return json.loads(uet(root, "runs", "--json").stdout)[0]["id"]


def step(root: Path, run: str, sid: str) -> dict:
    done = uet(root, "status", run, sid, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


ECHO_FILE = f"[{PY}, -c, \"import sys; print('ANSWER', open(sys.argv[1]).read())\", \"{{prompt_file}}\"]"
SHOUT_STDIN = f"[{PY}, -c, \"import sys; print(sys.stdin.read().upper())\"]"


def test_outputs_feed_later_prompts_through_a_file_stdin_and_an_argument(tmp_path: Path) -> None:
    root = project(tmp_path, """\
name: chain
steps:
  - id: plan
    kind: plan
    description: the greeting
    prompt: "Plan {description} for step {step}; keep {{braces}}"
  - id: implement
    kind: review
    needs: [plan]
    prompt: |
      Implement this:
      {steps.plan.output}
  - id: check
    needs: [implement]
    run: [python3, -c, "import sys; print('CHECKED', sys.argv[1].count('IMPLEMENT'))", "{prompt}"]
    prompt: "{steps.implement.output}"
""", router=f"""\
tools:
  filer: {{command: {ECHO_FILE}, capabilities: [plan]}}
  shouter: {{command: {SHOUT_STDIN}, stdin: prompt, capabilities: [review]}}
""")
    done = uet(root, "run", "ws.yaml", "--plain")
    assert done.returncode == 0, done.stdout + done.stderr
    run = last_run(root)
    plan = step(root, run, "plan")
    assert plan["output"] == "ANSWER Plan the greeting for step plan; keep {braces}"
    assert step(root, run, "implement")["output"] == "IMPLEMENT THIS:\nANSWER PLAN THE GREETING FOR STEP PLAN; KEEP {BRACES}"
    assert step(root, run, "check")["output"] == "CHECKED 1"
    text = uet(root, "status", run, "implement").stdout
    assert "output:\n  IMPLEMENT THIS:" in text and "prompt: " in text
    prompt_file = Path(step(root, run, "plan")["attempts"][0]["prompt_path"])
    assert prompt_file.read_text() == "Plan the greeting for step plan; keep {braces}"
    assert not (root / ".uet" / "homes" / run).exists()  # each attempt's home goes with it


def test_a_matrix_instance_reads_its_own_upstream_and_context_is_listed(tmp_path: Path) -> None:
    root = project(tmp_path, """\
name: matrix
steps:
  - id: build-{pkg}
    matrix: {pkg: [core, cli]}
    description: built
    run: [python3, -c, "import sys; print(sys.argv[2], sys.argv[1])", "{pkg}", "{description}"]
  - id: note-{pkg}
    matrix: {pkg: [core, cli]}
    needs: ["build-{pkg}"]
    tool: filer
    context: ["src/*.py", "docs/missing.md"]
    prompt: "After {steps.build-{pkg}.output}"
""", router=f"tools:\n  filer: {{command: {ECHO_FILE}}}\n")
    (root / "src").mkdir()
    (root / "src" / "b.py").write_text("")
    (root / "src" / "a.py").write_text("")
    done = uet(root, "run", "ws.yaml", "--plain")
    assert done.returncode == 0, done.stdout + done.stderr
    run = last_run(root)
    assert step(root, run, "note-cli")["output"] == (
        "ANSWER After built cli\n\nFiles in scope:\n- src/a.py\n- src/b.py\n- docs/missing.md")
    assert step(root, run, "note-core")["output"].startswith("ANSWER After built core\n")


def test_validate_points_at_each_bad_placeholder(tmp_path: Path) -> None:
    root = project(tmp_path, """\
name: bad
steps:
  - id: plan
    run: [echo, plan]
  - id: side
    run: [echo, side]
  - id: implement
    needs: [plan]
    run: [echo, "{prompt}"]
    prompt: |
      Use {steps.plan.output}
      and {steps.side.output} and {steps.plam.output}
      for {descripton}, after {gate.feedback}; {facts.test_command}
""")
    done = uet(root, "validate", "ws.yaml")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert "ws.yaml:12:11: steps[2].prompt: {steps.side.output} names step 'side', which is not upstream" in done.stderr
    assert "ws.yaml:12:35: steps[2].prompt: {steps.plam.output} names no step of this workstream; " \
           "did you mean {steps.plan.output}?" in done.stderr
    assert "ws.yaml:13:11: steps[2].prompt: {descripton} is no placeholder of a prompt; did you mean {description}?" \
        in done.stderr
    assert "ws.yaml:13:31: steps[2].prompt: {gate.feedback}" in done.stderr
    assert "ws.yaml:13:48: steps[2].prompt: {facts.test_command} is a profile placeholder" in done.stderr
    assert not any("Traceback" in line for line in lines)
    assert not (root / ".uet" / "uet.db").exists()


def test_an_agent_tool_step_without_a_task_is_refused(tmp_path: Path) -> None:
    root = project(tmp_path, "name: t\nsteps:\n  - id: edit\n    tool: claude\n")
    done = uet(root, "validate", "ws.yaml")
    assert done.returncode == 2
    assert "goes to the agent 'claude' but gives it no task" in done.stderr


def test_passed_through_secrets_are_masked_and_outputs_bounded(tmp_path: Path) -> None:
    secret = "sk-test-0123456789abcdef"
    root = project(tmp_path, """\
name: secrets
steps:
  - id: leak
    tool: leaker
    prompt: "go"
    output_file: out.txt
  - id: talk
    tool: leaker
    prompt: "again"
    needs: [leak]   # both write out.txt: side by side, one could read the other's half-written file
""", router=f"""\
tools:
  leaker:
    command: [{PY}, -c, "import os; k = os.environ['MY_KEY']; print('key is', k); print('half', k[:10]); open('out.txt', 'w').write(k + 'x' * 300_000)"]
    env_passthrough: [MY_KEY]
""")
    done = uet(root, "run", "ws.yaml", "--plain", env={"MY_KEY": secret})
    assert done.returncode == 0, done.stdout + done.stderr
    run = last_run(root)
    leak = step(root, run, "leak")
    assert len(leak["output"]) <= 256 * 1024
    assert leak["output"].startswith("***xxx")
    assert leak["output"].endswith("[output cut at 256 KiB; the step's log has all of it]")
    talk = step(root, run, "talk")
    assert talk["output"] == "key is ***\nhalf sk-test-01"
    log = Path(talk["attempts"][0]["log_path"]).read_text()
    assert secret not in log and "key is ***" in log
    db = (root / ".uet" / "uet.db").read_bytes()
    assert secret.encode() not in db


# -- the pieces, directly ------------------------------------------------------------------------


def test_check_and_render_agree_on_what_a_placeholder_is() -> None:
    text = "A {steps.a.b.output} B {{x}} C { 'k': 1 } D {gate.feedback} E {steps.z.output}"
    assert referenced_steps(text) == ["a.b", "z"]
    problems = check(text, simple=["root"], step_ids=["a.b", "z"], upstream={"a.b"}, has_gate=True)
    assert [p.token for p in problems] == ["{steps.z.output}"]
    out = render(text, {}, {"a.b": "OUT"}, feedback="FAILED")
    assert out == "A OUT B {x} C { 'k': 1 } D FAILED E [step z gave no output]"
    assert fill_matrix("{steps.t-{pkg}.output} {{pkg}} {pkg}", {"pkg": "core"}) == "{steps.t-core.output} {{pkg}} core"


class Boom:
    def feed(self, line: str) -> list[str]:
        if line == "boom":
            raise ValueError("bad parser")
        return [f"seen {line}"]


def test_line_stream_keeps_lines_whole_masks_and_survives_its_parser(tmp_path: Path) -> None:
    secrets = secrets_of(["SECRETVALUE", "ab", None])
    assert secrets == ("SECRETVALUE",)
    stream = LineStream(Boom(), str(tmp_path / "raw.jsonl"), secrets)  # type: ignore[arg-type]
    assert stream.feed(b"one SECRET") == b""
    assert stream.feed(b"VALUE\nboom\ntw") == b"seen one ***\nuet: the stream parser failed on line 2: ValueError\n"
    assert stream.finish() == b"seen tw\n"
    assert (tmp_path / "raw.jsonl").read_text() == "one ***\nboom\ntw"
    endless = LineStream(None, None, ())
    assert len(endless.feed(b"x" * (2 << 20))) == 2 << 20  # a line without end is let through, not kept
    assert mask("a SECRETVALUE b", secrets) == "a *** b"


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd"])
def test_context_and_output_file_stay_inside(tmp_path: Path, bad: str) -> None:
    root = project(tmp_path, f"name: t\nsteps:\n  - id: a\n    run: [echo]\n    output_file: {bad}\n")
    done = uet(root, "validate", "ws.yaml")
    assert done.returncode == 2 and "output_file" in done.stderr


def test_a_missing_agent_is_a_warning_at_validate_and_names_its_install_at_run(tmp_path: Path) -> None:
    root = project(tmp_path, "name: t\nsteps:\n  - id: edit\n    tool: codex\n    prompt: fix it\n")
    empty = tmp_path / "bin"
    empty.mkdir()
    path = f"{empty}:{Path(PY).parent}:/usr/bin:/bin"
    done = uet(root, "validate", "ws.yaml", env={"PATH": path})
    assert done.returncode == 0
    assert "ws.yaml:4:5: steps[0].tool: tool 'codex' needs 'codex', which is not on PATH " \
           "(install: npm install -g @openai/codex)" in done.stderr
    done = uet(root, "run", "ws.yaml", "--plain", env={"PATH": path})
    assert done.returncode == 1
    assert "codex: not installed (npm install -g @openai/codex)" in step(root, last_run(root), "edit")["reason"]


def test_a_review_prompt_shows_the_patch_an_upstream_step_proposed(tmp_path: Path) -> None:
    from engine.adapters.sandbox import probe

    if not probe().available:
        pytest.skip("needs bubblewrap")
    root = project(tmp_path, """\
name: review
steps:
  - id: fix
    produces: patch
    run: [python3, -c, "open('a.txt', 'w').write('fixed\\\\n')"]
  - id: review
    needs: [fix]
    tool: filer
    prompt: "Review:\\n{steps.fix.patch}"
""", router=f"tools:\n  filer: {{command: {ECHO_FILE}}}\n")
    (root / "a.txt").write_text("broken\n")
    (root / ".gitignore").write_text(".uet/\n")
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    done = uet(root, "run", "ws.yaml", "--plain")
    assert done.returncode == 0, done.stdout + done.stderr
    output = step(root, last_run(root), "review")["output"]
    assert output.startswith("ANSWER Review:\ndiff --git a/a.txt b/a.txt") and "-broken\n+fixed" in output


def test_a_patch_placeholder_must_name_a_patch_step(tmp_path: Path) -> None:
    root = project(tmp_path, """\
name: t
steps:
  - id: plan
    run: [echo, plan]
  - id: review
    needs: [plan]
    run: [echo, "{prompt}"]
    prompt: "{steps.plan.patch}"
""")
    done = uet(root, "validate", "ws.yaml")
    assert done.returncode == 2
    assert "ws.yaml:8:14: steps[1].prompt: {steps.plan.patch} names step 'plan', which proposes no patch" in done.stderr
