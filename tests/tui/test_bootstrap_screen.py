"""The bootstrap screen through Pilot: a Python repository bootstrapped end to end from the UI
and its quality workstream run with real ruff and pytest; overriding the profile; a conflict
that needs a typed ``force``; a path that is not a folder; cancelling a scan; completing a
folder name; and how the screen looks after a scan at 80×24 and 120×40."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from engine.bootstrap.orchestrate import bootstrap
from schemas.scan import ScanProgress
from tests.engine import repos
from tests.tui.test_dashboard import settle
from tui.app import UetApp, make_app
from tui.screens.ask import AskScreen
from tui.screens.bootstrap import BootstrapScreen
from tui.screens.dashboard import DashboardScreen
from tui.widgets.folder_picker import FolderSuggester
from tui.widgets.line_table import LineTable

VENV_BIN = os.path.dirname(sys.executable)
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture(autouse=True)
def venv_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The generated workstream runs ruff and pytest: the ones installed beside this Python."""
    monkeypatch.setenv("PATH", os.pathsep.join([VENV_BIN, os.environ.get("PATH", "")]))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = repos.python_package(tmp_path / "inventory")
    (root / ".uet").mkdir()
    return root


def app_for(root: Path, live: bool = True) -> UetApp:
    return make_app(root, root / ".uet" / "uet.db", live=live)


def on_screen(app: UetApp, scenario: Callable[[Any, BootstrapScreen], Awaitable[None]],
              size: tuple[int, int] = (80, 24)) -> None:
    """Open the app, press B, and hand the bootstrap screen to ``scenario``."""
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
            await pilot.press("B")
            await settle(pilot, lambda: isinstance(app.screen, BootstrapScreen))
            await pilot.pause()
            await scenario(pilot, app.screen)  # type: ignore[arg-type]

    asyncio.run(main())


async def scanned(pilot: Any, screen: BootstrapScreen, jobs: int = 1) -> None:
    """Wait until the screen holds the report of its ``jobs``-th run."""
    await settle(pilot, lambda: screen.job >= jobs and not screen.busy and screen.report is not None, timeout=30)
    await pilot.pause()


def table(screen: BootstrapScreen, name: str) -> LineTable:
    return screen.query_one(f"#{name}", LineTable)


def status(screen: BootstrapScreen) -> str:
    return str(screen.query_one("#status").render())


def test_a_python_repository_bootstrapped_and_launched_from_the_ui(repo: Path) -> None:
    app = app_for(repo)

    async def scenario(pilot: Any, screen: BootstrapScreen) -> None:
        await pilot.press("tab", "tab")  # past the path and the tab bar: the folder tree
        assert screen.focused is screen.query_one("#tree")
        await pilot.press("enter")  # the project itself, at the root of the tree
        await scanned(pilot, screen)
        report = screen.report
        assert report is not None and report.dry_run and not report.written
        assert "5 file(s) would be written" in status(screen)
        assert not (repo / ".uet" / "workstreams").exists()
        found = str(screen.query_one("#found-text").render())
        assert "Python 3" in found and "tests: pytest" in found and "python -m pytest -q" in found

        await pilot.press("3")
        ranking = table(screen, "ranking")
        assert screen.focused is ranking and ranking.keys[0] == "software-dev-python"
        assert ranking.row("software-dev-python") == ("▶", "software-dev-python", "13", "chosen")
        evidence = table(screen, "evidence")
        assert ("+3", "pytest configured in pyproject.toml", "pyproject.toml:13") in [
            evidence.row(key) for key in evidence.keys]
        await pilot.press("down")
        assert evidence.border_title == f"Evidence: {ranking.keys[1]}"
        await pilot.press("up")

        await pilot.press("4")
        planned = table(screen, "planned")
        actions = {key: str(planned.row(key)[0]) for key in planned.keys}
        assert actions[".uet/workstreams/quality.yaml"] == "+ create" and actions[".gitignore"] == "~ update"
        planned.move_to(".gitignore")
        await pilot.pause()
        diff = str(screen.query_one("#diff").render())
        assert ".gitignore: will be updated" in diff and "+++ b/.gitignore" in diff

        await pilot.press("w")
        await scanned(pilot, screen, jobs=2)
        assert screen.report is not None and screen.report.written
        assert (repo / ".uet" / "workstreams" / "quality.yaml").is_file()
        assert screen.query_one("#tabs").active == "launch"  # type: ignore[attr-defined]
        workstreams = table(screen, "workstreams")
        assert screen.focused is workstreams and workstreams.keys == ["quality", "feature"]
        await pilot.press("enter")  # quality, the first
        await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
        dashboard = app.screen
        await settle(pilot, lambda: len(dashboard.runs) == 1, timeout=30)  # type: ignore[attr-defined]
        run = next(iter(dashboard.runs.values()))  # type: ignore[attr-defined]
        assert run.workstream == "quality"
        await settle(pilot, lambda: dashboard.runs[run.id].state.value in ("succeeded", "failed"),  # type: ignore[attr-defined]
                     timeout=120)
        assert dashboard.runs[run.id].state.value == "succeeded", dashboard.runs[run.id].reason  # type: ignore[attr-defined]

    on_screen(app, scenario)


