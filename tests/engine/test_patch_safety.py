"""Patch inspection, apply and revert against real git repositories made in the test.

Every refusal is checked the same way: the whole test directory (the repository, a sibling
``outside/`` and the parent itself) is hashed before and after, with ``git status`` and HEAD,
and must not have changed by a byte.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import random
import re
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.patches import gitapply
from engine.patches.gitapply import ApplyResult, apply_patch, revert_patch
from engine.patches.safety import (
    PatchFile,
    PatchRefused,
    check_against_tree,
    check_path,
    inspect_patch,
)

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "patches"
TWENTY = "".join(f"{n}\n" for n in range(1, 21))


def twenty(changes: dict[int, str]) -> str:
    """The 20-line file with the given lines (1-based) replaced; "" deletes a line."""
    return "".join(changes.get(n, f"{n}\n") for n in range(1, 21))


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """No global or system git config, no identity from the environment: what the code under
    test sees is what the test set up."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL",
                 "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                            capture_output=True, text=True, timeout=30, check=True)
    return result.stdout


@dataclass
class Sandbox:
    top: Path
    repo: Path
    outside: Path

    def write(self, name: str, text: str) -> Path:
        path = self.repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def read(self, name: str) -> str:
        return (self.repo / name).read_text(encoding="utf-8")

    def commit(self, message: str = "change") -> str:
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", message)
        return self.head()

    def head(self) -> str:
        return git(self.repo, "rev-parse", "HEAD").strip()

    def diff_of(self, change: Callable[[], object]) -> str:
        """The diff ``change`` makes against HEAD, as the ledger captures it; the tree is then
        put back as it was."""
        change()
        git(self.repo, "add", "-A")
        diff = git(self.repo, "diff", "--cached", "--binary", "-M")
        git(self.repo, "reset", "-q", "--hard")
        return diff

    def status(self) -> str:
        return git(self.repo, "status", "--porcelain=v1", "--untracked-files=all")

    def snapshot(self) -> dict[str, object]:
        """Every file, directory and link under the test directory (the repository's object
        store and index aside), with ``git status`` and HEAD."""
        seen: dict[str, object] = {"status": self.status(), "HEAD": self.head()}
        skip = {self.repo / ".git" / "objects", self.repo / ".git" / "index"}
        for directory, dirs, files in os.walk(self.top):
            here = Path(directory)
            dirs[:] = [d for d in dirs if here / d not in skip]
            for name in dirs + files:
                path = here / name
                if path in skip:
                    continue
                info = path.lstat()
                key = str(path.relative_to(self.top))
                if stat.S_ISLNK(info.st_mode):
                    seen[key] = ("link", os.readlink(path))
                elif stat.S_ISDIR(info.st_mode):
                    seen[key] = ("dir", stat.S_IMODE(info.st_mode))
                else:
                    seen[key] = ("file", stat.S_IMODE(info.st_mode), hashlib.sha256(path.read_bytes()).hexdigest())
        return seen


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, timeout=30)
    box = Sandbox(tmp_path, repo, outside)
    box.write("f.txt", TWENTY)
    box.write("g.txt", "g\n")
    box.write("script.sh", "".join(f"echo {n}\n" for n in range(8)))
    box.write("sub/h.txt", "h\n")
    box.commit("initial")
    return box


def edit(box: Sandbox, name: str, old: str, new: str) -> Callable[[], None]:
    return lambda: box.write(name, box.read(name).replace(old, new, 1))


def corpus(name: str) -> str:
    return (CORPUS / name).read_bytes().decode("utf-8", errors="surrogateescape")


def assert_refused(box: Sandbox, run: Callable[[], object], expected: str) -> PatchRefused:
    before = box.snapshot()
    with pytest.raises(PatchRefused) as caught:
        run()
    assert expected in str(caught.value)
    assert str(caught.value).startswith("refused: ")
    assert box.snapshot() == before
    return caught.value


# --- inspection ----------------------------------------------------------------------------


