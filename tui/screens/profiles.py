"""Domain profiles: the built-ins (read-only, copied into the project to change them) and the
project's own ``.uet/profiles/*.yaml``, edited as text.

The editor's text is what gets written, byte for byte, so comments and key order stay as the
user wrote them. Validation runs on the unsaved text (debounced, in a thread) as if it were the
file it will be saved as; only a valid profile is saved, an invalid one can be kept as a
``NAME.yaml.draft`` that nothing reads. The open file is watched: a change from elsewhere is
reported and the user chooses to reload it or keep their text. The preview generates, without
writing anything, the workstreams bootstrap would write for this project from the text being
edited.

The list of files and the problems pane are widgets of their own (``tui.widgets.profile_list``,
``tui.widgets.problem_list``) that only say what the user chose; this screen holds the editor
and the file on disk, and decides what a choice does. Listing, checking and previewing files
are engine functions (``engine.profile_files``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Header, Static, TextArea
from textual.worker import get_current_worker
from watchfiles import awatch

from engine.bootstrap.generate import dump_yaml
from engine.bootstrap.write import write_atomic
from engine.errors import Problem, UetError
from engine.profile_files import DRAFT, Checked, Entry, PreviewFile, preview, preview_text
from engine.profiles import (
    builtin_dir,
    local_dir,
    project_copy,
    resolve_chain,
    validate_profile_text,
)
from schemas.workstream import NAME
from tui.screens.ask import AskScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.text import TextScreen
from tui.widgets.footer import KeysFirstFooter
from tui.widgets.problem_list import ProblemList
from tui.widgets.profile_list import ProfileList
from tui.widgets.yaml_editor import MARK, YamlEditor, yaml_language

DEBOUNCE = 0.3
TEMPLATE = """\
# A profile of this project. It builds on the built-in `generic`: what is written here
# replaces or adds to what generic says (`uet profiles show {name}` prints the result).
name: {name}
extends: generic
description: Describe the projects this profile is for.

