"""A patch step cannot reach the user's repository: each hostile case of the containment issue
run through the real `uet run`, a real git repository and the real bubblewrap sandbox.

Every case ends by proving the repository is byte-for-byte as it was (every file under the
project but ``.uet/``, ``.git`` included: HEAD, index, config, hooks, working tree) and by
checking what the attempt recorded: its patch, its outcome, its events. Markers that a command
planted by the step would leave are looked for where the test can see them, outside the
project, so a command UET ran (during capture, or on a reviewer's ``git status`` in the kept
copy) would show.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.adapters import sandbox
from tests.conftest import Project
from tests.engine.patch_repos import git

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sandbox.probe().available, reason="bubblewrap cannot run here")]


def fingerprint(root: Path) -> str:
    """Every byte under the project but .uet/ (so .git too), with names and modes."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] == ".uet":
            continue
        digest.update(f"{relative}\0{path.lstat().st_mode:o}\0".encode())
        if path.is_symlink():
            digest.update(str(path.readlink()).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def repo(project: Project) -> Iterator[Project]:
    project.write("README.md", "# a project\n")
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "start")
    # What the first run would add (keeping .uet/ out of git status), added first so the
    # fingerprint holds from the start.
    (project.root / ".git" / "info" / "exclude").write_text("/.uet/\n")
    before = fingerprint(project.root)
    yield project
    assert fingerprint(project.root) == before, "the user's repository changed"


