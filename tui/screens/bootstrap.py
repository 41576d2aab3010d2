"""Bootstrap a project from the dashboard: choose a folder, scan it in the background, see
what was found and why a profile won, choose another profile, preview each file as a diff,
write, and launch a generated workstream.

It does what ``uet bootstrap`` does, through the same ``engine.bootstrap.orchestrate``: every
scan is a dry run (the report carries each file's action and diff); ``w`` runs it for real,
and files in conflict are overwritten only after the user types ``force``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DirectoryTree, Header, Input, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from engine.bootstrap.orchestrate import bootstrap
from engine.errors import UetError
from schemas.bootstrap import BootstrapReport, Evidence, PhaseOutcome, PlannedFile
from schemas.scan import ScanProgress
from tui.screens.ask import AskScreen
from tui.widgets.folder_picker import FolderSuggester, FolderTree, resolve, shown
from tui.widgets.footer import KeysFirstFooter
from tui.widgets.line_table import Column, LineTable

RANKING_COLUMNS = [Column("", 1), Column("PROFILE", 24, grow=True), Column("SCORE", 6, right=True),
                   Column("NOTE", 16)]
EVIDENCE_COLUMNS = [Column("WEIGHT", 6, right=True), Column("SIGNAL", 30, grow=True), Column("WHERE", 16, grow=True)]
FILE_COLUMNS = [Column("ACTION", 11), Column("FILE", 24, grow=True)]
WORKSTREAM_COLUMNS = [Column("PHASE", 12), Column("FILE", 30, grow=True), Column("STEPS", 5, right=True)]
ACTION_WORDS = {"create": "+ create", "update": "~ update", "unchanged": "= unchanged", "conflict": "! conflict"}
STAGE_WORDS = {"scan": "scanning", "select": "scoring profiles", "generate": "generating files",
               "validate": "validating", "write": "writing"}
TABS = ("pick", "found", "profiles", "files", "launch")
LABEL = 12
WRAP = 60


class ScanCancelled(Exception):
    """Raised inside the scan's progress callback once the worker is cancelled."""


def _where(item: Evidence) -> str:
    where = ", ".join(f"{m.path}:{m.line}" if m.line else m.path for m in item.matches[:2])
    return where + (f" (+{item.count - 2})" if item.count > 2 else "")


def _row(out: Text, label: str, text: str, style: str = "") -> None:
    """``text`` beside ``label``, wrapped to fit an 80-column pane (border, padding and scrollbar
    included) with its continuation lines indented."""
    lines = textwrap.wrap(text, WRAP, subsequent_indent="  ", break_on_hyphens=False) or [""]
    out.append(f"{label:<{LABEL}}", style="bold")
    out.append(lines[0] + "\n", style=style)
    for line in lines[1:]:
        out.append(" " * LABEL + line + "\n", style=style)