def test_inspect_lists_files_with_counts_and_statuses(sandbox: Sandbox) -> None:
    def change() -> None:
        sandbox.write("f.txt", twenty({3: "three\n", 9: "", 10: ""}))
        (sandbox.repo / "g.txt").unlink()
        sandbox.write("new.txt", "a\nb\n")
        git(sandbox.repo, "mv", "sub/h.txt", "sub/renamed.txt")
        (sandbox.repo / "script.sh").chmod(0o755)

    files = {f.path: f for f in inspect_patch(sandbox.diff_of(change))}
    assert files["f.txt"] == PatchFile("f.txt", None, "modified", 1, 3, False, "100644", "100644")
    assert files["g.txt"] == PatchFile("g.txt", None, "deleted", 0, 1, False, "100644", None)
    assert files["new.txt"] == PatchFile("new.txt", None, "added", 2, 0, False, None, "100644")
    assert files["sub/renamed.txt"].status == "renamed"
    assert files["sub/renamed.txt"].old_path == "sub/h.txt"
    assert files["script.sh"] == PatchFile("script.sh", None, "mode", 0, 0, False, "100644", "100755")


def test_quoted_names_are_unquoted(sandbox: Sandbox) -> None:
    diff = sandbox.diff_of(lambda: sandbox.write("caf\u00e9 menu.txt", "x\n"))
    assert '"b/caf\\303\\251 menu.txt"' in diff
    assert [f.path for f in inspect_patch(diff)] == ["caf\u00e9 menu.txt"]
    apply_patch(sandbox.repo, diff)
    assert sandbox.read("caf\u00e9 menu.txt") == "x\n"


def test_refusal_is_an_input_error_with_reason_and_path() -> None:
    with pytest.raises(PatchRefused) as caught:
        inspect_patch(corpus("escape_dotdot.diff"))
    error = caught.value
    assert isinstance(error, InputError) and error.exit_code == 2
    assert str(error) == "refused: path '../escape.txt' leaves the repository"
    assert error.reason == "path '../escape.txt' leaves the repository"
    assert error.path == "../escape.txt"


@pytest.mark.parametrize("path", [
    ".git/config", ".GIT/config", ".Git/hooks/x", "sub/.git/config", ".git./x", ".git  /x", "git~1/x",
    "GIT~1/x", ".g\u200cit/x", "\ufeff.git/x", ".git::$INDEX_ALLOCATION/x", ".git",
])
def test_every_spelling_of_dot_git_is_refused(path: str) -> None:
    with pytest.raises(PatchRefused, match="writes inside .git"):
        check_path(path)


@pytest.mark.parametrize("path, reason", [
    ("../x", "leaves the repository"), ("a/../../x", "leaves the repository"), ("/etc/passwd", "is absolute"),
    ("C:/x", "is absolute"), ("a\\..\\x", "backslash"), ("a/./b", "not a normalized"), ("a//b", "not a normalized"),
    ("a/", "not a normalized"), ("x\ny", "control character"), ("x\x7fy", "control character"),
    ("x\udcffy", "not valid UTF-8"), ("", "empty name"),
])
def test_unsafe_paths_are_refused(path: str, reason: str) -> None:
    with pytest.raises(PatchRefused, match=re.escape(reason)):
        check_path(path)


@pytest.mark.parametrize("path", [".gitmodules", ".GitModules", ".gitmodules.", "gitmod~1", ".git\u200cmodules"])
def test_the_top_level_gitmodules_is_refused_in_every_spelling(path: str) -> None:
    with pytest.raises(PatchRefused, match="submodules are not allowed"):
        check_path(path)


@pytest.mark.parametrize("path", [".gitignore", ".github/workflows/ci.yml", "a..b", "...", "git~2", "sub/.gitmodules"])
def test_ordinary_paths_pass(path: str) -> None:
    check_path(path)


# --- applying ------------------------------------------------------------------------------


