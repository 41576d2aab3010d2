"""``build_map`` on real code: this repository and a trimmed copy of a real public package
(``fixtures/platformdirs``, MIT). The ranking is checked where the answer is known (what a focus
file uses ranks above what it does not), the budget is kept, the cache spares the parsing (seen
in the figures, not the clock), and files that cannot be read are listed, not fatal."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.repomap import RepoMapError, build_map
from engine.repomap.cache import FILE_NAME, MAX_ROOTS
from engine.repomap.render import estimate_tokens

REPO = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "platformdirs"
GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """The fixture package, copied where a cache may be written."""
    target = tmp_path / "platformdirs"
    shutil.copytree(FIXTURE, target)
    return target


def test_what_the_focus_file_uses_ranks_above_what_it_does_not(package: Path, tmp_path: Path) -> None:
    found = build_map(package, focus=["unix.py"], tokens=8192, cache_dir=tmp_path / "cache")
    ranks = found.ranks
    # unix.py imports from _paths, _runtime, _xdg and api; _android serves only android.py, and
    # windows.py is the other platform's twin of unix.py.
    for used in ("_paths.py", "_runtime.py", "_xdg.py", "api.py"):
        for unrelated in ("_android.py", "windows.py", "android.py", "ios.py"):
            assert ranks[used] > ranks[unrelated], (used, unrelated)
    assert found.focus == ["unix.py"]
    # the same file pair swaps places with the focus: _android.py is android.py's helper
    android = build_map(package, focus=["android.py"], tokens=1024, cache_dir=tmp_path / "cache").ranks
    windows = build_map(package, focus=["windows.py"], tokens=1024, cache_dir=tmp_path / "cache").ranks
    assert android["_android.py"] > android["_xdg.py"] and android["_android.py"] > android["_runtime.py"]
    assert windows["_xdg.py"] > windows["_android.py"]
    assert found.files.index("_paths.py") < found.files.index("windows.py")
    assert "class PlatformDirsABC" in found.text and "def create_checked_directories" in found.text
    # without a focus the shared base of every platform leads
    assert max(build_map(package, tokens=1024, cache_dir=tmp_path / "cache").ranks.items(),
               key=lambda item: item[1])[0] in ("api.py", "_paths.py")


def test_this_repository_map_follows_the_imports_of_its_focus(tmp_path: Path) -> None:
    found = build_map(REPO, focus=["engine/repomap/build.py"], tokens=4096, cache_dir=tmp_path / "cache")
    assert found.stats.files > 200 and found.stats.skipped == len(found.skipped)
    ranks = found.ranks
    for used in ("engine/repomap/parse.py", "engine/repomap/cache.py", "engine/repomap/files.py"):
        assert ranks[used] > ranks["tui/dag_layout.py"] and ranks[used] > ranks["engine/reaper.py"], used
    assert "engine/repomap/parse.py:" in found.text
    assert not any(path.startswith(".venv/") for path in found.ranks)  # git ignores it, so does the map


@pytest.mark.parametrize("tokens", [256, 700, 2048])
def test_the_text_keeps_to_its_budget_and_a_larger_one_shows_more(package: Path, tokens: int) -> None:
    found = build_map(package, tokens=tokens, cache=False)
    assert found.stats.tokens == estimate_tokens(found.text) <= tokens
    assert len(found.text) > (tokens - 100) * 4  # filled, not merely under
    bigger = build_map(package, tokens=tokens * 2, cache=False)
    assert len(bigger.files) >= len(found.files) and len(bigger.text) > len(found.text)
    first = found.text.split("\n", 1)[0]
    assert first.endswith(":") and (package / first[:-1]).is_file()


def test_a_warm_map_parses_nothing_and_a_copy_finds_its_tags_by_content(package: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold = build_map(package, cache_dir=cache)
    assert (cold.stats.parsed, cold.stats.cached, cold.stats.hashed, cold.stats.cache) == (15, 0, 15, "on")
    warm = build_map(package, cache_dir=cache)
    assert (warm.stats.parsed, warm.stats.cached, warm.stats.hashed) == (0, 15, 0)  # nothing even read
    assert warm.text == cold.text
    (package / "version.py").write_text("__version__ = '9'\nVERSION = (9,)\n")
    edited = build_map(package, cache_dir=cache)
    assert (edited.stats.parsed, edited.stats.cached, edited.stats.hashed) == (1, 14, 1)
    copy = tmp_path / "copy"
    shutil.copytree(package, copy)  # a scratch copy: new times, same content
    os.utime(copy / "unix.py", ns=(1, 1))
    copied = build_map(copy, cache_dir=cache)
    assert (copied.stats.parsed, copied.stats.cached, copied.stats.hashed) == (0, 15, 15)
    assert (cache / ".gitignore").read_text().endswith("*\n")


def test_the_cache_keeps_the_last_roots_and_drops_tags_no_path_has(package: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for n in range(MAX_ROOTS + 2):
        copy = tmp_path / f"copy{n}"
        shutil.copytree(package, copy)
        (copy / "version.py").write_text(f"V{n} = {n}\n")
        build_map(copy, cache_dir=cache)
    with sqlite3.connect(cache / FILE_NAME) as db:
        roots = {row[0] for row in db.execute("SELECT DISTINCT root FROM files")}
        versions = db.execute("""SELECT count(*) FROM tags WHERE data LIKE '%[["V_","constant"%'""").fetchone()[0]
    assert len(roots) == MAX_ROOTS and str(tmp_path / "copy0") not in roots
    assert versions == MAX_ROOTS  # the version.py of dropped roots went with them


def test_unreadable_files_are_listed_and_the_rest_is_mapped(package: Path, tmp_path: Path) -> None:
    (package / "broken.py").write_text("def fine():\n    return 1\n\ndef broken(:\n    pass\n")
    (package / "blob.py").write_bytes(b"x = 1\n\0\0\0")
    (package / "huge.py").write_text("x = 1\n" * 200_000)
    (package / "bundle.min.js").write_text("var a=" + "1+" * 3000 + "1;\n")
    (package / "notes.txt").write_text("not source")
    cache = tmp_path / "cache"
    found = build_map(package, cache_dir=cache)
    assert dict(found.skipped) == {
        "blob.py": "binary (holds NUL bytes)",
        "broken.py": "syntax error at line 4",
        "bundle.min.js": "minified or generated (a line of 6,008 characters)",
        "huge.py": "larger than 1 MiB (1,048,577 bytes)",
    }
    assert (found.stats.files, found.stats.skipped, found.stats.parsed) == (19, 4, 19)
    assert "unix.py:" in found.text and "broken.py" not in found.files
    again = build_map(package, cache_dir=cache)  # a skipped file is remembered too: nothing parsed
    assert (again.stats.parsed, again.skipped) == (0, found.skipped)


def test_a_work_tree_maps_what_git_lists_and_never_uet_or_vendored_folders(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("from .models import Model\n\ndef main() -> Model:\n    return Model()\n")
    (root / "src" / "models.py").write_text("class Model:\n    pass\n")
    (root / "src" / "generated.py").write_text("class Generated:\n    pass\n")
    (root / "node_modules" / "lib").mkdir(parents=True)
    (root / "node_modules" / "lib" / "index.js").write_text("function vendored() {}\n")
    (root / ".uet" / "worktrees").mkdir(parents=True)
    (root / ".uet" / "worktrees" / "copy.py").write_text("class Copy:\n    pass\n")
    (root / ".gitignore").write_text("src/generated.py\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=GIT_ENV)
    subprocess.run(["git", "-C", str(root), "add", "src/app.py", ".gitignore"], check=True, env=GIT_ENV)
    found = build_map(root, cache=False)  # models.py: untracked but not ignored, so listed
    assert sorted(found.ranks) == ["src/app.py", "src/models.py"]
    os.symlink(root / "src" / "models.py", root / "src" / "link.py")
    assert "src/link.py" not in build_map(root, cache=False).ranks  # a link may lead anywhere


def test_focus_outside_the_root_is_ignored_and_bad_requests_are_refused(package: Path, tmp_path: Path) -> None:
    found = build_map(package, focus=["../elsewhere.py", "missing.py", "unix.py"], tokens=512, cache=False)
    assert found.focus == ["unix.py"]
    # the same file pair swaps places with the focus: _android.py is android.py's helper
    android = build_map(package, focus=["android.py"], tokens=1024, cache_dir=tmp_path / "cache").ranks
    windows = build_map(package, focus=["windows.py"], tokens=1024, cache_dir=tmp_path / "cache").ranks
    assert android["_android.py"] > android["_xdg.py"] and android["_android.py"] > android["_runtime.py"]
    assert windows["_xdg.py"] > windows["_android.py"]
    with pytest.raises(RepoMapError, match="no such folder"):
        build_map(tmp_path / "nowhere")
    with pytest.raises(RepoMapError, match="tokens: 100 is out of bounds"):
        build_map(package, tokens=100)


def test_a_cache_that_cannot_be_written_turns_itself_off(package: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    found = build_map(package, cache_dir=blocker / "cache")
    assert found.stats.cache.startswith("cache off:") and found.stats.parsed == 15 and "unix.py:" in found.text


def test_two_processes_mapping_at_once_both_finish_and_agree(package: Path, tmp_path: Path) -> None:
    script = ("import sys; from engine.repomap import build_map; "
              "m = build_map(sys.argv[1], cache_dir=sys.argv[2]); print(m.stats.cache, len(m.text))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(package), str(tmp_path / "cache")], env=env,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [proc.communicate(timeout=120)[0].split() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    assert outputs[0] == outputs[1] and outputs[0][0] == "on"
    assert build_map(package, cache_dir=tmp_path / "cache").stats.parsed == 0


def test_a_map_asked_again_is_the_kept_one_and_another_focus_ranks_again(package: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = build_map(package, focus=["unix.py"], tokens=512, cache_dir=cache)
    with sqlite3.connect(cache / FILE_NAME) as db:
        db.execute("DELETE FROM tags")  # only the kept map can answer the same question now
    again = build_map(package, focus=["unix.py"], tokens=512, cache_dir=cache)
    assert (again.text, again.ranks, again.stats.parsed, again.stats.hashed) == (first.text, first.ranks, 0, 0)
    other = build_map(package, focus=["android.py"], tokens=512, cache_dir=cache)
    assert other.stats.parsed == 15 and other.text != first.text  # ranked anew, from tags parsed again
