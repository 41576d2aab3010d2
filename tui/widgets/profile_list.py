"""The profile files of a project, each marked by its check, and a line about the highlighted one.

The list reads the files itself (built-ins, the project's ``.uet/profiles/*.yaml`` and drafts,
as ``uet profiles list`` does) and checks them in a thread, so a slow or broken file never holds
the screen; a row shows ``…`` until its check is in. It tells its screen only what the user
chose (``ProfileSelected``); opening, copying and saving files are the screen's business.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from engine.errors import Problem, UetError
from engine.profile_files import Checked, Entry, check_entry, list_entries
from tui.widgets.line_table import Column, LineTable
from tui.widgets.yaml_editor import MARK

PROFILE_COLUMNS = [Column("", 1), Column("PROFILE", 10, grow=True), Column("SOURCE", 11)]
SOURCE_LABELS = {
    ("builtin", False): "built-in ro",
    ("builtin", True): "replaced",
    ("local", False): "local",
    ("local", True): "overrides",
    ("draft", False): "DRAFT",
    ("draft", True): "DRAFT",
}
"""What a row is, in words (never colour alone): a read-only built-in, a built-in the project
replaces, the project's own file (which may override a built-in), an unused draft."""
LEGEND = "built-in ro: read-only, c copies it · replaced: a project file overrides it · DRAFT: kept, not used"


class ProfileList(Vertical):
    DEFAULT_CSS = """
    ProfileList > #profiles { height: 1fr; border: round $primary-darken-2; }
    ProfileList > #profiles:focus-within { border: round $accent; }
    ProfileList > #about { height: auto; max-height: 4; padding: 0 1; }
    ProfileList > #legend { height: auto; padding: 0 1; color: $text-muted; }
    """

    class ProfileSelected(Message):
        """Enter (or a double click) on the row of ``entry``."""

        def __init__(self, entry: Entry) -> None:
            super().__init__()
            self.entry = entry

    class ListChecked(Message):
        """Every listed file checked, as ``uet profiles validate`` does."""

        def __init__(self, checked: dict[str, Checked]) -> None:
            super().__init__()
            self.checked = checked

    def __init__(self, root: Path, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.root = root
        self.entries: dict[str, Entry] = {}
        """The listed files by key (``builtin:generic``, ``local:mine``, ``draft:mine``), in list order."""
        self.checked: dict[str, Checked] = {}
        """The checks that are in, by key; a key missing here is still being checked."""

    def compose(self) -> ComposeResult:
        yield LineTable(PROFILE_COLUMNS, id="profiles", cells=self._profile_cells, empty="no profiles found")
        yield Static(id="about", markup=False)
        yield Static(LEGEND, id="legend", markup=False)

    def on_mount(self) -> None:
        self.fill()

    @property
    def table(self) -> LineTable:
        return self.query_one("#profiles", LineTable)

    @property
    def highlighted(self) -> Entry | None:
        """The entry under the list's cursor."""
        key = self.table.cursor_key
        return self.entries.get(key) if key is not None else None

    def focus(self, scroll_visible: bool = True) -> Self:
        """Focus goes to the list's rows: the about line and the legend only follow them."""
        self.table.focus(scroll_visible)
        return self

    def fill(self, select: str | None = None) -> None:
        """List the files again (one was written or removed), the cursor on ``select`` if given,
        and check them all anew."""
        self.entries = {entry.key: entry for entry in list_entries(self.root)}
        table = self.table
        table.set_rows(list(self.entries.items()))
        if select is not None:
            table.move_to(select)
        table.border_title = f"Profiles ({len(self.entries)})"
        self.check_list(list(self.entries.values()))

    def _profile_cells(self, entry: Entry) -> tuple[str, str, str]:
        checked = self.checked.get(entry.key)
        mark = "…" if checked is None else MARK if checked.problems else "✔"
        return (mark, entry.name, SOURCE_LABELS[(entry.kind, entry.overrides)])

    @work(thread=True, exclusive=True, group="check", exit_on_error=False)
    def check_list(self, entries: list[Entry]) -> None:
        checked: dict[str, Checked] = {}
        for entry in entries:
            if get_current_worker().is_cancelled:
                return
            try:
                checked[entry.key] = check_entry(entry, self.root)
            except (OSError, UetError) as exc:
                checked[entry.key] = Checked(None, None, (Problem(str(exc), str(entry.path)),))
        self.post_message(self.ListChecked(checked))

    @on(ListChecked)
    def show_checks(self, message: ListChecked) -> None:
        self.checked = message.checked
        self.table.redraw(self.entries)
        self._about(self.highlighted)

    @on(LineTable.RowHighlighted, "#profiles")
    def describe_profile(self, message: LineTable.RowHighlighted) -> None:
        self._about(self.entries.get(message.key) if message.key is not None else None)

    @on(LineTable.RowSelected, "#profiles")
    def select_profile(self, message: LineTable.RowSelected) -> None:
        entry = self.entries.get(message.key)
        if entry is not None:
            self.post_message(self.ProfileSelected(entry))

    def _about(self, entry: Entry | None) -> None:
        """The highlighted profile as ``uet profiles list`` describes it."""
        checked = self.checked.get(entry.key) if entry is not None else None
        about = self.query_one("#about", Static)
        if entry is None or checked is None:
            about.update("")
            return
        if checked.problems:
            first = checked.problems[0]
            text = f"{MARK} {len(checked.problems)} problem(s); line {first.line}: {first.message}"
        else:
            text = f"extends {checked.extends} · " if checked.extends else ""
            text += checked.description or ""
        about.update(text)