def test_good_patch_applies_to_the_working_tree(sandbox: Sandbox) -> None:
    diff = sandbox.diff_of(edit(sandbox, "f.txt", "3\n", "three\n"))
    result = apply_patch(sandbox.repo, diff)
    assert result == ApplyResult(applied=True, three_way=False, commit=None, files=result.files, diff=diff)
    assert [f.path for f in result.files] == ["f.txt"]
    assert sandbox.read("f.txt") == twenty({3: "three\n"})
    assert sandbox.status() == " M f.txt\n"


def test_commit_contains_exactly_the_patch(sandbox: Sandbox) -> None:
    head = sandbox.head()

    def change() -> None:
        edit(sandbox, "f.txt", "3\n", "three\n")()
        sandbox.write("new.txt", "new\n")

    diff = sandbox.diff_of(change)
    sandbox.write("g.txt", "unrelated, unstaged\n")
    sandbox.write("sub/h.txt", "unrelated, staged\n")
    git(sandbox.repo, "add", "sub/h.txt")
    result = apply_patch(sandbox.repo, diff, commit_message="uet: run r1, step fix\n\nProposed by ruff.")
    assert result.commit == sandbox.head() and result.commit != head
    assert git(sandbox.repo, "rev-parse", "HEAD^").strip() == head
    assert git(sandbox.repo, "show", "--name-status", "--format=", "HEAD").split("\n")[:-1] == ["M\tf.txt", "A\tnew.txt"]
    assert git(sandbox.repo, "log", "-1", "--format=%B").strip() == "uet: run r1, step fix\n\nProposed by ruff."
    user = re.sub(r"[^A-Za-z0-9._-]", "", getpass.getuser()) or "uet"
    assert git(sandbox.repo, "log", "-1", "--format=%an <%ae>").strip() == f"{user} <{user}@localhost>"
    assert sandbox.status() == " M g.txt\nM  sub/h.txt\n"
    assert sandbox.read("new.txt") == "new\n"


def test_configured_identity_is_kept(sandbox: Sandbox) -> None:
    git(sandbox.repo, "config", "user.name", "Ada")
    git(sandbox.repo, "config", "user.email", "ada@example.com")
    diff = sandbox.diff_of(edit(sandbox, "g.txt", "g", "G"))
    apply_patch(sandbox.repo, diff, commit_message="m")
    assert git(sandbox.repo, "log", "-1", "--format=%an <%ae>").strip() == "Ada <ada@example.com>"


def test_rename_with_mode_change_applies_and_commits(sandbox: Sandbox) -> None:
    def change() -> None:
        (sandbox.repo / "bin").mkdir()
        git(sandbox.repo, "mv", "script.sh", "bin/run.sh")
        sandbox.write("bin/run.sh", sandbox.read("bin/run.sh") + "echo there\n")
        (sandbox.repo / "bin/run.sh").chmod(0o755)

    diff = sandbox.diff_of(change)
    result = apply_patch(sandbox.repo, diff, commit_message="rename")
    (renamed,) = result.files
    assert (renamed.status, renamed.old_path, renamed.path) == ("renamed", "script.sh", "bin/run.sh")
    assert (renamed.old_mode, renamed.new_mode, renamed.added, renamed.removed) == ("100644", "100755", 1, 0)
    assert not (sandbox.repo / "script.sh").exists()
    assert os.access(sandbox.repo / "bin/run.sh", os.X_OK)
    assert git(sandbox.repo, "ls-tree", "HEAD", "bin/run.sh").startswith("100755 blob")
    assert sandbox.status() == ""


def test_base_equal_to_head_applies_directly(sandbox: Sandbox) -> None:
    base = sandbox.head()
    diff = sandbox.diff_of(edit(sandbox, "f.txt", "3\n", "three\n"))
    assert apply_patch(sandbox.repo, diff, base=base).three_way is False


def test_base_moved_elsewhere_applies_directly(sandbox: Sandbox) -> None:
    base = sandbox.head()
    diff = sandbox.diff_of(edit(sandbox, "f.txt", "3\n", "three\n"))
    sandbox.write("g.txt", "moved on\n")
    sandbox.commit()
    assert apply_patch(sandbox.repo, diff, base=base).three_way is False
    assert sandbox.read("f.txt").startswith("1\n2\nthree\n")


