"""Keeping some lines of a hunk: the sub-hunk drops the ``+`` lines not chosen and keeps the
``-`` lines not chosen as context. Each cut is checked by git itself on a real repository
(``git apply --check``, then applied), and the file must read exactly as expected; the CLI
splits by lines and the new patch, gated, is approved and applies."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from engine.patches.diffs import parse
from engine.patches.hunks import select
from engine.patches.lines import LineChoiceError, changed_lines, parse_ranges
from tests.conftest import Project
from tests.engine.patch_repos import LINES, git, two_hunk_repo
from tui.cli import main

BEFORE = "".join(f"line {n}\n" for n in range(1, 11))
# two nearby edits, one hunk: line 4 replaced, a line added after line 6
AFTER = BEFORE.replace("line 4\n", "line four\n").replace("line 6\n", "line 6\nline 6.5\n")


def _repo(root: Path, name: str, before: str, after: str) -> str:
    """A repository holding ``before`` committed, and the diff to ``after`` (the tree left as before)."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    path = root / name
    path.write_text(before) if before is not None else None
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", "start")
    path.write_text(after)
    git(root, "add", "-A")
    diff = git(root, "diff", "--cached")
    git(root, "reset", "-q", "--hard")
    return diff


def _apply(root: Path, diff: str) -> None:
    for args in (["apply", "--check", "-"], ["apply", "-"]):
        done = subprocess.run(["git", "-C", str(root), *args], input=diff, text=True, capture_output=True)
        assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}\n{diff}"


def test_the_two_edits_of_one_hunk_each_apply_alone(tmp_path: Path) -> None:
    diff = _repo(tmp_path / "r", "f.txt", BEFORE, AFTER)
    [hunk] = parse(diff)[0].hunks
    body = dict(enumerate(hunk.lines, 1))
    minus, plus, added = (n for n in changed_lines(hunk))
    assert (body[minus], body[plus], body[added]) == ("-line 4", "+line four", "+line 6.5")

    _apply(tmp_path / "r", select(diff, set(), {hunk.id: {minus, plus}}))
    assert (tmp_path / "r" / "f.txt").read_text() == BEFORE.replace("line 4\n", "line four\n")
    git(tmp_path / "r", "checkout", "-q", "--", ".")

    _apply(tmp_path / "r", select(diff, set(), {hunk.id: {added}}))
    assert (tmp_path / "r" / "f.txt").read_text() == BEFORE.replace("line 6\n", "line 6\nline 6.5\n")


def test_an_unchosen_removal_stays_and_an_unchosen_addition_goes(tmp_path: Path) -> None:
    diff = _repo(tmp_path / "r", "f.txt", BEFORE, AFTER)
    [hunk] = parse(diff)[0].hunks
    minus, plus, _added = changed_lines(hunk)
    _apply(tmp_path / "r", select(diff, set(), {hunk.id: {plus}}))  # the new line, the old one kept
    assert (tmp_path / "r" / "f.txt").read_text() == BEFORE.replace("line 4\n", "line 4\nline four\n")
    git(tmp_path / "r", "checkout", "-q", "--", ".")
    _apply(tmp_path / "r", select(diff, set(), {hunk.id: {minus}}))  # only the removal
    assert (tmp_path / "r" / "f.txt").read_text() == BEFORE.replace("line 4\n", "")


def test_a_later_hunk_starts_where_the_cut_hunk_leaves_it(tmp_path: Path) -> None:
    before = "".join(f"line {n}\n" for n in range(1, 41))
    after = before.replace("line 3\n", "line 3\nnew a\nnew b\n").replace("line 35\n", "line thirty-five\n")
    diff = _repo(tmp_path / "r", "f.txt", before, after)
    first, second = parse(diff)[0].hunks
    one = changed_lines(first)[0]  # "new a" only
    cut = select(diff, {second.id}, {first.id: {one}})
    later = [line for line in cut.splitlines() if line.startswith("@@")][1]
    assert later.startswith(f"@@ -{second.old_start},{second.old_count} +{second.old_start + 1},"), later
    _apply(tmp_path / "r", cut)
    assert (tmp_path / "r" / "f.txt").read_text() == before.replace("line 3\n", "line 3\nnew a\n").replace(
        "line 35\n", "line thirty-five\n")