def found_text(report: BootstrapReport) -> Text:
    """What the scan found and what bootstrap decided, one labelled line per fact."""
    scan = report.scan
    out = Text(no_wrap=True, overflow="ellipsis")
    skipped = f"; {scan.skipped_count} entries skipped" if scan.skipped_count else ""
    _row(out, "scanned", f"{scan.files_seen:,} files in {scan.dirs_seen:,} folders{skipped}"
         + (" (file limit reached: counts are partial)" if scan.truncated else ""))
    how = {"detection": f"detected, confidence {report.confidence:.2f}",
           "fallback": "the fallback: no other profile found evidence",
           "option": f"chosen here; detection chose {report.detected}"}[report.chosen_by]
    _row(out, "profile", f"{report.profile} ({how})")
    if report.ambiguous and report.runner_up:
        _row(out, "", f"⚠ ambiguous: the runner-up, {report.runner_up}, scored only {report.margin or 0:g} less",
             "bold")
    if scan.languages:
        _row(out, "languages", ", ".join(f"{name} {count:,}" for name, count in scan.languages.items()))
    for manager in scan.package_managers:
        files = ", ".join([*manager.manifests, *manager.lockfiles][:4])
        _row(out, "packages" if manager is scan.package_managers[0] else "", f"{manager.name} ({files})")
    tools = [(kind, group) for kind, group in (("tests", scan.test_frameworks), ("lint", scan.linters),
                                               ("format", scan.formatters), ("ci", scan.ci), ("docs", scan.docs),
                                               ("infra", scan.iac), ("data", scan.data)) if group]
    for n, (kind, group) in enumerate(tools):
        _row(out, "tools" if n == 0 else "", f"{kind}: " + ", ".join(d.name for d in group))
    for n, (kind, command) in enumerate(scan.commands.items()):
        cwd = f" (in {command.cwd}/)" if command.cwd != "." else ""
        _row(out, "commands" if n == 0 else "", f"{kind:<9} {' '.join(command.argv)}{cwd}  ← {command.source}")
    if scan.git.is_repo:
        state = "uncommitted changes" if scan.git.dirty else "clean" if scan.git.dirty is False else "state unknown"
        _row(out, "git", f"branch {scan.git.branch or '(detached)'}, {state}")
    if scan.lfs.count:
        shown_files = ", ".join(scan.lfs.pointer_files[:3]) + (" …" if scan.lfs.count > 3 else "")
        _row(out, "LFS", f"⚠ {scan.lfs.count} file(s) are LFS pointers, content never fetched: {shown_files}",
             "bold")
    elif scan.lfs.tracked_patterns:
        _row(out, "LFS", "tracked: " + ", ".join(scan.lfs.tracked_patterns[:5]))
    for n, skip in enumerate(scan.skipped[:8]):
        _row(out, "skipped" if n == 0 else "", f"{skip.path} ({skip.reason})")
    if scan.skipped_count > 8:
        _row(out, "", f"… and {scan.skipped_count - 8} more")
    for n, phase in enumerate(report.phases):
        text = (f"{phase.name}: {phase.file} ({phase.steps} step(s))" if phase.generated and phase.file
                else f"{phase.name}: skipped, {phase.reason}")
        _row(out, "phases" if n == 0 else "", text)
    for n, issue in enumerate(report.problems):
        where = (issue.file or "") + (f":{issue.line}" if issue.line is not None else "")
        mark = "✖ error" if issue.severity == "error" else "⚠ warning"
        _row(out, "problems" if n == 0 else "", f"{mark}: {where + ': ' if where else ''}{issue.message}",
             "bold" if issue.severity == "error" else "")
    out.rstrip()
    return out


def diff_text(planned: PlannedFile) -> Text:
    """The file's diff, each line keeping its ``+``/``-`` so it reads without colour; long lines
    are not wrapped (the pane scrolls sideways), so every line starts with its marker."""
    out = Text(no_wrap=True, overflow="ignore")
    head = {"create": "new file: written in full by w",
            "update": "will be updated", "unchanged": "already up to date: nothing to write",
            "conflict": "CONFLICT: changed by someone else; w asks before overwriting it"}[planned.action]
    out.append(f"{planned.path}: {head}\n", style="bold")
    if planned.reason:
        out.append(f"{planned.reason}\n")
    if planned.diff:
        out.append("\n")
        for line in planned.diff.rstrip("\n").splitlines():
            style = ("bold" if line.startswith(("+++", "---")) else "green" if line.startswith("+")
                     else "red" if line.startswith("-") else "cyan" if line.startswith("@@") else "")
            out.append(line + "\n", style=style)
    out.rstrip()
    return out


def headline(report: BootstrapReport) -> str:
    conflicts = sum(f.action == "conflict" for f in report.files)
    changes = sum(f.action in ("create", "update") for f in report.files)
    errors = sum(i.severity == "error" for i in report.problems)
    if errors:
        return f"✖ {errors} error(s): nothing can be written (see 2 Found)"
    if conflicts:
        return f"! {conflicts} file(s) in conflict: w asks to overwrite them (see 4 Files)"
    if report.written:
        return f"✔ wrote {changes} file(s): choose a workstream to launch (5 Launch)"
    if not changes:
        return "✔ every file is up to date: launch a workstream (5 Launch)"
    return f"{changes} file(s) would be written: preview them (4 Files), w writes them"