def test_base_moved_in_the_same_file_merges_three_way(sandbox: Sandbox) -> None:
    base = sandbox.head()
    diff = sandbox.diff_of(edit(sandbox, "f.txt", "3\n", "three\n"))
    sandbox.write("f.txt", twenty({18: "eighteen\n"}))
    sandbox.commit()
    result = apply_patch(sandbox.repo, diff, base=base, commit_message="merged")
    assert result.three_way and result.applied
    assert sandbox.read("f.txt") == twenty({3: "three\n", 18: "eighteen\n"})
    assert git(sandbox.repo, "show", "--name-only", "--format=", "HEAD").split() == ["f.txt"]
    assert sandbox.status() == ""
    revert_patch(sandbox.repo, result.diff)
    assert sandbox.read("f.txt") == twenty({18: "eighteen\n"})


def test_printed_diff_without_blob_ids_merges_from_its_base(sandbox: Sandbox) -> None:
    """A tool's printed diff (no ``diff --git``, no a/ b/ prefixes, no index line) still merges,
    because its base is known."""
    base = sandbox.head()
    printed = "--- f.txt\n+++ f.txt\n@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+three\n 4\n 5\n 6\n"
    sandbox.write("f.txt", twenty({18: "eighteen\n"}))
    sandbox.commit()
    result = apply_patch(sandbox.repo, printed, base=base)
    assert result.three_way
    assert sandbox.read("f.txt") == twenty({3: "three\n", 18: "eighteen\n"})


def test_already_applied_change_is_a_no_op(sandbox: Sandbox) -> None:
    base = sandbox.head()
    diff = sandbox.diff_of(edit(sandbox, "f.txt", "3\n", "three\n"))
    edit(sandbox, "f.txt", "3\n", "three\n")()
    sandbox.commit()
    before = sandbox.snapshot()
    result = apply_patch(sandbox.repo, diff, base=base)
    assert (result.applied, result.three_way, result.commit) == (False, True, None)
    assert sandbox.snapshot() == before


@pytest.mark.parametrize("with_base", [True, False], ids=["base", "no-base"])
def test_three_way_conflict_is_refused_with_the_tree_unchanged(sandbox: Sandbox, with_base: bool) -> None:
    base = sandbox.head()
    diff = sandbox.diff_of(edit(sandbox, "f.txt", "3\n", "three\n"))
    edit(sandbox, "f.txt", "3\n", "THREE\n")()
    sandbox.commit()
    sandbox.write("g.txt", "unrelated dirt\n")
    error = assert_refused(sandbox, lambda: apply_patch(sandbox.repo, diff, base=base if with_base else None,
                                                        commit_message="x"),
                           "conflict in f.txt; the tree is unchanged")
    assert error.path == "f.txt"


def test_patch_that_does_not_fit_its_base_is_refused(sandbox: Sandbox) -> None:
    base = sandbox.head()
    diff = sandbox.diff_of(edit(sandbox, "g.txt", "g", "G"))
    sandbox.write("g.txt", "other\n")
    moved = sandbox.commit()
    sandbox.write("g.txt", "other still\n")
    sandbox.commit()
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, diff, base=moved), "does not apply to its base")
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, diff), "conflict in g.txt")
    printed = "--- a/g.txt\n+++ b/g.txt\n@@ -1 +1 @@\n-g\n+G\n"
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, printed), "does not apply to HEAD and cannot be merged")
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, diff, base="no-such-ref"), "is not a commit")
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, diff, base="--output=x"), "is not a commit")
    assert base


