"""Patch review: the list of proposed patches (state, round, step, files, lines, gate, age, run;
filtered by state; rounds a later round replaced hidden unless asked for), and one patch's
review: its diff (against the base, or what changed since the previous round), its gate results
per round, the reviewer's comments drawn where they point, and the decisions the ledger allows,
each recorded with who made it. Requesting changes sends the comments and starts the step's
revision round in a background engine.

Everything that reads git, runs a gate or writes the store happens in thread workers; the
screen hears about changes from other processes through the app's ``StoreChanged``.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Header, Static

from engine.errors import UetError
from schemas.patch import CommentRecord, GateResultRecord, PatchRecord
from store import queries
from store.errors import StoreError
from tui.feed import StoreChanged
from tui.format import duration
from tui.screens.comment import CommentScreen, Scope, Written
from tui.widgets.diff_view import DiffView, Note
from tui.widgets.footer import KeysFirstFooter
from tui.widgets.line_table import Column, LineTable

GLYPHS = {
    "proposed": "○", "gating": "▶", "gate_passed": "✔", "gate_failed": "✘", "approved": "◉",
    "rejected": "⊘", "applied": "⬤", "reverted": "↺", "changes_requested": "✎", "superseded": "⇢",
}
COLOURS = {
    "proposed": "cyan", "gating": "blue", "gate_passed": "green", "gate_failed": "red", "approved": "green",
    "rejected": "magenta", "applied": "green", "reverted": "yellow", "changes_requested": "yellow",
    "superseded": "dim",
}
FILTERS: list[str | None] = [None, "proposed", "gating", "gate_passed", "gate_failed", "changes_requested",
                             "approved", "rejected", "applied", "reverted", "superseded"]
COLUMNS = [Column("STATE", 19), Column("PATCH", 10), Column("ROUND", 5), Column("STEP", 6, grow=True),
           Column("FILES", 5, right=True), Column("+/-", 9, right=True), Column("GATE", 9, grow=True),
           Column("AGE", 6, right=True), Column("RUN", 8)]
DECIDABLE = ("proposed", "gate_passed", "gate_failed")
REVISABLE = ("proposed", "gate_passed", "gate_failed")
ROUND_KINDS = ("fix", "revision")
"""The kinds of patch that replaced an earlier round (a subset is cut from its parent, same round)."""
TAIL_LINES = 8
#: The newest patches the list loads; the title says when there are older ones.
LIST_LIMIT = 5_000


def state_text(state: str) -> Text:
    return Text(f"{GLYPHS.get(state, '?')} {state}", style=COLOURS.get(state, ""))


def round_text(patch: PatchRecord, limit: int | None) -> Text:
    """``2/3`` (round 2 of at most 3), dim for a round a later one replaced."""
    return Text(f"{patch.round}/{limit}" if limit else f"r{patch.round}",
                style="dim" if patch.state.value == "superseded" else "")


def gate_text(patch: PatchRecord) -> str:
    if not patch.gate:
        return "-"
    mark = {"gate_passed": "✔ ", "gate_failed": "✘ ", "gating": "▶ ", "proposed": "· "}.get(patch.state.value, "")
    return mark + patch.gate


def _limit(patch: PatchRecord) -> int:
    """The patch's step's review.max_rounds (the default when its step is not in the store)."""
    from engine.review.rounds import DEFAULT_MAX_ROUNDS, max_rounds

    try:
        return max_rounds(patch)
    except StoreError:
        return DEFAULT_MAX_ROUNDS


def _why(exc: Exception) -> str:
    """An error in words: ours say what to do; anything else is named."""
    return str(exc) if isinstance(exc, (UetError, StoreError)) else f"{type(exc).__name__}: {exc}"


def _age(seconds: float) -> str:
    return duration(max(0.0, seconds))


class PatchesScreen(Screen[None]):
    CSS_PATH = "patches.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("escape", "back", "Back", id="patches.back", tooltip="Back to the list, or to the dashboard"),
        Binding("f", "cycle_filter", "Filter", id="patches.filter", tooltip="Show only patches in one state (cycles)"),
        Binding("o", "toggle_old_rounds", "Old rounds", id="patches.old_rounds",
                tooltip="Show or hide the rounds a later round replaced (superseded)"),
        Binding("c", "comment", "Comment", id="patches.comment",
                tooltip="Comment on the line under the cursor, its hunk, its file or the whole patch (a draft)"),
        Binding("C", "request_changes", "Request changes", id="patches.request_changes",
                tooltip="Send the comments and run the step again as a revision round, in the background"),
        Binding("i", "toggle_interdiff", "Round diff", id="patches.interdiff",
                tooltip="Show the diff against the base, or what changed since the previous round"),
        Binding("a", "approve", "Approve", id="patches.approve",
                tooltip="Approve the patch (over a failed gate only with a written override)"),
        Binding("r", "reject", "Reject", id="patches.reject", tooltip="Reject the patch, with a reason"),
        Binding("s", "approve_hunks", "Approve hunks", id="patches.approve_hunks",
                tooltip="Approve the selected hunks as a new patch (gated again) and reject the rest"),
        Binding("e", "choose_lines", "Lines", id="patches.choose_lines", show=False,
                tooltip="Choose single + and - lines of the current hunk and approve just those (as lazygit stages lines)"),
        Binding("g", "regate", "Re-gate", id="patches.regate", tooltip="Run the patch's gate again"),
        Binding("A", "apply", "Apply", id="patches.apply", tooltip="Write the approved patch to the working tree"),
        Binding("R", "revert", "Revert", id="patches.revert", tooltip="Take an applied patch out again"),
        Binding("x", "drop_draft", "Drop draft", id="patches.drop_draft",
                tooltip="Remove your draft comment at the cursor: on its line, else its hunk, its file, the patch"),
    ]

    wants_store = True

    def __init__(self) -> None:
        super().__init__()
        self.state_filter: str | None = None
        self.patches: dict[str, PatchRecord] = {}
        self.limits: dict[tuple[str, str], int] = {}
        """Each (run, step)'s review.max_rounds, for the ROUND column."""
        self.patch: PatchRecord | None = None
        self.gates: list[GateResultRecord] = []
        self.comments: list[CommentRecord] = []
        self.rounds: list[PatchRecord] = []
        self.diff = ""
        self.interdiff: str | None = None
        """What changed since the previous round, while that is what the diff shows."""
        self.old_rounds = False
        self.hidden = 0
        self.busy: str | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with ContentSwitcher(initial="list", id="pages"):
            yield LineTable(COLUMNS, id="list", cells=self._cells, empty="loading…")
            with VerticalScroll(id="review"):
                yield Static(id="summary")
                with Horizontal(id="body"):
                    yield DiffView(id="diff")
                    with VerticalScroll(id="gate"):
                        yield Static(id="gate-text")
        yield KeysFirstFooter()

    def on_mount(self) -> None:
        self.query_one("#list", LineTable).focus()
        self.query_one("#gate").border_title = "Gate"
        self.query_one("#diff").border_subtitle = "n/p hunk · J/K line · ]/[ file · space select · v viewed · t layout"
        self.load_list()

    # -- the list ------------------------------------------------------------------------------------

    @property
    def reviewing(self) -> bool:
        return self.query_one("#pages", ContentSwitcher).current == "review"

    def _cells(self, patch: PatchRecord) -> tuple:
        now = self.app.clock()  # type: ignore[attr-defined]
        limit = self.limits.get((patch.run_id, patch.step_id))
        return (state_text(patch.state.value), patch.id, round_text(patch, limit), patch.step_id, str(len(patch.files)),
                f"+{patch.added}/-{patch.removed}", gate_text(patch), _age(now - patch.created_at), patch.run_id[:8])

    @work(thread=True, group="patch-list", exclusive=True, exit_on_error=False)
    def load_list(self) -> None:
        rows = queries.list_patches(state=self.state_filter, limit=LIST_LIMIT + 1)
        more = len(rows) > LIST_LIMIT
        rows = rows[:LIST_LIMIT]
        limits = dict(self.limits)
        for patch in rows:
            if (patch.run_id, patch.step_id) not in limits:
                limits[(patch.run_id, patch.step_id)] = _limit(patch)
        self.app.call_from_thread(self._fill, rows, limits, more)

    def _fill(self, rows: list[PatchRecord], limits: dict[tuple[str, str], int], more: bool = False) -> None:
        self.limits = limits
        if not self.old_rounds and self.state_filter != "superseded":
            shown = [p for p in rows if p.state.value != "superseded"]
            self.hidden = len(rows) - len(shown)
            rows = shown
        else:
            self.hidden = 0
        self.patches = {p.id: p for p in rows}
        table = self.query_one("#list", LineTable)
        table.empty = "no patches" + (f" in state {self.state_filter}" if self.state_filter else "") + \
            ": steps with `produces: patch` propose them"
        table.set_rows([(p.id, p) for p in rows])
        shown = self.state_filter or "all states"
        hidden = f", {self.hidden} old round(s) hidden" if self.hidden else ", old rounds shown" if self.old_rounds else ""
        count = (f"{len(rows):,} of the newest {LIST_LIMIT:,}" if more and self.hidden else
                 f"newest {len(rows):,}" if more else f"{len(rows):,}")
        table.border_title = f"Patches ({count}, {shown}{hidden})"
        table.border_subtitle = "f filter · o old rounds · Enter review"

    @on(LineTable.RowSelected, "#list")
    def open_selected(self, message: LineTable.RowSelected) -> None:
        self.open_patch(message.key)

    def action_toggle_old_rounds(self) -> None:
        self.old_rounds = not self.old_rounds
        self.load_list()

    def action_cycle_filter(self) -> None:
        self.state_filter = FILTERS[(FILTERS.index(self.state_filter) + 1) % len(FILTERS)]
        self.load_list()

    def action_back(self) -> None:
        if self.reviewing:
            self.query_one("#pages", ContentSwitcher).current = "list"
            self.query_one("#list", LineTable).focus()
            self.patch = None
            self.interdiff = None
            self.load_list()
            self.refresh_bindings()
        else:
            self.app.pop_screen()

    # -- one patch -----------------------------------------------------------------------------------

    def open_patch(self, patch_id: str) -> None:
        self.query_one("#pages", ContentSwitcher).current = "review"
        self.query_one("#summary", Static).update(Text(f" loading patch {patch_id}…"))
        self.query_one("#diff", DiffView).focus()
        self.interdiff = None
        self.load_patch(patch_id, with_diff=True)
        self.refresh_bindings()

    @work(thread=True, group="patch-load", exclusive=True, exit_on_error=False)
    def load_patch(self, patch_id: str, with_diff: bool) -> None:
        patch = queries.get_patch(patch_id)
        diff = queries.patch_diff(patch_id) if with_diff else None
        gates = queries.gate_results(patch_id)
        comments = queries.patch_comments(patch_id)
        rounds = queries.patch_rounds(patch_id)
        self.limits[(patch.run_id, patch.step_id)] = _limit(patch)
        self.app.call_from_thread(self._show_patch, patch, diff, gates, comments, rounds)

    def _show_patch(self, patch: PatchRecord, diff: str | None, gates: list[GateResultRecord],
                    comments: list[CommentRecord], rounds: list[PatchRecord]) -> None:
        if not self.reviewing:
            return
        if self.patch is not None and self.patch.id != patch.id and diff is None:
            return
        self.patch = patch
        self.gates = gates
        self.comments = comments
        self.rounds = rounds
        view = self.query_one("#diff", DiffView)
        if diff is not None:
            self.diff = diff
            self.interdiff = None
            view.set_diff(diff, self._notes())
        else:
            view.set_notes(self._notes())
        self._title()
        self._summary()
        self._gate()
        self.refresh_bindings()

    def _notes(self) -> list[Note]:
        return [Note(c.body, c.path, c.line, c.hunk, draft=c.submitted_at is None) for c in self.comments]

    @property
    def previous(self) -> PatchRecord | None:
        """The round this patch replaced, if it is a fix or revision round."""
        patch = self.patch
        if patch is None or patch.round_kind not in ROUND_KINDS or not patch.parent_id:
            return None
        return next((p for p in self.rounds if p.id == patch.parent_id), None)

    def _title(self) -> None:
        previous = self.previous
        view = self.query_one("#diff", DiffView)
        if self.interdiff is not None and previous is not None:
            view.border_title = f"Round {previous.round} → {self.patch.round if self.patch else '?'} (i: against base)"
        else:
            view.border_title = "Against base" + (f" (i: round {previous.round} → {self.patch.round})"
                                                  if previous is not None and self.patch is not None else "")

    def _summary(self) -> None:
        patch = self.patch
        if patch is None:
            return
        view = self.query_one("#diff", DiffView)
        text = Text(no_wrap=False)
        text.append(f" patch {patch.id} ", style="bold")
        text.append_text(state_text(patch.state.value))
        limit = self.limits.get((patch.run_id, patch.step_id))
        text.append(f"  round {patch.round}" + (f" of {limit}" if limit else ""), style="bold")
        text.append(f"  step {patch.step_id}  {len(patch.files)} file(s) +{patch.added} -{patch.removed}")
        if patch.parent_id:
            text.append(f"  {'cut from' if patch.round_kind == 'subset' else patch.round_kind + ' of'} {patch.parent_id}")
        if patch.superseded_by:
            text.append(f"  replaced by {patch.superseded_by}")
        if self.busy:
            text.append(f"  {self.busy}", style="bold yellow")
        units = len(view.units)
        where = f"hunk {view.current + 1}/{units}" if units else "no hunks"
        if view.current_line is not None:
            where += f" line {view.current_line[1]}"
        drafts = sum(1 for c in self.comments if c.submitted_at is None)
        text.append(f"\n {where}  viewed {len(view.viewed)}/{len(view.files)} files  "
                    f"selected {len(view.selected)}/{units} hunks  {drafts} draft(s)")
        if patch.decided_by or patch.reason:
            text.append(f"  · {patch.decided_by or ''}" + (f": {patch.reason}" if patch.reason else ""), style="dim")
        self.query_one("#summary", Static).update(text)

    def _gate(self) -> None:
        patch = self.patch
        if patch is None:
            return
        text = Text()
        if not patch.gate:
            text.append("no gate: review by reading")
        elif not self.gates:
            text.append(f"{patch.gate}: " + ("running…" if patch.state.value == "gating" else "not run yet"))
        for g in self.gates:
            mark = "✔" if g.outcome == "succeeded" else "✘"
            code = "-" if g.exit_code is None else str(g.exit_code)
            text.append(f"{mark} round {g.round} ", style="bold")
            text.append(f"{' '.join(g.command)}\n")
            text.append(f"  {g.outcome}, exit {code}, {duration(g.duration)}\n")
            for line in g.output_tail.rstrip().splitlines()[-TAIL_LINES:]:
                text.append(f"  │ {line}\n", style="dim")
        self.query_one("#gate-text", Static).update(text)
        self.query_one("#gate").border_title = f"Gate {patch.gate}" if patch.gate else "Gate"

    @on(DiffView.Changed)
    def show_position(self, _message: DiffView.Changed) -> None:
        self._summary()

    # -- the store -------------------------------------------------------------------------------------

    @on(StoreChanged)
    def apply_store_change(self, message: StoreChanged) -> None:
        touched = {e.data.get("patch") for e in message.delta.events if e.kind in ("patch.state", "gate.result")}
        if not touched:
            return
        self.load_list()
        if self.patch is not None and self.patch.id in touched:
            self.load_patch(self.patch.id, with_diff=False)

    # -- decisions -------------------------------------------------------------------------------------

    def _target(self) -> PatchRecord | None:
        """The patch a decision is about; none while a decision or gate is still running."""
        if self.busy:
            self.notify(f"wait: {self.busy}", severity="warning")
            return None
        if self.reviewing:
            return self.patch
        key = self.query_one("#list", LineTable).cursor_key
        return self.patches.get(key) if key else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Each key where it means something: the review's own keys while reviewing, the list's
        in the list (hidden elsewhere, so the footer at 80 columns keeps the ones that work)."""
        if action in ("approve_hunks", "choose_lines", "comment", "toggle_interdiff", "drop_draft"):
            return self.reviewing
        if action in ("toggle_old_rounds", "cycle_filter"):
            return not self.reviewing
        return True

    def _ask(self, question: str, hint: str, then: Callable[[str], object], required: bool = False) -> None:
        """Ask, then call ``then`` with the answer; Esc (None) decides nothing."""
        from tui.screens.ask import AskScreen

        def answered(answer: str | None) -> None:
            if answer is not None:
                then(answer)

        self.app.push_screen(AskScreen(question, hint, required=required), answered)

    def action_approve(self) -> None:
        patch = self._target()
        if patch is None:
            return
        if patch.state.value == "gate_failed":
            self._ask(f"Patch {patch.id} FAILED its gate {patch.gate!r}. Approve it anyway?",
                      "why it is safe (required), Enter approves, Esc goes back",
                      lambda why: self.decide("approve", patch.id, override=why), required=True)
            return
        self._ask(f"Approve patch {patch.id} ({len(patch.files)} file(s), +{patch.added} -{patch.removed})?",
                  "comment (optional), Enter approves, Esc goes back",
                  lambda comment: self.decide("approve", patch.id, text=comment or None))

    def action_reject(self) -> None:
        patch = self._target()
        if patch is not None:
            self._ask(f"Reject patch {patch.id}?", "the reason (required), Enter rejects, Esc goes back",
                      lambda reason: self.decide("reject", patch.id, text=reason), required=True)

    def action_apply(self) -> None:
        patch = self._target()
        if patch is not None:
            self._confirm("apply", patch, f"Apply patch {patch.id} to the working tree ({len(patch.files)} file(s), "
                                          f"+{patch.added} -{patch.removed})?")

    def action_revert(self) -> None:
        patch = self._target()
        if patch is not None:
            self._confirm("revert", patch, f"Revert patch {patch.id} in the working tree?")

    def _confirm(self, kind: str, patch: PatchRecord, question: str) -> None:
        """A plain confirm: y/Enter goes ahead, c commits too (the ledger refuses a tree the
        patch does not apply to cleanly, and says why)."""
        from tui.screens.apply import ApplyScreen

        def answered(choice: str | None) -> None:
            if choice is not None:
                self.decide(kind, patch.id, commit=choice == "commit")

        self.app.push_screen(ApplyScreen(question, kind), answered)

    def action_regate(self) -> None:
        patch = self._target()
        if patch is not None:
            self.decide("regate", patch.id)

    def action_approve_hunks(self) -> None:
        patch = self._target()
        view = self.query_one("#diff", DiffView)
        if patch is None or not self.reviewing:
            return
        if not view.selected:
            self.notify("select hunks first: n/p move, space selects", severity="warning")
            return
        keep = set(view.selected)
        self._ask(f"Approve {len(keep)} of {len(view.units)} hunks of patch {patch.id} as a new patch "
                  "and reject the rest?",
                  "reason (optional), Enter goes ahead, Esc goes back",
                  lambda reason: self.decide("split", patch.id, text=reason or None, keep=keep))

    def action_choose_lines(self) -> None:
        from tui.screens.hunk_lines import HunkLinesScreen

        patch = self._target()
        view = self.query_one("#diff", DiffView)
        if patch is None or not self.reviewing:
            return
        unit, file = view.current_unit, view.current_file
        hunk = next((h for h in view.files[file].hunks if h.id == unit), None) if file is not None else None
        if hunk is None or unit is None:
            self.notify("move to a hunk with text first (n/p)", severity="warning")
            return

        def chosen(numbers: set[int] | None) -> None:
            if numbers:
                self._ask(f"Approve {len(numbers)} line(s) of hunk {unit} of patch {patch.id} as a new patch "
                          "and reject the rest?", "reason (optional), Enter goes ahead, Esc goes back",
                          lambda reason: self.decide("split", patch.id, text=reason or None, keep=set(),
                                                     lines={unit: numbers}))

        self.app.push_screen(HunkLinesScreen(view.files[file].path, hunk), chosen)

    def decide(self, kind: str, patch_id: str, text: str | None = None, override: str | None = None,
               commit: bool = False, keep: set[str] | None = None, lines: dict[str, set[int]] | None = None) -> None:
        self.busy = {"regate": "gating…", "split": "cutting the patch…", "apply": "applying…",
                     "revert": "reverting…"}.get(kind, "recording…")
        self._summary()
        self._decide(kind, patch_id, text, override, commit, keep, lines)

    @work(thread=True, group="decide", exclusive=True, exit_on_error=False)
    def _decide(self, kind: str, patch_id: str, text: str | None, override: str | None, commit: bool,
                keep: set[str] | None, lines: dict[str, set[int]] | None = None) -> None:
        """One decision through the ledger, by the app's user; gates run here too, so the
        screen stays live while they do."""
        from engine.patches.hunks import approve_hunks, not_approved, regate
        from engine.patches.ledger import Ledger

        app = self.app
        store = app.open_store()  # type: ignore[attr-defined]
        who = app.user  # type: ignore[attr-defined]
        ledger = Ledger(store)
        try:
            if kind == "approve":
                patch = ledger.approve(patch_id, who, comment=None if override else text, override=override)
            elif kind == "reject":
                patch = ledger.reject(patch_id, who, text or "")
            elif kind == "apply":
                patch = ledger.apply(patch_id, who, commit=commit)
            elif kind == "revert":
                patch = ledger.revert(patch_id, who, commit=commit)
            elif kind == "regate":
                app.call_from_thread(self.load_patch, patch_id, False)
                patch, _ = regate(store, patch_id, who)
            else:
                patch = approve_hunks(store, patch_id, keep or set(), who, text, lines=lines,
                                      on_split=lambda new: app.call_from_thread(self._switch, new))
                why_not = not_approved(patch)
                if why_not:
                    app.call_from_thread(self.notify, f"patch {patch.id} {why_not}", title="Not approved",
                                         severity="warning", timeout=30)
        except (UetError, StoreError) as exc:
            app.call_from_thread(self._done, None, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - said on screen, and the screen is not left busy
            app.call_from_thread(self._done, None, f"{type(exc).__name__}: {exc}")
            return
        app.call_from_thread(self._done, patch, None)

    def _switch(self, patch: PatchRecord) -> None:
        """A subset became a new patch: review that one while its gate runs."""
        self.patch = None
        self.busy = "gating…" if patch.gate else None
        if self.reviewing:
            self.load_patch(patch.id, with_diff=True)

    def _done(self, patch: PatchRecord | None, error: str | None) -> None:
        self.busy = None
        self.app.poke()  # type: ignore[attr-defined]
        if error is not None:
            self.notify(error, title="Not done", severity="error", timeout=10)
            self._summary()
            return
        assert patch is not None
        self.notify(f"patch {patch.id} {GLYPHS.get(patch.state.value, '')} {patch.state.value}"
                    + (f": {patch.reason}" if patch.reason else ""), title="Recorded")
        self.load_list()
        if self.reviewing:
            self.load_patch(patch.id, with_diff=self.patch is None or self.patch.id != patch.id)

    # -- review rounds ---------------------------------------------------------------------------------

    def action_toggle_interdiff(self) -> None:
        patch, previous = self.patch, self.previous
        if patch is None or not self.reviewing:
            return
        if previous is None:
            self.notify(f"patch {patch.id} is round {patch.round} with no earlier round to compare with",
                        severity="warning")
            return
        view = self.query_one("#diff", DiffView)
        if self.interdiff is not None:
            self.interdiff = None
            view.set_diff(self.diff, self._notes())
            self._title()
            return
        self.busy = f"comparing round {previous.round} with round {patch.round}…"
        self._summary()
        self.load_interdiff(patch, previous)

    @work(thread=True, group="interdiff", exclusive=True, exit_on_error=False)
    def load_interdiff(self, patch: PatchRecord, previous: PatchRecord) -> None:
        from pathlib import Path

        from engine.patches.interdiff import between_rounds

        try:
            root = Path(queries.get_run(patch.run_id).root)
            diff = between_rounds(root, patch.base_commit, queries.patch_diff(previous.id), queries.patch_diff(patch.id))
        except (UetError, StoreError) as exc:
            self.app.call_from_thread(self._show_interdiff, patch.id, None, str(exc))
            return
        self.app.call_from_thread(self._show_interdiff, patch.id, diff, None)

    def _show_interdiff(self, patch_id: str, diff: str | None, error: str | None) -> None:
        self.busy = None
        if self.patch is None or self.patch.id != patch_id or not self.reviewing:
            return
        if error is not None or diff is None:
            self.notify(error or "no answer", title="Cannot compare the rounds", severity="error", timeout=10)
        else:
            self.interdiff = diff
            self.query_one("#diff", DiffView).set_diff(diff, self._notes())
        self._title()
        self._summary()

    def _scopes(self, patch: PatchRecord) -> tuple[list[Scope], int]:
        """What the comment can be about, narrowest first: the line under the cursor, its hunk
        (in the diff against the base only: the comparison's hunks are not the patch's), its
        file, the whole patch."""
        view = self.query_one("#diff", DiffView)
        scopes: list[Scope] = []
        line = view.current_line
        if line is not None:
            scopes.append(Scope(f"line {line[1]} of {line[0]}", path=line[0], line=line[1]))
        hunk = view.current_hunk
        if hunk is not None and self.interdiff is None:
            scopes.append(Scope(f"hunk {hunk[1] + 1} of {hunk[0]}", path=hunk[0], hunk=hunk[1]))
        file = view.current_file
        if file is not None:
            path = view.files[file].path
            scopes.append(Scope(f"the file {path}", path=path))
        scopes.append(Scope(f"the whole patch {patch.id}"))
        return scopes, 0

    def action_comment(self) -> None:
        patch = self._target()
        if patch is None or not self.reviewing:
            return
        if patch.state.value not in REVISABLE:
            self.notify(f"patch {patch.id} is {patch.state.value}: only a proposed or gated patch takes comments",
                        severity="warning")
            return
        scopes, chosen = self._scopes(patch)

        def written(answer: Written | None) -> None:
            if answer is not None:
                self.busy = "recording…"
                self._summary()
                self._review("comment", patch.id, answer, None)

        self.app.push_screen(CommentScreen(f"Comment on patch {patch.id} (round {patch.round}), about:", scopes,
                                           chosen), written)

    def _draft_here(self) -> CommentRecord | None:
        """The user's latest draft drawn at the cursor: on the cursor's line, else on its hunk
        (against the base), its file, the whole patch."""
        view = self.query_one("#diff", DiffView)
        mine = [c for c in self.comments if c.submitted_at is None and c.by == self.app.user]  # type: ignore[attr-defined]
        line, hunk = view.current_line, view.current_hunk
        path = view.files[view.current_file].path if view.current_file is not None else None
        places = [
            lambda c: line is not None and (c.path, c.line) == line,
            lambda c: hunk is not None and self.interdiff is None and c.line is None and (c.path, c.hunk) == hunk,
            lambda c: path is not None and c.path == path and c.line is None and c.hunk is None,
            lambda c: c.path is None,
        ]
        for here in places:
            found = [c for c in mine if here(c)]
            if found:
                return found[-1]
        return None

    def action_drop_draft(self) -> None:
        patch = self._target()
        if patch is None or not self.reviewing:
            return
        draft = self._draft_here()
        if draft is None:
            self.notify("no draft of yours here: move to its line (J/K), hunk (n/p) or file (]/[)", severity="warning")
            return
        where = (f"line {draft.line} of {draft.path}" if draft.line is not None else
                 f"hunk {draft.hunk + 1} of {draft.path}" if draft.hunk is not None else
                 f"the file {draft.path}" if draft.path is not None else "the whole patch")
        body = draft.body if len(draft.body) <= 60 else draft.body[:59] + "…"
        self._ask(f"Drop your draft on {where}: {body!r}?", "Enter drops it, Esc goes back",
                  lambda _answer: self._drop(patch.id, draft.id))

    def _drop(self, patch_id: str, comment_id: int) -> None:
        self.busy = "recording…"
        self._summary()
        self._review("drop", patch_id, None, comment_id)

    def action_request_changes(self) -> None:
        patch = self._target()
        if patch is None:
            return
        if self.reviewing:
            drafts = sum(1 for c in self.comments if c.submitted_at is None)
            said = f"{drafts} draft comment(s) go with it" if drafts else "no draft comments yet: write one here"
        else:
            drafts, said = 0, "its draft comments, if any, go with it"
        self._ask(f"Request changes on patch {patch.id} (round {patch.round})? {said}; then the step runs again "
                  "as a revision round, in the background.",
                  "a comment on the whole patch" + ("" if self.reviewing and not drafts else " (optional)") +
                  ", Enter sends, Esc goes back",
                  lambda text: self._request(patch.id, text), required=self.reviewing and not drafts)

    def _request(self, patch_id: str, text: str) -> None:
        self.busy = "requesting changes…"
        self._summary()
        self._review("request", patch_id, Written(Scope("the whole patch"), text) if text else None, None)

    @work(thread=True, group="decide", exclusive=True, exit_on_error=False)
    def _review(self, kind: str, patch_id: str, written: Written | None, comment_id: int | None) -> None:
        """A comment (a draft), a draft dropped, or a request for changes that sends the drafts
        and starts the revision round in a background engine."""
        from engine.review.comments import ReviewComment
        from engine.review.rounds import (
            add_comment,
            delete_comment,
            request_changes,
            start_revision,
        )

        app = self.app
        store = app.open_store()  # type: ignore[attr-defined]
        who = app.user  # type: ignore[attr-defined]
        comment = None if written is None else ReviewComment(
            body=written.body, path=written.scope.path, line=written.scope.line, hunk=written.scope.hunk)
        try:
            if kind == "comment":
                assert comment is not None and written is not None
                record = add_comment(store, patch_id, comment, who)
                app.call_from_thread(self._reviewed, patch_id, f"draft comment {record.id} on {written.scope.label}")
                return
            if kind == "drop":
                assert comment_id is not None
                delete_comment(store, comment_id, who)
                app.call_from_thread(self._reviewed, patch_id, f"draft comment {comment_id} dropped")
                return
            request_changes(store, patch_id, who, [comment] if comment is not None else [])
        except Exception as exc:  # noqa: BLE001 - said on screen, and the screen is not left busy
            app.call_from_thread(self._reviewed, patch_id, _why(exc), "Not done")
            return
        try:
            started = start_revision(store, patch_id, who, detach=True)
        except Exception as exc:  # noqa: BLE001 - said on screen, and the screen is not left busy
            app.call_from_thread(self._reviewed, patch_id, f"changes requested on patch {patch_id}, but its revision "
                                 f"round did not start: {_why(exc)}", "Revision round not started")
            return
        app.call_from_thread(self._reviewed, patch_id, f"changes requested on patch {patch_id}; {started}")

    def _reviewed(self, patch_id: str, said: str, failed: str | None = None) -> None:
        """Say what happened (``failed`` titles a failure) and show the patch as it is now."""
        self.busy = None
        self.app.poke()  # type: ignore[attr-defined]
        if failed is not None:
            self.notify(said, title=failed, severity="error", timeout=10)
        else:
            self.notify(said, title="Recorded", timeout=8)
        self.load_list()
        if self.reviewing and self.patch is not None and self.patch.id == patch_id:
            self.load_patch(patch_id, with_diff=False)
