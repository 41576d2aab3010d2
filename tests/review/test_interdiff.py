"""The change between two rounds of a patch, on real git repositories: each round's diff is made
by git from real edits (as a scratch copy's capture is), and the answer is checked by applying
it to round n-1's files and getting round n's, byte for byte."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.patches.interdiff import InterdiffError, between_rounds
from tests.engine.patch_repos import LINES, git


def repo(tmp_path: Path, files: dict[str, str]) -> tuple[Path, str]:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root, git(root, "rev-parse", "HEAD").strip()


def round_diff(root: Path, base: str, files: dict[str, str | None]) -> str:
    """The diff against ``base`` of a round that leaves ``files`` so (None deletes), made the way
    a capture is (everything staged, ``diff --cached``); the tree is put back afterwards."""
    for name, text in files.items():
        path = root / name
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    git(root, "add", "-A")
    diff = git(root, "diff", "--cached", "--full-index", "-M", "--src-prefix=a/", "--dst-prefix=b/", base)
    git(root, "reset", "-q", "--hard", base)
    git(root, "clean", "-qfd")
    return diff


def files_after(root: Path, base: str, diffs: list[str]) -> dict[str, str]:
    """The repository's text files at ``base`` with ``diffs`` applied in turn, read from a copy."""
    copy = root.parent / "check"
    subprocess.run(["git", "clone", "-q", str(root), str(copy)], check=True)
    git(copy, "checkout", "-q", base)
    for diff in diffs:
        subprocess.run(["git", "-C", str(copy), "apply", "-"], input=diff, text=True, check=True)
    found = {str(p.relative_to(copy)): p.read_text() for p in copy.rglob("*") if p.is_file() and ".git" not in p.parts}
    subprocess.run(["rm", "-rf", str(copy)], check=True)
    return found


def untouched(root: Path) -> tuple[str, str, str]:
    """What must not change: the status, HEAD and the object count."""
    return (git(root, "status", "--porcelain", "--untracked-files=all"), git(root, "rev-parse", "HEAD"),
            git(root, "count-objects"))


def test_only_what_changed_between_the_rounds_is_shown(tmp_path: Path) -> None:
    root, base = repo(tmp_path, {"f.txt": LINES, "g.txt": "alpha\nbeta\n"})
    first = round_diff(root, base, {"f.txt": LINES.replace("line 2\n", "line two\n").replace("line 19\n", "line nineteen\n"),
                                    "g.txt": "alpha\nBETA\n"})
    second = round_diff(root, base, {"f.txt": LINES.replace("line 2\n", "line 2, fixed\n").replace("line 19\n", "line nineteen\n"),
                                     "g.txt": "alpha\nBETA\n", "new.txt": "added in round 2\n"})
    before = untouched(root)

    diff = between_rounds(root, base, first, second)

    assert untouched(root) == before
    assert "g.txt" not in diff and "nineteen" not in diff, "what both rounds did alike is not shown again"
    assert "-line two\n+line 2, fixed\n" in diff
    assert "diff --git a/new.txt b/new.txt\nnew file mode 100644" in diff
    assert diff.count("@@ ") == 2
    assert files_after(root, base, [first, diff]) == files_after(root, base, [second])


def test_a_change_taken_back_in_the_next_round_shows_as_going_back_to_the_base(tmp_path: Path) -> None:
    root, base = repo(tmp_path, {"f.txt": LINES, "old.txt": "kept\n"})
    first = round_diff(root, base, {"f.txt": LINES.replace("line 5\n", "line five\n"), "old.txt": None,
                                    "extra.txt": "round one only\n"})
    second = round_diff(root, base, {"f.txt": LINES.replace("line 9\n", "line nine\n")})

    diff = between_rounds(root, base, first, second)

    assert "-line five\n+line 5\n" in diff and "-line 9\n+line nine\n" in diff
    assert "diff --git a/extra.txt b/extra.txt\ndeleted file mode 100644" in diff
    assert "diff --git a/old.txt b/old.txt\nnew file mode 100644" in diff
    assert files_after(root, base, [first, diff]) == files_after(root, base, [second])


def test_the_same_result_twice_is_no_change_and_an_empty_round_is_the_base(tmp_path: Path) -> None:
    root, base = repo(tmp_path, {"f.txt": LINES})
    edit = round_diff(root, base, {"f.txt": LINES.replace("line 3\n", "line three\n")})

    assert between_rounds(root, base, edit, edit) == ""
    assert "-line 3\n+line three\n" in between_rounds(root, base, "", edit)
    back = between_rounds(root, base, edit, "")
    assert "-line three\n+line 3\n" in back


def test_a_project_in_a_folder_of_its_repository(tmp_path: Path) -> None:
    root, base = repo(tmp_path, {"app/f.txt": LINES, "other/x.txt": "x\n"})
    first = round_diff(root, base, {"app/f.txt": LINES.replace("line 1\n", "line one\n")})
    second = round_diff(root, base, {"app/f.txt": LINES.replace("line 1\n", "line 1 (one)\n")})

    diff = between_rounds(root / "app", base, first, second)

    assert "diff --git a/app/f.txt b/app/f.txt" in diff and "-line one\n+line 1 (one)\n" in diff


def test_a_round_that_does_not_apply_to_the_base_is_an_error_and_changes_nothing(tmp_path: Path) -> None:
    root, base = repo(tmp_path, {"f.txt": LINES})
    good = round_diff(root, base, {"f.txt": LINES.replace("line 4\n", "line four\n")})
    stale = good.replace("-line 4\n", "-line FOUR\n")
    before = untouched(root)

    with pytest.raises(InterdiffError, match=r"the diff of the previous round does not apply to its base"):
        between_rounds(root, base, stale, good)
    with pytest.raises(InterdiffError, match=r"the diff of this round does not apply"):
        between_rounds(root, base, good, stale)
    assert untouched(root) == before


def test_the_answer_is_bounded(tmp_path: Path) -> None:
    root, base = repo(tmp_path, {"f.txt": LINES})
    first = round_diff(root, base, {"f.txt": LINES.replace("line 4\n", "line four\n")})
    second = round_diff(root, base, {"f.txt": LINES.replace("line 6\n", "line six\n")})

    assert between_rounds(root, base, first, second, max_bytes=10_000)
    with pytest.raises(InterdiffError, match=r"more than the 100 shown"):
        between_rounds(root, base, first, second, max_bytes=100)


def test_outside_a_repository_it_says_so(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(InterdiffError, match="not in a git working tree"):
        between_rounds(tmp_path / "plain", "0" * 40, "", "")