@pytest.mark.parametrize("dirt", ["unstaged", "staged", "untracked", "ignored"])
def test_dirty_target_is_refused(sandbox: Sandbox, dirt: str) -> None:
    def change() -> None:
        edit(sandbox, "f.txt", "3\n", "three\n")()
        sandbox.write("new.txt", "new\n")

    diff = sandbox.diff_of(change)
    if dirt in ("unstaged", "staged"):
        edit(sandbox, "f.txt", "20\n", "twenty\n")()
        if dirt == "staged":
            git(sandbox.repo, "add", "f.txt")
        expected = "uncommitted changes to f.txt; commit or stash them first"
    else:
        if dirt == "ignored":
            (sandbox.repo / ".git" / "info" / "exclude").write_text("new.txt\n", encoding="utf-8")
        sandbox.write("new.txt", "mine\n")
        expected = "uncommitted changes to new.txt; commit or stash them first"
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, diff), expected)


def test_unrelated_dirty_files_are_fine(sandbox: Sandbox) -> None:
    diff = sandbox.diff_of(edit(sandbox, "f.txt", "3\n", "three\n"))
    sandbox.write("g.txt", "dirty\n")
    sandbox.write("scratch.txt", "untracked\n")
    apply_patch(sandbox.repo, diff)
    assert sandbox.status() == " M f.txt\n M g.txt\n?? scratch.txt\n"


def test_binary_patch_applies_when_allowed(sandbox: Sandbox) -> None:
    diff = corpus("binary_blob.diff")
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, diff), "binary change to 'bin.dat'")
    result = apply_patch(sandbox.repo, diff, allow_binary=True, commit_message="blob")
    assert result.files[0].binary
    assert (sandbox.repo / "bin.dat").read_bytes() == b"\x00\x01\x02binary\x00\xff"
    revert_patch(sandbox.repo, diff, commit_message="no blob")
    assert not (sandbox.repo / "bin.dat").exists()


def test_repo_must_be_the_top_of_the_working_tree(sandbox: Sandbox) -> None:
    diff = sandbox.diff_of(edit(sandbox, "sub/h.txt", "h", "H"))
    with pytest.raises(InputError, match="not the top of its git working tree"):
        apply_patch(sandbox.repo / "sub", diff)
    with pytest.raises(InputError, match="not a git working tree"):
        apply_patch(sandbox.outside, diff)


def test_empty_commit_message_is_refused_before_anything(sandbox: Sandbox) -> None:
    diff = sandbox.diff_of(edit(sandbox, "g.txt", "g", "G"))
    with pytest.raises(InputError, match="commit message is empty"):
        apply_patch(sandbox.repo, diff, commit_message=" \n")


# --- reverting -----------------------------------------------------------------------------


def test_revert_after_commit(sandbox: Sandbox) -> None:
    start = sandbox.head()
    diff = sandbox.diff_of(edit(sandbox, "f.txt", "3\n", "three\n"))
    apply_patch(sandbox.repo, diff, commit_message="apply")
    result = revert_patch(sandbox.repo, diff, commit_message="revert")
    assert result.commit == sandbox.head()
    assert git(sandbox.repo, "diff", start, "HEAD") == ""
    assert sandbox.status() == ""


def test_revert_of_uncommitted_apply(sandbox: Sandbox) -> None:
    def change() -> None:
        edit(sandbox, "f.txt", "3\n", "three\n")()
        sandbox.write("new.txt", "new\n")

    diff = sandbox.diff_of(change)
    apply_patch(sandbox.repo, diff)
    edit(sandbox, "f.txt", "19\n", "my own edit\n")()
    result = revert_patch(sandbox.repo, diff)
    assert (result.applied, result.commit) == (True, None)
    assert sandbox.read("f.txt") == twenty({19: "my own edit\n"})
    assert not (sandbox.repo / "new.txt").exists()


def test_revert_refused_when_later_changes_touch_the_same_lines(sandbox: Sandbox) -> None:
    diff = sandbox.diff_of(edit(sandbox, "f.txt", "3\n", "three\n"))
    apply_patch(sandbox.repo, diff, commit_message="apply")
    edit(sandbox, "f.txt", "three\n", "THREE\n")()
    sandbox.commit("later")
    assert_refused(sandbox, lambda: revert_patch(sandbox.repo, diff), "later changes touch the same lines")
    assert_refused(sandbox, lambda: revert_patch(sandbox.repo, diff, commit_message="r"),
                   "later changes touch the same lines")


