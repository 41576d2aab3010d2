"""Pick a workstream file and start it here or in the background. The screen says, before
anything starts, which project the chosen file runs in: its own, which may not be this one."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

MAX_LISTED = 200


def workstream_files(root: Path) -> list[Path]:
    """Generated workstreams first, then YAML files at the top of the project that have steps."""
    found = sorted((root / ".uet" / "workstreams").glob("*.y*ml"))
    for path in sorted(root.glob("*.y*ml")):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                head = handle.read(20_000)
        except OSError:
            continue
        if "\nsteps:" in "\n" + head:
            found.append(path)
    return found[:MAX_LISTED]


class LaunchScreen(ModalScreen[tuple[Path, bool] | None]):
    BINDINGS = [
        Binding("escape", "dismiss_none", "Back", id="launch.back"),
        Binding("ctrl+d", "launch(True)", "Start detached", id="launch.detached",
                tooltip="Start in a background engine that outlives this app"),
    ]
    DEFAULT_CSS = """
    LaunchScreen { align: center middle; }
    LaunchScreen > Vertical { width: 80; max-width: 98%; height: auto; max-height: 90%; border: double $accent;
                              background: $surface; padding: 0 1; }
    LaunchScreen OptionList { height: auto; max-height: 12; }
    """

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.files = workstream_files(root)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Launch a workstream: Enter starts it here, ctrl+d in the background", markup=False)
            yield OptionList(*[Option(str(p.relative_to(self.root)), id=str(p)) for p in self.files], id="files")
            yield Input(placeholder="or a path to a workstream file", id="path")
            yield Static("", id="project", markup=False)

    def on_mount(self) -> None:
        (self.query_one("#files") if self.files else self.query_one("#path")).focus()
        self.show_project()

    @on(Input.Changed, "#path")
    @on(OptionList.OptionHighlighted, "#files")
    def show_project(self) -> None:
        """Name the project the chosen file would run in (a file of another folder runs in its
        own project, in a background engine)."""
        path = self._chosen()
        where = self.query_one("#project", Static)
        if path is None:
            where.update(f"project: this dashboard's ({self.root.name})")
            return
        placement = self.app.host.place(path)  # type: ignore[attr-defined]
        if placement.here and placement.project.root == self.root.resolve():
            where.update(f"project: this dashboard's ({self.root.name})")
        elif placement.here:
            where.update(f"project: {placement.project.root} (its runs are recorded in this dashboard's store)")
        else:
            where.update(f"project: {placement.project.root} — it runs there, in a background engine, recorded "
                         f"in {placement.project.db}")

    def _chosen(self) -> Path | None:
        typed = self.query_one("#path", Input).value.strip()
        if typed:
            path = Path(typed).expanduser()
            return path if path.is_absolute() else self.root / path
        files = self.query_one("#files", OptionList)
        if files.highlighted is None or not self.files:
            return None
        return self.files[files.highlighted]

    @on(OptionList.OptionSelected)
    @on(Input.Submitted)
    def start_here(self) -> None:
        self.action_launch(False)

    def action_launch(self, detached: bool) -> None:
        path = self._chosen()
        if path is None:
            self.notify("choose a file or type its path", severity="warning")
            return
        if not path.is_file():
            self.notify(f"no file at {path}", severity="error")
            return
        self.dismiss((path, detached))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