def test_enter_on_another_profile_generates_its_files_instead(repo: Path) -> None:
    async def scenario(pilot: Any, screen: BootstrapScreen) -> None:
        await pilot.press("enter")  # the path input holds "." : the project
        await scanned(pilot, screen)
        await pilot.press("3")
        table(screen, "ranking").move_to("generic")
        await pilot.press("enter")
        await scanned(pilot, screen, jobs=2)
        report = screen.report
        assert report is not None and report.profile == "generic" and report.chosen_by == "option"
        ranking = table(screen, "ranking")
        assert ranking.row("generic")[0] == "▶" and ranking.row("generic")[3] == "chosen"
        assert ranking.row("software-dev-python")[3] == "detected"
        assert "chosen here; detection chose software-dev-python" in str(screen.query_one("#found-text").render())
        await pilot.press("w")
        await scanned(pilot, screen, jobs=3)
        assert "profile: generic" in (repo / ".uet" / "project.yaml").read_text(encoding="utf-8")

    on_screen(app_for(repo, live=False), scenario)


def test_a_conflict_is_written_only_after_typing_force(repo: Path) -> None:
    bootstrap(repo)
    router = repo / ".uet" / "router.yaml"
    edited = router.read_text(encoding="utf-8").replace("strategy: auto", "strategy: fixed")
    router.write_text(edited, encoding="utf-8")

    async def scenario(pilot: Any, screen: BootstrapScreen) -> None:
        await pilot.press("enter")
        await scanned(pilot, screen)
        assert "1 file(s) in conflict" in status(screen)
        await pilot.press("4")
        planned = table(screen, "planned")
        assert planned.cursor_key == ".uet/router.yaml" and str(planned.row(".uet/router.yaml")[0]) == "! conflict"
        diff = str(screen.query_one("#diff").render())
        assert "CONFLICT" in diff and "-strategy: fixed\n+strategy: auto" in diff

        await pilot.press("w")
        await settle(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
        await pilot.press("escape")
        await settle(pilot, lambda: pilot.app.screen is screen)
        assert router.read_text(encoding="utf-8") == edited and screen.job == 1

        await pilot.press("w")
        await settle(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
        await pilot.press(*"yes", "enter")  # anything but force keeps the file
        await settle(pilot, lambda: pilot.app.screen is screen)
        assert router.read_text(encoding="utf-8") == edited and screen.job == 1

        await pilot.press("w")
        await settle(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
        await pilot.press(*"force", "enter")
        await scanned(pilot, screen, jobs=2)
        assert screen.report is not None and screen.report.written
        assert "strategy: auto" in router.read_text(encoding="utf-8")
        assert str(table(screen, "planned").row(".uet/router.yaml")[0]) == "! forced"

    on_screen(app_for(repo, live=False), scenario)


@pytest.mark.parametrize(("typed", "error"), [("README.md", "not a directory"), ("nowhere", "no such directory")])
def test_a_path_that_is_not_a_folder_shows_an_error(repo: Path, typed: str, error: str) -> None:
    async def scenario(pilot: Any, screen: BootstrapScreen) -> None:
        path = screen.query_one("#path")
        path.value = ""  # type: ignore[attr-defined]
        await pilot.press(*typed, "enter")
        await settle(pilot, lambda: status(screen).startswith("✖"))
        assert error in status(screen) and screen.report is None and not screen.busy
        await pilot.press("w")
        assert not (repo / ".uet" / "project.yaml").exists()

    on_screen(app_for(repo, live=False), scenario)


def test_escape_cancels_a_scan_in_progress(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ended: list[str] = []

    def endless(path: Path, *, on_progress: Callable[[ScanProgress], None], **_: object) -> None:
        files = 0
        try:
            while True:
                files += 100
                on_progress(ScanProgress(files=files, dirs=files // 10, current="deep/tree"))
                time.sleep(0.01)
        except Exception as exc:
            ended.append(type(exc).__name__)
            raise

    monkeypatch.setattr("tui.screens.bootstrap.bootstrap", endless)

    async def scenario(pilot: Any, screen: BootstrapScreen) -> None:
        await pilot.press("enter")
        await settle(pilot, lambda: "files, " in status(screen))
        assert status(screen).startswith("scanning: ") and "(Esc cancels)" in status(screen)
        await pilot.press("escape")
        assert status(screen).startswith("scan cancelled") and pilot.app.screen is screen
        await settle(pilot, lambda: ended == ["ScanCancelled"])
        await pilot.press("escape")  # nothing running: back to the dashboard
        await settle(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen))

    on_screen(app_for(repo, live=False), scenario)


def test_found_lists_lfs_pointers_and_skipped_paths_with_reasons(repo: Path) -> None:
    pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 12345\n"
    repos.build(repo, {".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n", "models/weights.bin": pointer})
    os.symlink("does-not-exist.py", repo / "broken.py")

    async def scenario(pilot: Any, screen: BootstrapScreen) -> None:
        await pilot.press("enter")
        await scanned(pilot, screen)
        found = " ".join(str(screen.query_one("#found-text").render()).split())  # wrapped lines joined
        assert "LFS ⚠ 1 file(s) are LFS pointers, content never fetched: models/weights.bin" in found
        assert "skipped broken.py (broken symlink" in found

    on_screen(app_for(repo, live=False), scenario)


def test_enter_on_a_folder_in_the_tree_scans_that_folder(repo: Path) -> None:
    async def scenario(pilot: Any, screen: BootstrapScreen) -> None:
        await pilot.press("tab", "tab")
        tree = screen.query_one("#tree")
        await settle(pilot, lambda: len(tree.root.children) == 2)  # type: ignore[attr-defined]
        assert [str(node.label) for node in tree.root.children] == ["src", "tests"]  # type: ignore[attr-defined]
        await pilot.press("down", "space")  # src, opened without choosing it
        await settle(pilot, lambda: len(tree.root.children[0].children) == 1)  # type: ignore[attr-defined]
        assert screen.job == 0
        await pilot.press("enter")
        await scanned(pilot, screen)
        assert screen.target == repo / "src" and screen.query_one("#path").value == "src"  # type: ignore[attr-defined]

    on_screen(app_for(repo, live=False), scenario)


def test_folder_names_complete_from_the_filesystem(repo: Path) -> None:
    (repo / "src" / "inventory_extra").mkdir()
    suggester = FolderSuggester(repo)

    async def suggest(value: str) -> str | None:
        return await suggester.get_suggestion(value)

    assert asyncio.run(suggest("sr")) == "src"
    assert asyncio.run(suggest("src")) == "src/"
    assert asyncio.run(suggest("src/inv")) == "src/inventory"
    assert asyncio.run(suggest("src/inventory")) == "src/inventory/"
    assert asyncio.run(suggest("READ")) is None  # a file, not a folder
    assert asyncio.run(suggest(".u")) == ".uet"  # hidden folders once a dot is typed
    assert asyncio.run(suggest("")) is None


def test_the_path_input_suggests_and_accepts_a_completion(repo: Path) -> None:
    async def scenario(pilot: Any, screen: BootstrapScreen) -> None:
        path = screen.query_one("#path")
        path.value = ""  # type: ignore[attr-defined]
        await pilot.press("t", "e")
        await settle(pilot, lambda: getattr(path, "_suggestion", "") == "tests")
        await pilot.press("right", "enter")
        await scanned(pilot, screen)
        assert path.value == "tests" and screen.target == repo / "tests"  # type: ignore[attr-defined]

    on_screen(app_for(repo, live=False), scenario)


async def open_and_scan(pilot: Any) -> None:
    """From the dashboard: B, then Enter on the project folder, until the scan is shown."""
    app = pilot.app
    await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
    await pilot.press("B")
    await settle(pilot, lambda: isinstance(app.screen, BootstrapScreen))
    await pilot.pause()
    await pilot.press("enter")
    await scanned(pilot, app.screen)


@pytest.mark.parametrize("size", SIZES)
def test_bootstrap_screen_after_a_scan(snap_compare: Any, repo: Path, size: tuple[int, int]) -> None:
    async def after_scan(pilot: Any) -> None:
        await open_and_scan(pilot)

    assert snap_compare(app_for(repo, live=False), terminal_size=size, run_before=after_scan)


@pytest.mark.parametrize("size", SIZES)
def test_bootstrap_screen_profiles(snap_compare: Any, repo: Path, size: tuple[int, int]) -> None:
    async def ranking(pilot: Any) -> None:
        await open_and_scan(pilot)
        await pilot.press("3")
        await pilot.pause()

    assert snap_compare(app_for(repo, live=False), terminal_size=size, run_before=ranking)