# --- the hostile corpus ----------------------------------------------------------------------

HOSTILE = {
    "escape_dotdot.diff": "path '../escape.txt' leaves the repository",
    "escape_nested.diff": "path 'sub/../../outside/secret.txt' leaves the repository",
    "escape_traditional.diff": "path '../outside/secret.txt' leaves the repository",
    "absolute_git.diff": "path '/tmp/uet-absolute.txt' is absolute",
    "dotgit_hooks.diff": "path '.git/hooks/post-checkout' writes inside .git",
    "dotgit_upper.diff": "path '.GIT/hooks/post-checkout' writes inside .git",
    "dotgit_ntfs_dot.diff": "path '.git./hooks/post-checkout' writes inside .git",
    "dotgit_ntfs_short.diff": "path 'git~1/hooks/post-checkout' writes inside .git",
    "dotgit_nested.diff": "path 'sub/.git/config' writes inside .git",
    "rename_into_git.diff": "path '.git/config' writes inside .git",
    "rename_mismatch.diff": "path '../escape.txt' leaves the repository",
    "rename_header_mismatch.diff": "'rename' names 'elsewhere.txt' but the header names 'ok.txt'",
    "symlink_create.diff": "'link' is a symbolic link (mode 120000)",
    "symlink_mode_spaced.diff": "a file is a symbolic link (mode 120000) on line 2",
    "symlink_mode_trailing.diff": "a file is a symbolic link (mode 120000) on line 2",
    "symlink_mode_change.diff": "'g.txt' is a symbolic link (mode 120000)",
    "submodule.diff": "'vendor/lib' is a submodule (mode 160000)",
    "gitmodules.diff": "path '.gitmodules' is the repository's .gitmodules",
    "binary_blob.diff": "binary change to 'bin.dat'",
    "lying_header_short.diff": "announces 1 old and 1 new lines, but its body goes on (line 8)",
    "lying_header_long.diff": "announces 5 old and 5 new lines, but the diff ends first",
    "lying_header_swallow.diff": "announces 1 old and 3 new lines, but line 8 ends it early",
    "bad_hunk_header.diff": "bad hunk header on line 4",
    "header_mismatch.diff": "malformed diff: Target without source",
    "quoted_nul_path.diff": "path 'x\\x00y' contains a control character",
    "quoted_escape_sequence.diff": "path '\\x1b[2Jx' contains a control character",
    "backslash.diff": "contains a backslash",
    "garbage.txt": "malformed diff: no file headers",
    "dated_names.diff": "git reads this diff differently from the inspection",
}


def test_every_corpus_file_is_exercised() -> None:
    assert sorted(HOSTILE) == sorted(p.name for p in CORPUS.iterdir())


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_corpus_is_refused(sandbox: Sandbox, name: str) -> None:
    diff = corpus(name)
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, diff, commit_message="hostile"), HOSTILE[name])
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, diff, base=sandbox.head()), HOSTILE[name])
    if name != "binary_blob.diff":
        assert_refused(sandbox, lambda: revert_patch(sandbox.repo, diff), HOSTILE[name])
    assert not Path("/tmp/uet-absolute.txt").exists()


def new_file_diff(name: str, body: str = "x\n") -> str:
    lines = body.splitlines(keepends=True)
    return (f"diff --git a/{name} b/{name}\nnew file mode 100644\n--- /dev/null\n+++ b/{name}\n"
            f"@@ -0,0 +1,{len(lines)} @@\n" + "".join("+" + line for line in lines))


def test_old_name_of_a_plain_diff_is_checked_too() -> None:
    with pytest.raises(PatchRefused, match="path '../../etc/passwd' leaves the repository"):
        inspect_patch("--- ../../etc/passwd\n+++ f.txt\n@@ -1 +1 @@\n-1\n+one\n")