class BootstrapScreen(Screen[None]):
    CSS_PATH = "bootstrap.tcss"
    TITLE = "uet · bootstrap"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("escape", "back", "Back", id="bootstrap.back",
                tooltip="Cancel the scan in progress, or go back to the dashboard"),
        Binding("w", "write", "Write", id="bootstrap.write", tooltip="Write the previewed files"),
        Binding("ctrl+r", "rescan", "Rescan", id="bootstrap.rescan", tooltip="Scan the folder again"),
        Binding("1", "show('pick')", "Folder", id="bootstrap.tab_pick", show=False),
        Binding("2", "show('found')", "Found", id="bootstrap.tab_found", show=False),
        Binding("3", "show('profiles')", "Profiles", id="bootstrap.tab_profiles", show=False),
        Binding("4", "show('files')", "Files", id="bootstrap.tab_files", show=False),
        Binding("5", "show('launch')", "Launch", id="bootstrap.tab_launch", show=False),
    ]

    class Progressed(Message):
        """The scan walked further."""

        def __init__(self, job: int, tick: ScanProgress) -> None:
            super().__init__()
            self.job = job
            self.tick = tick

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, BootstrapScreen.Progressed)

    class StageStarted(Message):
        def __init__(self, job: int, stage: str) -> None:
            super().__init__()
            self.job = job
            self.stage = stage

    class Finished(Message):
        """A dry run (a preview) or a write ended with this report."""

        def __init__(self, job: int, report: BootstrapReport) -> None:
            super().__init__()
            self.job = job
            self.report = report

    class Failed(Message):
        """Bootstrap stopped before it had anything to report (no such folder, unknown profile)."""

        def __init__(self, job: int, error: str) -> None:
            super().__init__()
            self.job = job
            self.error = error

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.target: Path | None = None
        self.profile: str | None = None
        self.report: BootstrapReport | None = None
        self.job = 0
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Input(".", placeholder="folder to bootstrap (Enter scans it; → completes)", id="path",
                    suggester=FolderSuggester(self.root))
        yield Static("choose a folder: type its path, or pick it in the tree and press Enter", id="status",
                     markup=False)
        with TabbedContent(id="tabs", initial="pick"):
            with TabPane("1 Folder", id="pick"):
                yield FolderTree(self.root, label=f"{self.root.name or self.root} (the project)", id="tree")
            with TabPane("2 Found", id="found"), VerticalScroll(id="found-scroll", classes="pane"):
                yield Static("nothing scanned yet", id="found-text", markup=False)
            with TabPane("3 Profiles", id="profiles"), Horizontal(classes="split"):
                yield LineTable(RANKING_COLUMNS, id="ranking", classes="pane", cells=self._ranking_cells,
                                empty="scan a folder first")
                yield LineTable(EVIDENCE_COLUMNS, id="evidence", classes="pane", empty="no evidence for this profile")
            with TabPane("4 Files", id="files"), Horizontal(classes="split"):
                yield LineTable(FILE_COLUMNS, id="planned", classes="pane", cells=self._file_cells,
                                empty="scan a folder first")
                with ScrollableContainer(id="diff-scroll", classes="pane"):
                    yield Static("", id="diff", markup=False)
            with TabPane("5 Launch", id="launch"):
                yield LineTable(WORKSTREAM_COLUMNS, id="workstreams", classes="pane", cells=self._workstream_cells,
                                empty="nothing written yet: preview the files, then press w")
        yield KeysFirstFooter()

    def on_mount(self) -> None:
        self.query_one("#path").border_title = "Folder"
        self.query_one("#found-scroll").border_title = "What the scan found"
        self.query_one("#ranking").border_title = "Profiles (Enter uses one)"
        self.query_one("#evidence").border_title = "Evidence"
        self.query_one("#planned").border_title = "Files"
        self.query_one("#diff-scroll").border_title = "Diff"
        self.query_one("#workstreams").border_title = "Workstreams (Enter launches here)"
        self.query_one("#path", Input).focus()

    # -- running bootstrap ---------------------------------------------------------------------

    def _start(self, target: Path, profile: str | None, write: bool = False, force: bool = False) -> None:
        self.job += 1
        self.busy = True
        self.target = target
        self.profile = profile
        self._status("scanning…" if not write else "writing…")
        self.run_bootstrap(self.job, target, profile, write, force)

    @work(thread=True, exclusive=True, group="bootstrap", exit_on_error=False)
    def run_bootstrap(self, job: int, target: Path, profile: str | None, write: bool, force: bool) -> None:
        worker = get_current_worker()

        def checked() -> None:
            if worker.is_cancelled:
                raise ScanCancelled

        def on_progress(tick: ScanProgress) -> None:
            checked()
            self.post_message(self.Progressed(job, tick))

        def on_stage(stage: str) -> None:
            checked()
            self.post_message(self.StageStarted(job, stage))

        try:
            report = bootstrap(target, profile=profile, dry_run=not write, force=force,
                               on_progress=on_progress, on_stage=on_stage)
        except ScanCancelled:
            return
        except (UetError, OSError) as exc:
            self.post_message(self.Failed(job, str(exc)))
            return
        if not worker.is_cancelled:
            self.post_message(self.Finished(job, report))

    @on(Progressed)
    def show_progress(self, message: Progressed) -> None:
        if message.job == self.job and self.busy:
            tick = message.tick
            self._status(f"scanning: {tick.files:,} files, {tick.dirs:,} folders · {tick.current} (Esc cancels)")

    @on(StageStarted)
    def show_stage(self, message: StageStarted) -> None:
        if message.job == self.job and self.busy:
            self._status(f"{STAGE_WORDS.get(message.stage, message.stage)}… (Esc cancels)")

    @on(Failed)
    def show_failure(self, message: Failed) -> None:
        if message.job != self.job:
            return
        self.busy = False
        self._status(f"✖ {message.error}")
        self.notify(message.error, title="Cannot bootstrap", severity="error", timeout=10)

    @on(Finished)
    def show_report(self, message: Finished) -> None:
        if message.job != self.job:
            return
        self.busy = False
        report = self.report = message.report
        self._status(headline(report))
        self.query_one("#found-text", Static).update(found_text(report))
        ranked = sorted(report.scores.items(), key=lambda kv: (-kv[1], kv[0]))
        ranking = self.query_one("#ranking", LineTable)
        ranking.set_rows([(name, name) for name, _ in ranked], keep_cursor=False)
        ranking.move_to(report.profile)
        self._show_evidence(report.profile)
        planned = self.query_one("#planned", LineTable)
        planned.set_rows([(f.path, f) for f in report.files])
        first = next((f for f in report.files if f.action == "conflict"), None)
        planned.move_to(first.path if first else planned.cursor_key or "")
        self._show_diff(planned.cursor_key)
        root = Path(report.root)
        ready = [(p.name, p) for p in report.phases if p.generated and p.file and (root / p.file).is_file()]
        workstreams = self.query_one("#workstreams", LineTable)
        workstreams.set_rows(ready)
        workstreams.border_title = self._launch_title(root / ready[0][1].file) if ready else \
            "Workstreams (Enter launches here)"
        if not report.dry_run and ready and not any(f.action == "conflict" for f in report.files):
            self.action_show("launch")
        elif report.dry_run and self.query_one(TabbedContent).active in ("pick", "launch"):
            self.action_show("found")

    def _status(self, text: str) -> None:
        self.query_one("#status", Static).update(text)

    # -- what the tables show -----------------------------------------------------------------

    def _ranking_cells(self, name: str) -> tuple:
        report = self.report
        assert report is not None
        notes = []
        if name == report.profile:
            notes.append("chosen")
        if name == report.detected and report.chosen_by != "detection":
            notes.append("detected")
        if name == report.runner_up:
            notes.append("runner-up" + (", close" if report.ambiguous else ""))
        return ("▶" if name == report.profile else " ", name, f"{report.scores.get(name, 0):g}", ", ".join(notes))

    @staticmethod
    def _file_cells(planned: PlannedFile) -> tuple:
        word = "! forced" if planned.forced else ACTION_WORDS[planned.action]
        style = "bold reverse" if planned.action == "conflict" else ""
        return (Text(word, style=style), planned.path)

    @staticmethod
    def _workstream_cells(phase: PhaseOutcome) -> tuple:
        return (phase.name, phase.file or "", str(phase.steps))

    def _show_evidence(self, profile: str | None) -> None:
        report = self.report
        items = sorted(report.evidence.get(profile, []), key=lambda e: -abs(e.weight)) if report and profile else []
        table = self.query_one("#evidence", LineTable)
        table.border_title = f"Evidence: {profile}" if profile else "Evidence"
        table.set_rows([(str(n), (f"{e.weight:+g}", e.signal, _where(e))) for n, e in enumerate(items)],
                       keep_cursor=False)

    def _show_diff(self, path: str | None) -> None:
        found = next((f for f in self.report.files if f.path == path), None) if self.report else None
        self.query_one("#diff", Static).update(diff_text(found) if found else "")
        self.query_one("#diff-scroll").scroll_home(animate=False)

    # -- choosing -----------------------------------------------------------------------------

    @on(Input.Submitted, "#path")
    def scan_typed_folder(self, message: Input.Submitted) -> None:
        self._start(resolve(self.root, message.value), None)

    @on(DirectoryTree.DirectorySelected, "#tree")
    def scan_tree_folder(self, message: DirectoryTree.DirectorySelected) -> None:
        self.query_one("#path", Input).value = shown(self.root, message.path)
        self._start(message.path, None)

    @on(LineTable.RowHighlighted, "#ranking")
    def show_profile_evidence(self, message: LineTable.RowHighlighted) -> None:
        self._show_evidence(message.key)

    @on(LineTable.RowSelected, "#ranking")
    def use_profile(self, message: LineTable.RowSelected) -> None:
        if self.report is None or self.target is None or self.busy:
            return
        self._start(self.target, message.key)
        self.notify(f"generating the files for {message.key}", timeout=3)

    @on(LineTable.RowHighlighted, "#planned")
    def show_file_diff(self, message: LineTable.RowHighlighted) -> None:
        self._show_diff(message.key)

    def _launch_title(self, file: Path) -> str:
        """Which project the generated workstreams run in, said before one is launched."""
        placement = self.app.host.place(file)  # type: ignore[attr-defined]
        if placement.here and placement.project.root == self.root.resolve():
            return "Workstreams (Enter launches here)"
        if placement.here:
            return f"Workstreams of {placement.project.root} (Enter launches here)"
        return f"Workstreams of {placement.project.root} (Enter starts them there, in the background)"

    @on(LineTable.RowSelected, "#workstreams")
    def launch_workstream(self, message: LineTable.RowSelected) -> None:
        phase = self.query_one("#workstreams", LineTable).rows.get(message.key)
        if self.report is None or phase is None or not phase.file:
            return
        file = Path(self.report.root) / phase.file
        placement = self.app.host.place(file)  # type: ignore[attr-defined]
        run_id = self.app.start_run(file, detached=False)  # type: ignore[attr-defined]
        if run_id is not None:
            self.dismiss()
        elif not placement.here:
            self._status(f"{phase.name}: starting in {placement.project.root}, in a background engine "
                         "(this dashboard does not show that project's runs)")

    # -- actions ------------------------------------------------------------------------------

    def action_show(self, tab: str) -> None:
        if tab not in TABS:
            return
        self.query_one(TabbedContent).active = tab
        focus = {"pick": "#tree", "found": "#found-scroll", "profiles": "#ranking", "files": "#planned",
                 "launch": "#workstreams"}[tab]
        self.query_one(focus).focus()

    def action_rescan(self) -> None:
        if self.target is not None:
            self._start(self.target, self.profile)

    def action_write(self) -> None:
        report = self.report
        if self.busy:
            self.notify("wait for the scan to finish (Esc cancels it)", severity="warning")
            return
        if report is None or self.target is None:
            self.notify("scan a folder first", severity="warning")
            return
        if any(i.severity == "error" for i in report.problems):
            self.notify("the generated files have errors (see 2 Found); nothing can be written", severity="error")
            return
        conflicts = [f.path for f in report.files if f.action == "conflict"]
        if not conflicts:
            self._start(self.target, self.profile, write=True)
            return
        target, profile = self.target, self.profile

        def answered(answer: str | None) -> None:
            if answer is not None and answer.strip().lower() == "force":
                self._start(target, profile, write=True, force=True)
            else:
                self.notify("nothing written: the files in conflict are kept", timeout=5)

        question = (f"{len(conflicts)} file(s) were changed since bootstrap wrote them: {', '.join(conflicts)}. "
                    "Type force and press Enter to overwrite them with the generated files; Esc keeps them.")
        self.app.push_screen(AskScreen(question, "type force to overwrite"), answered)

    def action_back(self) -> None:
        if self.busy:
            self.workers.cancel_group(self, "bootstrap")
            self.busy = False
            self.job += 1
            self._status("scan cancelled: press Enter on a folder to scan again")
            return
        self.dismiss()
