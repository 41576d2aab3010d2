"""The one reader of the diff format over a real git diff: every line of the diff lands in a
file header or a hunk, byte for byte, however much a line looks like a header, so a hunk kept
by ``uet patch split`` is written back as it was proposed."""

from __future__ import annotations

import subprocess
from pathlib import Path

from engine.patches.diffs import parse
from engine.patches.safety import inspect_patch


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def test_every_line_of_a_git_diff_is_in_one_header_or_hunk(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    lines = [f"line {n}" for n in range(1, 40)]
    (tmp_path / "tricky.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "no_newline.txt").write_text("one\ntwo")
    (tmp_path / "moved.txt").write_text("stays the same\n")
    (tmp_path / "mode.sh").write_text("echo hi\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    lines[2] = "--- a/not_a_file"  # removed and added lines that look like headers
    lines[3] = "+++ b/not_a_file"
    lines[30] = "@@ -1 +1 @@ not a hunk"
    (tmp_path / "tricky.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "no_newline.txt").write_text("one\nTWO")
    (tmp_path / "moved.txt").rename(tmp_path / "renamed.txt")
    (tmp_path / "mode.sh").chmod(0o755)
    git(tmp_path, "add", "-A")
    diff = git(tmp_path, "diff", "--cached", "-M")
    inspect_patch(diff)  # a diff the safety check accepts, as every stored one is

    files = parse(diff)

    assert [(f.path, len(f.hunks)) for f in files] == [
        ("mode.sh", 0), ("no_newline.txt", 1), ("renamed.txt", 0), ("tricky.txt", 2)]
    rebuilt = [line for f in files for line in (*f.header, *(x for h in f.hunks for x in (h.header, *h.lines)))]
    assert rebuilt == diff.split("\n")[:-1]
    [last] = files[1].hunks
    assert last.lines[-1] == "\\ No newline at end of file" and (last.removed, last.added) == (1, 1)
    first, second = files[3].hunks
    assert (first.old_start, first.old_count, first.new_start, first.new_count) == (1, 7, 1, 7)
    assert (first.removed, first.added, second.removed, second.added) == (2, 2, 1, 1)


def test_a_plain_unified_diff_keeps_both_name_lines_in_its_header() -> None:
    diff = "--- a/f.txt\t2024-01-01\n+++ b/f.txt\t2024-01-02\n@@ -1 +1 @@\n-old\n+new\n"
    inspect_patch(diff)

    [file] = parse(diff)

    assert (file.path, file.header) == ("f.txt", ("--- a/f.txt\t2024-01-01", "+++ b/f.txt\t2024-01-02"))
    assert [(h.header, h.lines) for h in file.hunks] == [("@@ -1 +1 @@", ("-old", "+new"))]