def test_absolute_target_outside_is_refused(sandbox: Sandbox) -> None:
    target = sandbox.outside / "abs.txt"
    diff = f"--- /dev/null\n+++ {target}\n@@ -0,0 +1 @@\n+x\n"
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, diff), f"path '{target}' is absolute")
    assert not target.exists()


@pytest.mark.parametrize("diff, expected", [
    ("", "no changes: the diff is empty"),
    ("\n  \n\t\n", "no changes: the diff is empty"),
    ("diff --git a/x\0y b/x\0y\nnew file mode 100644\n--- /dev/null\n+++ b/x\0y\n@@ -0,0 +1 @@\n+x\n",
     "the diff contains a NUL byte on line 1"),
    (new_file_diff("ok.txt", "fine\n\0hidden\n"), "the diff contains a NUL byte on line 7"),
    (new_file_diff("ok.txt") + "\udcff\ud800", "not encodable as UTF-8"),
], ids=["empty", "blank", "nul-in-path", "nul-in-body", "lone-surrogate"])
def test_degenerate_diffs_are_refused(sandbox: Sandbox, diff: str, expected: str) -> None:
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, diff), expected)


@pytest.mark.parametrize("seed", range(5))
def test_random_garbage_is_refused(sandbox: Sandbox, seed: int) -> None:
    rng = random.Random(seed)
    garbage = rng.randbytes(4096).decode("latin-1")
    if seed % 2:  # garbage behind a plausible header
        garbage = "diff --git a/g.txt b/g.txt\n--- a/g.txt\n+++ b/g.txt\n@@ -1 +1 @@\n" + garbage
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, garbage), "refused: ")


@pytest.mark.parametrize("line, expected", [
    ("Binary files " + "x and " * 20_000, "not a well-formed 'Binary files ... differ' line"),
    ("diff --git " + "://" * 30_000, "'diff --git' header without a/ and b/ names"),
    ("new file mode " + " " * 100_000 + "x" * 100_000 + " y", "only 100644 and 100755 are allowed"),
    ("@@ -" + "9" * 5_000 + " +1 @@", "bad hunk header"),
], ids=["binary-line", "uri-header", "mode-line", "huge-number"])
def test_lines_that_make_parsers_backtrack_are_refused_fast(line: str, expected: str) -> None:
    """unidiff's patterns are quadratic on some header lines (100 kB: half a minute)."""
    diff = "diff --git a/x b/x\n" + (line + "\n") * 20 + "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"
    started = time.perf_counter()
    with pytest.raises(PatchRefused, match=re.escape(expected)):
        inspect_patch(diff)
    assert time.perf_counter() - started < 1.0


def test_twenty_megabytes_is_refused_before_any_git_call(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_git(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"git was called: {args}")

    diff = new_file_diff("big.txt", ("z" * 99 + "\n") * (20 * 1024 * 1024 // 100))
    before = sandbox.snapshot()
    with monkeypatch.context() as patched:
        patched.setattr(gitapply.subprocess, "run", no_git)
        started = time.perf_counter()
        with pytest.raises(PatchRefused, match="larger than the limit of 10,485,760 bytes"):
            apply_patch(sandbox.repo, diff)
        assert time.perf_counter() - started < 1.0
    assert sandbox.snapshot() == before


def test_write_through_a_symlink_to_outside_is_refused(sandbox: Sandbox) -> None:
    (sandbox.repo / "link").symlink_to("../outside")
    sandbox.commit("a link")
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, new_file_diff("link/file.txt")),
                   "path 'link/file.txt' goes through the symbolic link 'link'")
    modify = "--- a/link/secret.txt\n+++ b/link/secret.txt\n@@ -1 +1 @@\n-secret\n+owned\n"
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, modify), "goes through the symbolic link 'link'")


def test_write_through_a_symlink_inside_is_refused_too(sandbox: Sandbox) -> None:
    (sandbox.repo / "inner").symlink_to("sub")
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, new_file_diff("inner/new.txt")),
                   "path 'inner/new.txt' goes through the symbolic link 'inner'")