@pytest.fixture
def markers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Outside the project: where a planted command, had UET run it, would leave its mark."""
    return tmp_path_factory.mktemp("markers")


def run_step(project: Project, script: str, *, extra: str = "", env: dict[str, str] | None = None,
             argv: list[str] | None = None) -> tuple[subprocess.CompletedProcess[str], dict]:
    """Run one patch step whose command is ``sh -c SCRIPT`` (or ``argv``); return uet's result
    and the step."""
    quoted = json.dumps(argv or ["sh", "-c", textwrap.dedent(script).strip()])
    # Under .uet/ (its project is still the folder holding .uet/), so the tree stays as it was.
    workstream = project.write(".uet/workstreams/ws.yaml", f"name: hostile\nsteps:\n  - id: edit\n"
                                                          f"    run: {quoted}\n    produces: patch\n{extra}")
    result = subprocess.run(project.argv("run", "--plain", str(workstream)), cwd=project.root,
                            env={**project.env(), **(env or {})}, capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    [run] = project.runs()
    [step] = project.status(run["id"])["steps"]
    return result, step


def patches(project: Project) -> list[dict]:
    return json.loads(project.uet("patches", "--json", check=True).stdout)


def diff(project: Project, patch: dict) -> str:
    return project.uet("patch", "show", patch["id"], check=True).stdout


def events(project: Project, kind: str) -> list[dict]:
    [run] = project.runs()
    lines = project.uet("logs", run["id"], "--json", check=True).stdout.splitlines()
    return [json.loads(line)["data"] for line in lines if json.loads(line)["kind"] == kind]


def test_root_is_the_scratch_copy_and_a_write_there_becomes_the_patch(repo: Project) -> None:
    result, step = run_step(repo, "echo 'more' >> {root}/README.md")
    assert result.returncode == 0, result.stdout + result.stderr
    [patch] = patches(repo)
    assert [f["path"] for f in patch["files"]] == ["README.md"] and patch["added"] == 1
    assert f"{repo.root}/.uet/worktrees/" in patch["worktree"]
    assert "+more" in diff(repo, patch)
    assert step["state"] == "succeeded"


@pytest.mark.parametrize("how", ["absolute", "dotdot", "cwd_dotdot", "remount"])
def test_writes_aimed_at_the_user_tree_do_not_land(repo: Project, how: str) -> None:
    """Absolute paths and ../ escapes meet a read-only tree; remounting it writable needs
    capabilities that even root does not keep in the sandbox."""
    target = {"absolute": f"{repo.root}/README.md", "dotdot": "{root}/../../../../README.md",
              "cwd_dotdot": "../../../../README.md", "remount": f"{repo.root}/README.md"}[how]
    prelude = f"mount -o remount,bind,rw {repo.root} 2> /dev/null; mount -o remount,rw / 2> /dev/null" \
        if how == "remount" else ":"
    result, step = run_step(repo, f"""
        {prelude}
        {{ echo evil >> {target}; }} 2>> {{root}}/errors.txt
        {{ echo evil > {repo.root}/planted.txt; }} 2>> {{root}}/errors.txt
        exit 0
    """)
    assert result.returncode == 0, result.stdout + result.stderr
    [patch] = patches(repo)
    assert [f["path"] for f in patch["files"]] == ["errors.txt"], "only what it wrote in its copy"
    assert diff(repo, patch).count("Read-only file system") == 2
    assert not (repo.root / "planted.txt").exists()


def test_the_step_keeps_no_capability_even_as_root(repo: Project) -> None:
    """Root keeps every capability in a user namespace unless they are dropped, and could then
    remount the read-only tree writable where the kernel allows it."""
    result, step = run_step(repo, "grep -E '^Cap(Prm|Eff|Bnd|Amb)' /proc/self/status > {root}/caps.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    [patch] = patches(repo)
    lines = [line for line in diff(repo, patch).splitlines() if line.startswith("+Cap")]
    assert len(lines) == 4 and all(line.split()[-1] == "0000000000000000" for line in lines), lines


def test_the_environment_home_and_run_are_the_sandbox_s_own(repo: Project) -> None:
    """Only PATH, locale, TERM, the attempt marker and what the step declares get in; $HOME is
    a private one, and the real home (with whatever secrets it holds) and /run are covered."""
    home = Path(tempfile.mkdtemp(prefix="uet-home-", dir="/var/tmp"))  # not under /tmp, which is covered anyway
    try:
        (home / "secret.txt").write_text("the user's secret\n")
        result, step = run_step(repo, f"""
            env | sort > {{root}}/env.txt
            cat {home}/secret.txt > {{root}}/secret.txt 2>&1
            ls -A /run > {{root}}/run.txt
            exit 0
        """, extra="    env: {DECLARED: 'declared value'}\n", env={"HOME": str(home), "LEAKED_TOKEN": "do-not-pass"})
    finally:
        shutil.rmtree(home)
    assert result.returncode == 0, result.stdout + result.stderr
    [patch] = patches(repo)
    shown = diff(repo, patch)
    assert "+DECLARED=declared value" in shown and "+HOME=/tmp/home" in shown and "+UET_ATTEMPT=" in shown
    assert "LEAKED_TOKEN" not in shown and "do-not-pass" not in shown
    assert "the user's secret" not in shown and "No such file or directory" in shown
    assert {f["path"]: f["added"] for f in patch["files"]}["run.txt"] == 0, "/run is empty in the sandbox"


def test_a_program_of_the_project_s_own_venv_runs_but_sees_nothing_else_of_the_repository(repo: Project) -> None:
    """A step's program in the repository (its .venv, untracked) is shown read-only, with
    nothing else of the repository: not its sources, not untracked files beside it."""
    tool = repo.root / ".venv" / "bin" / "tool"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\necho ran > made.txt\n{ echo x > \"$0.planted\"; } 2>> made.txt\n"
                    f"cat {repo.root}/notes.txt >> made.txt 2>&1\nexit 0\n")
    tool.chmod(0o755)
    (repo.root / "notes.txt").write_text("untracked notes\n")
    (repo.root / ".git" / "info" / "exclude").write_text("/.uet/\n/.venv/\n/notes.txt\n")
    before = fingerprint(repo.root)
    try:
        result, step = run_step(repo, "", argv=[str(tool)])
        assert result.returncode == 0, result.stdout + result.stderr
        [patch] = patches(repo)
        shown = diff(repo, patch)
        assert "+ran" in shown and "Read-only file system" in shown, shown
        assert "untracked notes" not in shown and "No such file or directory" in shown, shown
        assert not Path(f"{tool}.planted").exists()
    finally:
        assert fingerprint(repo.root) == before
        (repo.root / "notes.txt").unlink()
        shutil.rmtree(repo.root / ".venv")
        (repo.root / ".git" / "info" / "exclude").write_text("/.uet/\n")


def test_a_program_installed_under_tmp_runs_but_nothing_else_of_tmp_is_shown(
        repo: Project, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The sandbox's /tmp is its own, which covers a checkout made under the host's /tmp (a CI
    clone and its .venv): the step's program installed there is shown again read-only, and
    nothing else of the host's /tmp."""
    prefix = tmp_path_factory.mktemp("toolchain")
    tool = prefix / "bin" / "tool"
    tool.parent.mkdir()
    secret = tmp_path_factory.mktemp("elsewhere") / "secret.txt"
    secret.write_text("not for the step\n")
    tool.write_text(f"#!/bin/sh\necho ran > made.txt\ncat {secret} >> made.txt 2>&1\n"
                    f"{{ echo x > {prefix}/planted; }} 2>> made.txt\nexit 0\n")
    tool.chmod(0o755)
    before = fingerprint(repo.root)
    result, step = run_step(repo, "", argv=[str(tool)])
    assert result.returncode == 0, result.stdout + result.stderr
    [patch] = patches(repo)
    shown = diff(repo, patch)
    assert "+ran" in shown and "not for the step" not in shown and "No such file or directory" in shown, shown
    assert "Read-only file system" in shown and not (prefix / "planted").exists(), shown
    assert fingerprint(repo.root) == before