# detect:   signals that make bootstrap choose this profile, for example
#   - {{kind: file, path: pyproject.toml, weight: 5, description: a Python project}}
# tools:    the tools steps can use, by name
# rules:    which tools do each kind of step
# phases:   the workstreams bootstrap generates, each a list of steps
"""


class ProfilesScreen(Screen[None]):
    CSS_PATH = "profiles.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("escape", "back", "Back", id="profiles.back", tooltip="Back to the dashboard (asks about unsaved text)"),
        Binding("ctrl+s", "save", "Save", id="profiles.save", priority=True,
                tooltip="Save the profile into .uet/profiles/ (only when it is valid)"),
        Binding("ctrl+d", "save_draft", "Draft", id="profiles.draft", priority=True,
                tooltip="Keep the text as NAME.yaml.draft, valid or not; nothing reads drafts"),
        Binding("c", "copy", "Copy to project", id="profiles.copy",
                tooltip="Copy the highlighted built-in into .uet/profiles/ to change it"),
        Binding("n", "new", "New", id="profiles.new", tooltip="A new project profile from a template"),
        Binding("s", "show", "Show resolved", id="profiles.show",
                tooltip="The highlighted profile as bootstrap uses it: the project's file first, extends applied"),
        Binding("p", "preview", "Preview", id="profiles.preview",
                tooltip="What bootstrap would generate for this project with the profile being edited"),
        Binding("ctrl+r", "reload", "Reload", id="profiles.reload", priority=True,
                tooltip="The file changed on disk: load its new text (yours is dropped)"),
        Binding("ctrl+o", "keep_mine", "Keep mine", id="profiles.keep", priority=True,
                tooltip="The file changed on disk: keep your text; saving replaces the file"),
    ]

    class Validated(Message):
        """The problems of ``text``, the editor's text when validation started."""

        def __init__(self, text: str, problems: list[Problem]) -> None:
            super().__init__()
            self.text = text
            self.problems = problems

    class DiskChanged(Message):
        """The open file was written (or removed) by someone else."""

    class PreviewReady(Message):
        def __init__(self, title: str, files: list[PreviewFile], notes: list[str]) -> None:
            super().__init__()
            self.title = title
            self.files = files
            self.notes = notes

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.current: Entry | None = None
        self.saved_text = ""
        self.problems_for: str | None = None
        self.disk_text: str | None = None
        self.disk_pending = False
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield ProfileList(self.root, id="side")
        with Vertical(id="main"):
            yield Static("Enter opens a profile · n new", id="status", markup=False)
            yield Static(id="disk", markup=False)
            yield YamlEditor(id="editor")
            yield ProblemList()
        yield KeysFirstFooter()

    def on_mount(self) -> None:
        self.query_one("#editor").border_title = "no profile open"
        self.query_one("#disk").display = False
        self.query_one(YamlEditor).read_only = True
        self.query_one(ProfileList).focus()

    @property
    def entries(self) -> dict[str, Entry]:
        """The listed files by key, as the list holds them."""
        return self.query_one(ProfileList).entries

    @property
    def checked(self) -> dict[str, Checked]:
        """The list's checks that are in, by key."""
        return self.query_one(ProfileList).checked

    @property
    def problems(self) -> list[Problem]:
        """The problems shown for the editor's text (of ``problems_for``)."""
        return self.query_one(ProblemList).problems

    # -- the list ------------------------------------------------------------------------------

    def _highlighted(self) -> Entry | None:
        return self.query_one(ProfileList).highlighted

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """At 80 columns the list steps aside while the editor has focus (profiles.tcss)."""
        self.set_class(isinstance(event.widget, YamlEditor), "-editing")

    @on(ProfileList.ProfileSelected)
    def open_selected(self, message: ProfileList.ProfileSelected) -> None:
        self._guard(lambda: self.open_entry(message.entry))

    def _guard(self, then: Callable[[], object]) -> None:
        """Run ``then`` now, or after the user agrees to drop unsaved text."""
        if not self.dirty:
            then()
            return
        name = self.current.name if self.current else "this profile"

        def answered(yes: bool | None) -> None:
            if yes:
                then()

        self.app.push_screen(ConfirmScreen(f"Drop your unsaved changes to {name}? (ctrl+d keeps them as a draft)"),
                             answered)

    # -- the editor ----------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        return self.current is not None and self.query_one(YamlEditor).text != self.saved_text

    def open_entry(self, entry: Entry, text: str | None = None) -> None:
        """Load ``entry`` (or ``text`` for a file not written yet) into the editor."""
        try:
            disk = entry.path.read_text(encoding="utf-8") if text is None else None
        except OSError as exc:
            self.notify(f"cannot read {entry.path}: {exc.strerror or exc}", severity="error")
            return
        self.current = entry
        self.saved_text = disk if disk is not None else ""
        self.disk_pending = False
        self.query_one("#disk").display = False
        editor = self.query_one(YamlEditor)
        editor.load_text(disk if disk is not None else text or "")
        editor.read_only = entry.read_only
        editor.mark_lines(())
        self._show_problems([])
        self.problems_for = None
        self.validate_now()
        if entry.path.exists() and not entry.read_only:
            self.watch_file(entry.path)
        else:
            self.workers.cancel_group(self, "watch")
        self._title()
        editor.focus()  # a read-only one too: to scroll it, and c, s and p still work there

    def _title(self) -> None:
        editor = self.query_one(YamlEditor)
        entry = self.current
        if entry is None:
            return
        shown = entry.name if entry.kind == "builtin" else str(entry.path.relative_to(self.root))
        editor.border_title = shown
        parts = {"builtin": ["built-in, read-only: c copies it into the project"],
                 "local": ["local" + (", overrides the built-in" if entry.overrides else "")],
                 "draft": ["DRAFT: not used until saved with ctrl+s"]}[entry.kind]
        if not entry.path.exists():
            parts.append("new, not saved")
        elif self.dirty:
            parts.append("modified")
        if self.problems_for != editor.text:
            parts.append("checking…")
        elif self.problems:
            parts.append(f"{MARK} {len(self.problems)} problem(s)")
        else:
            parts.append("✔ valid")
        self.query_one("#status", Static).update(" · ".join(parts))

    @on(TextArea.Changed, "#editor")
    def schedule_validation(self) -> None:
        if self.current is None:
            return
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE, self.validate_now)
        self._title()

    def validate_now(self) -> None:
        if self.current is not None:
            self.validate(self.query_one(YamlEditor).text, self.current.target)

    @work(thread=True, exclusive=True, group="validate", exit_on_error=False)
    def validate(self, text: str, target: Path) -> None:
        problems = validate_profile_text(text, target, self.root)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Validated(text, problems))

    @on(Validated)
    def show_validation(self, message: Validated) -> None:
        if message.text != self.query_one(YamlEditor).text:
            return  # the text moved on; its own validation is coming
        self.problems_for = message.text
        self._show_problems(message.problems)
        self._title()

    def _show_problems(self, problems: list[Problem]) -> None:
        self.query_one(YamlEditor).mark_lines(p.line for p in problems if p.line is not None)
        self.query_one(ProblemList).show_problems(problems)

    @on(ProblemList.ProblemSelected)
    def jump_to_problem(self, message: ProblemList.ProblemSelected) -> None:
        problem = message.problem
        editor = self.query_one(YamlEditor)
        if problem.line is not None:
            editor.go_to_line(problem.line, problem.column)
        editor.focus()

    # -- the file on disk ----------------------------------------------------------------------

    @work(group="watch", exclusive=True, exit_on_error=False)
    async def watch_file(self, path: Path) -> None:
        """Report writes to ``path`` by anyone; our own saves are told apart by their text."""
        async for changes in awatch(path.parent, debounce=100, step=50, recursive=False):
            if any(Path(changed).name == path.name for _, changed in changes):
                self.post_message(self.DiskChanged())

    @on(DiskChanged)
    def offer_reload(self) -> None:
        entry = self.current
        if entry is None:
            return
        try:
            text: str | None = entry.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = None
        except OSError:
            return
        if text == self.saved_text or (self.disk_pending and text == self.disk_text):
            return
        self.disk_text = text
        self.disk_pending = True
        banner = self.query_one("#disk", Static)
        if text is None:
            banner.update(f"⚠ {entry.path.name} was deleted on disk · ctrl+o keep your text (ctrl+s writes it again)")
        else:
            banner.update(f"⚠ {entry.path.name} changed on disk · ctrl+r reload it · ctrl+o keep yours")
        banner.display = True
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("reload", "keep_mine"):
            return self.disk_pending
        return True

    def action_reload(self) -> None:
        if not self.disk_pending or self.current is None:
            return
        if self.disk_text is None:
            self.notify("the file is gone: nothing to reload; ctrl+o keeps your text", severity="warning")
            return
        self.open_entry(self.current)
        self.notify(f"reloaded {self.current.path.name} from disk")

    def action_keep_mine(self) -> None:
        if not self.disk_pending:
            return
        self.saved_text = self.disk_text or ""
        self.disk_pending = False
        self.query_one("#disk").display = False
        self.refresh_bindings()
        self._title()
        self.notify("kept your text; ctrl+s replaces the file on disk")

    # -- actions -------------------------------------------------------------------------------

    def _writable(self) -> Entry | None:
        entry = self.current
        if entry is None:
            self.notify("no profile is open: Enter on the list opens one", severity="warning")
            return None
        if entry.read_only:
            self.notify(f"{entry.name} is built in and read-only: press c to copy it into the project",
                        severity="warning")
            return None
        if self.disk_pending:
            self.notify("the file changed on disk: ctrl+r reloads it, ctrl+o keeps your text", severity="warning")
            return None
        return entry

    def action_save(self) -> None:
        entry = self._writable()
        if entry is None:
            return
        text = self.query_one(YamlEditor).text
        problems = validate_profile_text(text, entry.target, self.root)
        self.problems_for = text
        self._show_problems(problems)
        if problems:
            self._title()
            self.notify(f"not saved: {len(problems)} problem(s), first at line {problems[0].line}; fix them, or "
                        "ctrl+d keeps the text as a draft", title="Invalid profile", severity="error")
            return
        if not self._write(entry.target, text):
            return
        if entry.kind == "draft":
            entry.path.unlink(missing_ok=True)
        saved = Entry(entry.name, entry.target, "local", (builtin_dir() / f"{entry.name}.yaml").exists())
        self._after_write(saved, text)
        self.notify(f"saved {saved.path.relative_to(self.root)}")

    def action_save_draft(self) -> None:
        entry = self._writable()
        if entry is None:
            return
        text = self.query_one(YamlEditor).text
        draft = entry.target.with_name(entry.target.name + DRAFT)
        if not self._write(draft, text):
            return
        self._after_write(Entry(entry.name, draft, "draft", (builtin_dir() / f"{entry.name}.yaml").exists()), text)
        self.notify(f"kept as a draft: {draft.relative_to(self.root)} (not used until saved with ctrl+s)")

    def _write(self, path: Path, text: str) -> bool:
        try:
            write_atomic(path, text)
        except OSError as exc:
            self.notify(f"cannot write {path}: {exc.strerror or exc}", severity="error")
            return False
        return True

    def _after_write(self, entry: Entry, text: str) -> None:
        self.current = entry
        self.saved_text = text
        self.query_one(ProfileList).fill(select=entry.key)
        self.watch_file(entry.path)
        self._title()

    def action_copy(self) -> None:
        entry = self.current if self.focused is self.query_one(YamlEditor) else self._highlighted()
        if entry is None or entry.kind != "builtin":
            self.notify("highlight a built-in profile to copy it into the project", severity="warning")
            return
        target = local_dir(self.root) / f"{entry.name}.yaml"

        def copy() -> None:
            text = project_copy(entry.path.read_text(encoding="utf-8"))
            if self._write(target, text):
                copied = Entry(entry.name, target, "local", True)
                self.query_one(ProfileList).fill(select=copied.key)
                self.open_entry(copied)
                self.notify(f"copied to {target.relative_to(self.root)}: it now replaces the built-in {entry.name}")

        def answered(yes: bool | None) -> None:
            if yes:
                self._guard(copy)

        if target.exists():
            self.app.push_screen(ConfirmScreen(f"{target.relative_to(self.root)} exists. Replace it with the "
                                               f"built-in {entry.name}?"), answered)
        else:
            self._guard(copy)

    def action_new(self) -> None:
        def named(name: str | None) -> None:
            if not name:
                return
            if not re.match(NAME, name) or name.endswith(".yaml"):
                self.notify(f"{name!r} cannot be a profile name: use letters, digits, '-', '_' and '.'",
                            severity="error")
                return
            target = local_dir(self.root) / f"{name}.yaml"
            if target.exists():
                self.notify(f"{target.relative_to(self.root)} exists: open it from the list", severity="warning")
                return
            builtin = (builtin_dir() / f"{name}.yaml").exists()
            self._guard(lambda: self.open_entry(Entry(name, target, "local", builtin), TEMPLATE.format(name=name)))

        self.app.push_screen(AskScreen("Name of the new profile (saved as .uet/profiles/NAME.yaml)",
                                       "e.g. my-service"), named)

    def action_show(self) -> None:
        entry = self.current if self.focused is self.query_one(YamlEditor) else self._highlighted()
        if entry is None:
            return
        if entry.kind == "draft":
            self.notify("a draft is not used by anything: save it (ctrl+s) to see it resolved", severity="warning")
            return
        try:
            resolved = resolve_chain(entry.name, self.root)
        except UetError as exc:
            self.notify(str(exc), title=f"Cannot resolve {entry.name}", severity="error", timeout=10)
            return
        chain = " → ".join(f"built-in {item.source.name}" if item.source.builtin
                           else str(item.source.path.relative_to(self.root)) for item in resolved.chain)
        document = dump_yaml(resolved.profile.model_dump(mode="json", exclude_defaults=True))
        self.app.push_screen(TextScreen(f"profile {entry.name} as bootstrap uses it, resolved from: {chain}",
                                        document, "yaml" if yaml_language() else None))

    def action_preview(self) -> None:
        entry = self.current or self._highlighted()
        if entry is None:
            self.notify("open a profile to preview it", severity="warning")
            return
        text = self.query_one(YamlEditor).text if entry is self.current else entry.path.read_text(encoding="utf-8")
        target = entry.path if entry.read_only else entry.target
        self.notify(f"generating the preview for {entry.name}…", timeout=3)
        self.run_preview(entry.name, text, target)

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def run_preview(self, name: str, text: str, target: Path) -> None:
        try:
            files, notes = preview(self.root, text, target)
        except UetError as exc:
            files, notes = [], [str(exc)]
        if not get_current_worker().is_cancelled:
            self.post_message(self.PreviewReady(f"profile {name} on {self.root.name or self.root}", files, notes))

    @on(PreviewReady)
    def show_preview(self, message: PreviewReady) -> None:
        counts = {action: sum(1 for f in message.files if f.action == action) for action in ("new", "changed", "unchanged")}
        summary = (f"{message.title}: {len(message.files)} workstream file(s), {counts['new']} new, "
                   f"{counts['changed']} changed, {counts['unchanged']} unchanged. Dry run: nothing is written.")
        self.app.push_screen(TextScreen(summary, preview_text(message.files, message.notes)))

    def action_back(self) -> None:
        if self.focused is self.query_one(YamlEditor):
            self.query_one(ProfileList).focus()
            return
        self._guard(self.app.pop_screen)