def test_target_that_is_a_symlink_in_the_tree_is_refused(sandbox: Sandbox) -> None:
    (sandbox.repo / "g.txt").unlink()
    (sandbox.repo / "g.txt").symlink_to("../outside/secret.txt")
    diff = "--- a/g.txt\n+++ b/g.txt\n@@ -1 +1 @@\n-secret\n+owned\n"
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, diff),
                   "path 'g.txt' is a symbolic link in the working tree")


def test_file_where_a_directory_is_needed_is_refused(sandbox: Sandbox) -> None:
    assert_refused(sandbox, lambda: apply_patch(sandbox.repo, new_file_diff("g.txt/inside.txt")),
                   "needs 'g.txt' to be a directory, but it is a file")


def test_check_against_tree_resolves_parents(sandbox: Sandbox) -> None:
    """The realpath check on its own, for a caller that lists files without a diff."""
    os.symlink(sandbox.outside, sandbox.repo / "out")
    with pytest.raises(PatchRefused, match="symbolic link 'out'"):
        check_against_tree(sandbox.repo, [PatchFile("out/x", None, "added", 1, 0, False, None, "100644")])
    check_against_tree(sandbox.repo, [PatchFile("sub/new/x", None, "added", 1, 0, False, None, "100644")])


def test_sibling_folder_sharing_the_repository_name_is_outside(sandbox: Sandbox) -> None:
    """``<top>/repo-x`` starts with the text ``<top>/repo`` but is not inside it."""
    sibling = sandbox.top / f"{sandbox.repo.name}-x"
    sibling.mkdir()
    path = f"../{sibling.name}/f"
    with pytest.raises(PatchRefused, match=f"path '{re.escape(path)}' leaves the repository"):
        check_against_tree(sandbox.repo, [PatchFile(path, None, "added", 1, 0, False, None, "100644")])


def test_folder_sharing_the_prefix_of_dot_git_is_an_ordinary_folder(sandbox: Sandbox) -> None:
    """``.github/`` starts with the text ``.git`` but is not inside ``.git``."""
    applied = apply_patch(sandbox.repo, new_file_diff(".github/workflows/ci.yml", "on: push\n"))
    assert applied.applied and [file.path for file in applied.files] == [".github/workflows/ci.yml"]
    assert sandbox.read(".github/workflows/ci.yml") == "on: push\n"


def test_head_moving_during_the_commit_undoes_the_write(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    diff = sandbox.diff_of(edit(sandbox, "f.txt", "3\n", "three\n"))
    real_git = gitapply._git

    def racing_git(repo: Path, *args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        if "update-ref" in args:  # someone else commits first, without touching index or tree
            other = git(sandbox.repo, "commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", "other").strip()
            git(sandbox.repo, "update-ref", "HEAD", other)
        return real_git(repo, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(gitapply, "_git", racing_git)
    with pytest.raises(PatchRefused, match="HEAD moved while the patch was being committed"):
        apply_patch(sandbox.repo, diff, commit_message="mine")
    assert git(sandbox.repo, "log", "-1", "--format=%s").strip() == "other"
    assert sandbox.read("f.txt") == TWENTY
    assert sandbox.status() == ""


def test_linked_worktree_merges_with_the_shared_objects(sandbox: Sandbox) -> None:
    base = sandbox.head()
    diff = sandbox.diff_of(edit(sandbox, "f.txt", "3\n", "three\n"))
    edit(sandbox, "f.txt", "18\n", "eighteen\n")()
    sandbox.commit()
    worktree = sandbox.top / "wt"
    git(sandbox.repo, "worktree", "add", "-q", "--detach", str(worktree), "HEAD")
    result = apply_patch(worktree, diff, base=base, commit_message="in a worktree")
    assert result.three_way and result.commit == git(worktree, "rev-parse", "HEAD").strip()
    assert (worktree / "f.txt").read_text(encoding="utf-8") == twenty({3: "three\n", 18: "eighteen\n"})
    assert_refused(sandbox, lambda: apply_patch(worktree, corpus("dotgit_hooks.diff")), "writes inside .git")