def test_a_symlink_into_the_user_tree_neither_writes_there_nor_passes_as_a_patch(repo: Project) -> None:
    result, step = run_step(repo, f"""
        ln -s {repo.root}/README.md {{root}}/link
        echo evil >> {{root}}/link
        exit 0
    """)
    assert result.returncode == 1
    assert step["state"] == "failed" and "symbolic link" in step["reason"]
    assert patches(repo) == []


def test_a_rewritten_git_file_pointing_at_the_user_git_cannot_stage_into_its_index(repo: Project) -> None:
    result, step = run_step(repo, f"""
        rm -rf {{root}}/.git
        echo 'gitdir: {repo.root}/.git' > {{root}}/.git
        echo changed >> {{root}}/README.md
    """)
    assert result.returncode == 0, result.stdout + result.stderr
    [patch] = patches(repo)
    assert [f["path"] for f in patch["files"]] == ["README.md"]
    assert git(repo.root, "diff", "--cached", "--name-only") == ""


def test_git_config_fsmonitor_set_by_the_step_never_runs(repo: Project, markers: Path) -> None:
    mark = markers / "fsmonitor-ran"
    result, step = run_step(repo, f"""
        git -C {{root}} config core.fsmonitor 'touch {mark}; false'
        git -C {repo.root} config core.fsmonitor 'touch {mark}; false' 2> /dev/null
        echo changed >> {{root}}/README.md
        exit 0
    """)
    assert result.returncode == 0, result.stdout + result.stderr
    [patch] = patches(repo)
    assert [f["path"] for f in patch["files"]] == ["README.md"]
    # The copy kept for review has UET's own .git now: a reviewer's git status runs nothing.
    assert "README.md" in git(Path(patch["worktree"]), "status", "--porcelain")
    assert not mark.exists()


def test_hooks_written_to_the_common_git_dir_stay_in_the_copy_and_never_run(repo: Project, markers: Path) -> None:
    mark = markers / "hook-ran"
    result, step = run_step(repo, f"""
        hooks="$(git -C {{root}} rev-parse --path-format=absolute --git-common-dir)/hooks"
        for hook in pre-commit post-index-change post-checkout reference-transaction; do
            printf '#!/bin/sh\\ntouch {mark}\\n' > "$hooks/$hook" && chmod +x "$hooks/$hook"
            printf '#!/bin/sh\\ntouch {mark}\\n' > {repo.root}/.git/hooks/$hook 2> /dev/null
        done
        echo changed >> {{root}}/README.md
        echo "$hooks" > {{root}}/hooks-at.txt
        exit 0
    """)
    assert result.returncode == 0, result.stdout + result.stderr
    [patch] = patches(repo)
    assert f"+{patch['worktree']}/.git/hooks" in diff(repo, patch), "the step's git dir is its copy's own"
    git(Path(patch["worktree"]), "add", "-A")  # the kept copy's .git is UET's: no hook of the step's
    assert not mark.exists()


def test_a_gitattributes_filter_defined_by_the_step_does_not_run_during_capture(repo: Project, markers: Path) -> None:
    mark = markers / "filter-ran"
    result, step = run_step(repo, f"""
        cd {{root}}
        git config filter.evil.clean 'touch {mark}; cat'
        git config filter.evil.process 'touch {mark}'
        git config diff.evil.textconv 'touch {mark}; cat'
        printf '* filter=evil diff=evil\\n' > .gitattributes
        echo changed >> README.md
    """)
    assert result.returncode == 0, result.stdout + result.stderr
    [patch] = patches(repo)
    assert sorted(f["path"] for f in patch["files"]) == [".gitattributes", "README.md"]
    assert not mark.exists()


