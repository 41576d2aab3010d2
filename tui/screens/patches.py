"""Patch review: the list of proposed patches (state, run and step, files, lines, gate, age;
filtered by state), and one patch's review: its diff, its gate results per round, and the
decisions the ledger allows, each recorded with who made it.

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
from textual.widgets import ContentSwitcher, Footer, Header, Static

from engine.errors import UetError
from schemas.patch import GateResultRecord, PatchRecord
from store import queries
from store.errors import StoreError
from tui.feed import StoreChanged
from tui.format import duration
from tui.widgets.diff_view import DiffView
from tui.widgets.line_table import Column, LineTable

GLYPHS = {
    "proposed": "○", "gating": "▶", "gate_passed": "✔", "gate_failed": "✘", "approved": "◉",
    "rejected": "⊘", "applied": "⬤", "reverted": "↺",
}
COLOURS = {
    "proposed": "cyan", "gating": "blue", "gate_passed": "green", "gate_failed": "red", "approved": "green",
    "rejected": "magenta", "applied": "green", "reverted": "yellow",
}
FILTERS: list[str | None] = [None, "proposed", "gating", "gate_passed", "gate_failed", "approved", "rejected",
                             "applied", "reverted"]
COLUMNS = [Column("STATE", 13), Column("PATCH", 10), Column("RUN", 8), Column("STEP", 6, grow=True),
           Column("FILES", 5, right=True), Column("+/-", 9, right=True), Column("GATE", 9, grow=True),
           Column("AGE", 6, right=True)]
DECIDABLE = ("proposed", "gate_passed", "gate_failed")
TAIL_LINES = 8


def state_text(state: str) -> Text:
    return Text(f"{GLYPHS.get(state, '?')} {state}", style=COLOURS.get(state, ""))


def gate_text(patch: PatchRecord) -> str:
    if not patch.gate:
        return "-"
    mark = {"gate_passed": "✔ ", "gate_failed": "✘ ", "gating": "▶ ", "proposed": "· "}.get(patch.state.value, "")
    return mark + patch.gate


def _age(seconds: float) -> str:
    return duration(max(0.0, seconds))


class PatchesScreen(Screen[None]):
    CSS_PATH = "patches.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("escape", "back", "Back", id="patches.back", tooltip="Back to the list, or to the dashboard"),
        Binding("f", "cycle_filter", "Filter", id="patches.filter", tooltip="Show only patches in one state (cycles)"),
        Binding("a", "approve", "Approve", id="patches.approve",
                tooltip="Approve the patch (over a failed gate only with a written override)"),
        Binding("r", "reject", "Reject", id="patches.reject", tooltip="Reject the patch, with a reason"),
        Binding("s", "approve_hunks", "Approve hunks", id="patches.approve_hunks",
                tooltip="Approve the selected hunks as a new patch (gated again) and reject the rest"),
        Binding("g", "regate", "Re-gate", id="patches.regate", tooltip="Run the patch's gate again"),
        Binding("A", "apply", "Apply", id="patches.apply", tooltip="Write the approved patch to the working tree"),
        Binding("R", "revert", "Revert", id="patches.revert", tooltip="Take an applied patch out again"),
    ]

    wants_store = True

    def __init__(self) -> None:
        super().__init__()
        self.state_filter: str | None = None
        self.patches: dict[str, PatchRecord] = {}
        self.patch: PatchRecord | None = None
        self.gates: list[GateResultRecord] = []
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
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#list", LineTable).focus()
        self.query_one("#gate").border_title = "Gate"
        self.query_one("#diff").border_subtitle = "n/p hunk · ]/[ file · space select · v viewed · t layout"
        self.load_list()

    # -- the list ------------------------------------------------------------------------------------

    @property
    def reviewing(self) -> bool:
        return self.query_one("#pages", ContentSwitcher).current == "review"

    def _cells(self, patch: PatchRecord) -> tuple:
        now = self.app.clock()  # type: ignore[attr-defined]
        return (state_text(patch.state.value), patch.id, patch.run_id[:8], patch.step_id, str(len(patch.files)),
                f"+{patch.added}/-{patch.removed}", gate_text(patch), _age(now - patch.created_at))

    @work(thread=True, group="patch-list", exclusive=True, exit_on_error=False)
    def load_list(self) -> None:
        rows = queries.list_patches(state=self.state_filter, limit=5_000)
        self.app.call_from_thread(self._fill, rows)

    def _fill(self, rows: list[PatchRecord]) -> None:
        self.patches = {p.id: p for p in rows}
        table = self.query_one("#list", LineTable)
        table.empty = "no patches" + (f" in state {self.state_filter}" if self.state_filter else "") + \
            ": steps with `produces: patch` propose them"
        table.set_rows([(p.id, p) for p in rows])
        shown = self.state_filter or "all states"
        table.border_title = f"Patches ({len(rows)}, {shown})"
        table.border_subtitle = "f filter · Enter review"

    @on(LineTable.RowSelected, "#list")
    def open_selected(self, message: LineTable.RowSelected) -> None:
        self.open_patch(message.key)

    def action_cycle_filter(self) -> None:
        self.state_filter = FILTERS[(FILTERS.index(self.state_filter) + 1) % len(FILTERS)]
        self.load_list()

    def action_back(self) -> None:
        if self.reviewing:
            self.query_one("#pages", ContentSwitcher).current = "list"
            self.query_one("#list", LineTable).focus()
            self.patch = None
            self.load_list()
            self.refresh_bindings()
        else:
            self.app.pop_screen()

    # -- one patch -----------------------------------------------------------------------------------

    def open_patch(self, patch_id: str) -> None:
        self.query_one("#pages", ContentSwitcher).current = "review"
        self.query_one("#summary", Static).update(Text(f" loading patch {patch_id}…"))
        self.query_one("#diff", DiffView).focus()
        self.load_patch(patch_id, with_diff=True)
        self.refresh_bindings()

    @work(thread=True, group="patch-load", exclusive=True, exit_on_error=False)
    def load_patch(self, patch_id: str, with_diff: bool) -> None:
        patch = queries.get_patch(patch_id)
        diff = queries.patch_diff(patch_id) if with_diff else None
        gates = queries.gate_results(patch_id)
        self.app.call_from_thread(self._show_patch, patch, diff, gates)

    def _show_patch(self, patch: PatchRecord, diff: str | None, gates: list[GateResultRecord]) -> None:
        if not self.reviewing:
            return
        if self.patch is not None and self.patch.id != patch.id and diff is None:
            return
        self.patch = patch
        self.gates = gates
        if diff is not None:
            self.query_one("#diff", DiffView).set_diff(diff)
        self._summary()
        self._gate()
        self.refresh_bindings()

    def _summary(self) -> None:
        patch = self.patch
        if patch is None:
            return
        view = self.query_one("#diff", DiffView)
        text = Text(no_wrap=False)
        text.append(f" patch {patch.id} ", style="bold")
        text.append_text(state_text(patch.state.value))
        text.append(f"  run {patch.run_id} step {patch.step_id}  {len(patch.files)} file(s) "
                    f"+{patch.added} -{patch.removed}")
        if patch.parent_id:
            text.append(f"  from {patch.parent_id}")
        if self.busy:
            text.append(f"  {self.busy}", style="bold yellow")
        units = len(view.units)
        where = f"hunk {view.current + 1}/{units}" if units else "no hunks"
        text.append(f"\n {where}  viewed {len(view.viewed)}/{len(view.files)} files  "
                    f"selected {len(view.selected)}/{units} hunks")
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
        if action == "approve_hunks":
            return True if self.reviewing else None
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
            self._ask(f"Apply patch {patch.id} to the working tree?",
                      "Enter applies; type commit, then Enter, to commit it too; Esc goes back",
                      lambda answer: self.decide("apply", patch.id, commit=answer.lower() == "commit"))

    def action_revert(self) -> None:
        patch = self._target()
        if patch is not None:
            self._ask(f"Revert patch {patch.id} in the working tree?",
                      "Enter reverts; type commit, then Enter, to commit the revert; Esc goes back",
                      lambda answer: self.decide("revert", patch.id, commit=answer.lower() == "commit"))

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

    def decide(self, kind: str, patch_id: str, text: str | None = None, override: str | None = None,
               commit: bool = False, keep: set[str] | None = None) -> None:
        self.busy = {"regate": "gating…", "split": "cutting the patch…", "apply": "applying…",
                     "revert": "reverting…"}.get(kind, "recording…")
        self._summary()
        self._decide(kind, patch_id, text, override, commit, keep)

    @work(thread=True, group="decide", exclusive=True, exit_on_error=False)
    def _decide(self, kind: str, patch_id: str, text: str | None, override: str | None, commit: bool,
                keep: set[str] | None) -> None:
        """One decision through the ledger, by the app's user; gates run here too, so the
        screen stays live while they do."""
        from engine.patches.hunks import approve_hunks, regate
        from engine.patches.ledger import Ledger

        app = self.app
        store = app.store  # type: ignore[attr-defined]
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
                patch = approve_hunks(store, patch_id, keep or set(), who, text,
                                      on_split=lambda new: app.call_from_thread(self._switch, new))
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