def test_lines_of_a_new_file_and_a_last_line_without_newline(tmp_path: Path) -> None:
    diff = _repo(tmp_path / "r", "new.txt", None, "a\nb\nc")  # type: ignore[arg-type]
    [hunk] = parse(diff)[0].hunks
    a, _b, c = changed_lines(hunk)
    _apply(tmp_path / "r", select(diff, set(), {hunk.id: {a, c}}))
    assert (tmp_path / "r" / "new.txt").read_text() == "a\nc"
    (tmp_path / "r" / "new.txt").unlink()
    _apply(tmp_path / "r", select(diff, set(), {hunk.id: {a, _b}}))  # c's "no newline" mark goes with it
    assert (tmp_path / "r" / "new.txt").read_text() == "a\nb\n"


def test_bad_choices_are_refused_in_words(tmp_path: Path) -> None:
    diff = _repo(tmp_path / "r", "f.txt", BEFORE, AFTER)
    [hunk] = parse(diff)[0].hunks
    context = next(n for n, line in enumerate(hunk.lines, 1) if line.startswith(" "))
    with pytest.raises(LineChoiceError, match="no added or removed line"):
        select(diff, set(), {hunk.id: {context}})
    with pytest.raises(LineChoiceError, match="at least one"):
        select(diff, set(), {hunk.id: set()})
    deleted = _repo(tmp_path / "d", "f.txt", BEFORE, "")
    git(tmp_path / "d", "rm", "-q", "f.txt")
    deleted = git(tmp_path / "d", "diff", "--cached")
    [gone] = parse(deleted)[0].hunks
    with pytest.raises(LineChoiceError, match="deletes its file"):
        select(deleted, set(), {gone.id: {1}})
    assert parse_ranges("3-5,7") == {3, 4, 5, 7}
    for bad in ("x", "5-3", "0", "1-"):
        with pytest.raises(LineChoiceError):
            parse_ranges(bad)


@pytest.mark.slow
def test_cli_split_by_lines_is_gated_approved_and_applies(project: Project,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A tool makes two nearby edits (one hunk); `uet patch split --lines` keeps one of them:
    the new patch is gated, approved for the person who chose it, and applies exactly it."""
    two_hunk_repo(project, edits="-e 's/^line 4$/line four/' -e 's/^line 6$/line 6\\nline 6.5/'")
    [patch] = json.loads(project.uet("patches", "--json", check=True).stdout)
    cli = ["--db", str(project.db), "--project", str(project.root)]  # the rest in this process
    assert main(["patch", "hunks", patch["id"], "--lines", *cli]) == 0
    listed = capsys.readouterr().out
    plus = next(int(line.split()[0]) for line in listed.splitlines() if line.endswith(" +line 6.5"))
    assert main(["patch", "split", patch["id"], "--lines", "0.0:1", *cli]) == 2, "a context line"
    assert "no added or removed line 1" in capsys.readouterr().err
    assert main(["patch", "split", patch["id"], "--lines", f"0.0:{plus}", *cli]) == 0
    assert "approved" in capsys.readouterr().out
    assert main(["patches", "--json", *cli]) == 0
    kept = next(p for p in json.loads(capsys.readouterr().out) if p["state"] == "approved")
    assert (kept["added"], kept["removed"]) == (1, 0)
    assert main(["patch", "apply", kept["id"], *cli]) == 0
    assert (project.root / "f.txt").read_text() == LINES.replace("line 6\n", "line 6\nline 6.5\n")