@pytest.mark.parametrize("network", [False, True])
def test_the_network_is_there_only_when_the_step_says_so(repo: Project, network: bool) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        probe = (f"import os, socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=10)\n"
                 "    said = 'connected'\nexcept OSError as exc:\n    said = f'refused {exc.errno}'\n"
                 "open('net.txt', 'w').write(said + '\\n' + os.environ.get('HTTPS_PROXY', 'no proxy') + '\\n')\n")
        result, step = run_step(repo, "", argv=[sys.executable, "-c", probe], extra=f"    network: {str(network).lower()}\n",
                                env={"HTTPS_PROXY": "http://proxy.invalid:3128"})
    assert result.returncode == 0, result.stdout + result.stderr
    [patch] = patches(repo)
    shown = diff(repo, patch)
    assert ("+connected" in shown) is network, shown
    assert ("+refused" in shown) is not network, shown
    assert ("+http://proxy.invalid:3128" in shown) is network, "the machine's proxy comes with the network"


def test_without_a_sandbox_a_patch_step_refuses_with_the_reason_and_the_fix(repo: Project, tmp_path: Path) -> None:
    result, step = run_step(repo, "echo more >> {root}/README.md", env={"UET_BWRAP": str(tmp_path / "no-bwrap")})
    assert result.returncode == 1
    assert step["state"] == "failed"
    reason = step["reason"]
    assert "refused to run a patch step without a sandbox" in reason and "is not installed" in reason
    assert "install bubblewrap" in reason and "`sandbox: off` in .uet/project.yaml" in reason
    assert patches(repo) == []
    assert [e["attempt"] for e in events(repo, "sandbox.refused")] == [1]
    assert not any((repo.root / ".uet" / "worktrees").glob("*/*")), "no scratch copy was made"


def test_sandbox_off_runs_uncontained_and_says_so_in_events_and_log(repo: Project, tmp_path: Path) -> None:
    repo.write(".uet/project.yaml", "sandbox: off\n")
    result, step = run_step(repo, "echo more >> {root}/README.md", env={"UET_BWRAP": str(tmp_path / "no-bwrap")})
    assert result.returncode == 0, result.stdout + result.stderr
    [patch] = patches(repo)
    assert [f["path"] for f in patch["files"]] == ["README.md"]
    [off] = events(repo, "sandbox.off")
    assert off["attempt"] == 1 and "WITHOUT the OS sandbox" in off["reason"] and "sandbox: off" in off["reason"]
    [run] = repo.runs()
    log = repo.uet("logs", run["id"], "edit", check=True).stdout
    assert "uet: patch step runs WITHOUT the OS sandbox" in log
    assert "without the sandbox" in result.stdout, "the live display shows it"


def test_a_change_to_the_user_repository_fails_the_attempt_loudly(project: Project, tmp_path: Path) -> None:
    """Uncontained (``sandbox: off``), a step that writes the user's tree and config is caught by
    the check after the attempt: failed, naming what changed, with an event."""
    project.write("README.md", "# a project\n")
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "start")
    project.write(".uet/project.yaml", "sandbox: off\n")
    result, step = run_step(project, f"""
        echo evil >> {project.root}/README.md
        git -C {project.root} config core.fsmonitor false
        echo more >> {{root}}/README.md
    """)
    assert result.returncode == 1
    assert step["state"] == "failed"
    assert "the user's repository" in step["reason"] and "changed during the attempt" in step["reason"]
    assert ".git/config" in step["reason"] and "the working tree (git status)" in step["reason"]
    [changed] = events(project, "repository.changed")
    assert changed["changed"] == [".git/config", "the working tree (git status)"]
    assert patches(project) == [], "nothing is proposed from an attempt that touched the repository"
    assert "REPOSITORY CHANGED" in result.stdout


@pytest.mark.parametrize("commit", [True, False])
def test_a_nested_repository_is_refused(repo: Project, commit: bool) -> None:
    """A repository the step makes inside its copy becomes a submodule (mode 160000) in the
    capture, or, without a commit, cannot be captured: either way no patch."""
    made = "git -C {root}/sub -c user.name=s -c user.email=s@s commit -q --allow-empty -m s" if commit else ":"
    result, step = run_step(repo, f"""
        git init -q {{root}}/sub
        echo x > {{root}}/sub/f.txt
        {made}
        echo changed >> {{root}}/README.md
    """)
    assert result.returncode == 1
    assert step["state"] == "failed" and "the step's change was refused" in step["reason"]
    assert ("submodule (mode 160000)" in step["reason"]) is commit, step["reason"]
    assert patches(repo) == []


def test_the_capture_ends_within_the_step_s_timeout(repo: Project) -> None:
    """UET's own git calls on what the step left count against the step's timeout: an 8 GiB
    file (sparse, made at once) takes git far longer to hash than the 2 s the step has."""
    result, step = run_step(repo, "truncate -s 8G {root}/big.bin", extra="    timeout: 2s\n")
    assert result.returncode == 1
    assert step["state"] == "failed"
    assert "did not finish within the step's timeout" in step["reason"], step["reason"]
    assert patches(repo) == []


def fake_bwrap(folder: Path, script: str) -> str:
    path = folder / "bwrap"
    path.write_text("#!/bin/sh\n" + textwrap.dedent(script).lstrip())
    path.chmod(0o755)
    return str(path)


def test_an_older_bwrap_without_disable_userns_still_sandboxes(tmp_path: Path) -> None:
    real = sandbox.probe().program
    older = sandbox._probe(fake_bwrap(tmp_path, f"""
        for arg in "$@"; do
            [ "$arg" = --disable-userns ] && {{ echo "bwrap: Unknown option --disable-userns" >&2; exit 1; }}
        done
        exec {real} "$@"
    """))
    assert older.available and not older.disable_userns
    (tmp_path / "repo").mkdir()
    (tmp_path / "work").mkdir()
    confinement = sandbox.Confinement(writable=(tmp_path / "work",), repository=tmp_path / "repo", objects=None)
    line = sandbox.wrap(["sh", "-c", "grep CapEff /proc/self/status"], str(tmp_path / "work"), confinement, {}, older)
    assert "--disable-userns" not in line
    ran = subprocess.run(line, capture_output=True, text=True, timeout=60, check=True)
    assert ran.stdout.split() == ["CapEff:", "0000000000000000"]


def test_a_bwrap_that_cannot_make_a_namespace_is_no_sandbox_and_says_why(tmp_path: Path) -> None:
    denied = sandbox._probe(fake_bwrap(tmp_path, """
        echo "bwrap: setting up uid map: Permission denied" >&2
        exit 1
    """))
    assert not denied.available
    assert denied.reason == f"bubblewrap ({tmp_path}/bwrap) cannot make a sandbox here: bwrap: setting up uid map: " \
                            "Permission denied"


def write_marker(path: str) -> bool:
    """A Python patch step: it runs in the engine, with its scratch copy as its {root}."""
    Path(path).write_text("from a callable\n", encoding="utf-8")
    return True


def test_a_python_callable_patch_step_gets_its_scratch_copy_as_root(repo: Project) -> None:
    workstream = repo.write(".uet/workstreams/ws.yaml", "name: callable\nsteps:\n  - id: edit\n"
                            "    call: tests.engine.test_containment:write_marker\n"
                            "    params: {path: '{root}/made.txt'}\n    produces: patch\n")
    result = repo.uet("run", "--plain", str(workstream), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    [patch] = patches(repo)
    assert [f["path"] for f in patch["files"]] == ["made.txt"]
    assert not (repo.root / "made.txt").exists()


def test_an_npm_program_is_shown_with_its_sibling_packages(tmp_path: Path) -> None:
    """``node_modules/.bin/codex`` links to its package's launcher, which runs a binary from a
    sibling package: the whole ``node_modules`` is shown, and nothing else of the covered home."""
    from engine.adapters.sandbox import toolchain

    home = tmp_path / "home"
    modules = home / "cache" / "node_modules"
    (modules / "cli" / "bin").mkdir(parents=True)
    (modules / "cli-linux-x64").mkdir()
    launcher = modules / "cli" / "bin" / "cli.js"
    launcher.write_text("#!/bin/sh\n")
    launcher.chmod(0o755)
    (modules / ".bin").mkdir()
    (modules / ".bin" / "cli").symlink_to("../cli/bin/cli.js")
    (home / ".ssh").mkdir()
    shown = toolchain(str(modules / ".bin" / "cli"), "/usr/bin:/bin", str(home))
    assert str(modules) in shown
    assert not any(path in (str(home), str(home / ".ssh"), str(home / "cache")) for path in shown)


def test_a_version_manager_shim_is_shown_with_the_manager(tmp_path: Path) -> None:
    """A pyenv or asdf shim is a script that runs the manager's own libexec and the chosen
    version: the manager's folder is shown, not the home around it."""
    from engine.adapters.sandbox import toolchain

    home = tmp_path / "home"
    manager = home / ".pyenv"
    (manager / "shims").mkdir(parents=True)
    (manager / "libexec").mkdir()
    shim = manager / "shims" / "python3"
    shim.write_text("#!/bin/sh\nexec \"$PYENV_ROOT/libexec/pyenv\" exec python3 \"$@\"\n")
    shim.chmod(0o755)
    shown = toolchain(str(shim), "/usr/bin:/bin", str(home))
    assert str(manager) in shown and str(home) not in shown
