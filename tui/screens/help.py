"""Every key of the screen underneath and of the app, grouped by the part of UET it steers
(General, Runs, Run, Patches, Logs, …, Move), each with its id for the keymap.

The group comes from the binding's id (``dashboard.cancel`` is a Runs key): a screen that adds
keys with ids shows them without an edit here; an id this module does not know lands in
"Other". Textual's own keys that do nothing useful here (page left, scroll right, copy the
selected text, …) are left out; the ones that do (Tab, ctrl+p) stay.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, replace

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tui.widgets.line_table import Column, LineTable

#: The group of a binding by the first part of its id.
GROUPS_BY_ID = {
    "app": "General", "help": "General",
    "dashboard": "Runs",
    "run": "Run", "steps": "Run",
    "patches": "Patches", "patch": "Patches", "review": "Patches", "diff": "Patches", "comment": "Patches",
    "logs": "Logs", "log": "Logs",
    "launch": "Launch",
    "bootstrap": "Bootstrap",
    "profiles": "Profiles", "editor": "Profiles",
    "tools": "Tools", "breakers": "Tools",
    "triggers": "Triggers",
    "history": "History",
}
#: The group of a binding without an id, by its action's name.
GROUPS_BY_ACTION = {
    "cursor": "Move", "page": "Move", "jump": "Move", "select": "Move", "focus_next": "Move",
    "focus_previous": "Move", "scroll_up": "Move", "scroll_down": "Move", "scroll_home": "Move",
    "scroll_end": "Move", "page_up": "Move", "page_down": "Move",
    "command_palette": "General", "quit": "General",
}
#: Textual's own actions worth a line in the help; its others are left out.
FRAMEWORK_KEPT = frozenset({"focus_next", "focus_previous", "command_palette", "quit"})
ORDER = ("General", "Runs", "Run", "Patches", "Logs", "Launch", "Bootstrap", "Profiles", "Tools", "Triggers",
         "History", "Move")
OTHER = "Other"

KEY_WIDTH, ACTION_WIDTH = 11, 16
COLUMNS = [Column("KEY", KEY_WIDTH, right=True), Column("ACTION", ACTION_WIDTH),
           Column("WHAT IT DOES · ID (for the keymap)", 10, grow=True)]


@dataclass(frozen=True, slots=True)
class Entry:
    group: str
    keys: str
    description: str
    id: str | None
    what: str
    key: str
    """The row's key: the binding's id, or group:action for a key without one."""
    node: object = None
    """Where the action runs (the widget, screen or app that binds it)."""
    action: str = ""


def _action_name(action: str) -> str:
    return action.split(".")[-1].split("(")[0]


def _from_framework(node: object, binding: Binding) -> bool:
    """A key Textual binds itself: its action is implemented in Textual's own code."""
    owner = getattr(node, "app", node) if binding.action.startswith("app.") else node
    method = getattr(type(owner), f"action_{_action_name(binding.action)}", None)
    module = getattr(method, "__module__", "") or ""
    return module.startswith("textual.")


def group_of(binding: Binding) -> str:
    if binding.id:
        return GROUPS_BY_ID.get(binding.id.split(".")[0], OTHER)
    return GROUPS_BY_ACTION.get(_action_name(binding.action), OTHER)


def entries(screen: Screen, key_display: object) -> list[Entry]:
    """The keys of ``screen`` (its focused widget's, its own and the app's), grouped (the
    screen's own group first) and in the order they are bound, one entry per action (two keys
    for one action share a line)."""
    found: dict[tuple[str, str], Entry] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        if not binding.description or binding.system:
            continue
        if binding.id is None and _from_framework(active.node, binding) \
                and _action_name(binding.action) not in FRAMEWORK_KEPT:
            continue
        group = group_of(binding)
        shown = key_display(binding)  # type: ignore[operator]
        name = (group, binding.description.lower())
        old = found.get(name)
        if old is not None and shown in old.keys.split(", "):
            continue
        if old is not None:  # q and ctrl+q both quit: one line, both keys, UET's (with an id) first
            if old.id is None and binding.id is not None:
                found[name] = Entry(group, f"{shown}, {old.keys}", binding.description, binding.id,
                                    binding.tooltip or old.what, binding.id, active.node, binding.action)
            else:
                found[name] = replace(old, keys=f"{old.keys}, {shown}")
            continue
        key = binding.id or f"{group.lower()}:{binding.action}"
        found[name] = Entry(group, shown, binding.description, binding.id, binding.tooltip or "", key,
                            active.node, binding.action)
    # The screen's own keys first (its area, as k9s shows the current view's), then the rest.
    own = [e.group for e in found.values() if e.node is screen and e.id]
    order = list(dict.fromkeys([*own, *ORDER]))
    rank = {name: i for i, name in enumerate(order)}
    return sorted(found.values(), key=lambda e: rank.get(e.group, len(order)))


def rows(listed: Iterable[Entry], width: int) -> list[tuple[str, tuple]]:
    """Table rows: a heading per group, then a line per key whose text wraps onto more lines
    (keyed ``KEY~1``, ``KEY~2``) instead of being cut. Each row's item is (keys, action, id,
    text): the id stays in the item for tests and the keymap."""
    out: list[tuple[str, tuple]] = []
    group = None
    room = max(12, width - KEY_WIDTH - ACTION_WIDTH - 3)
    for entry in listed:
        if entry.group != group:
            group = entry.group
            out.append((f"group:{group}", ("", Text(f"── {group}", style="bold"), "", "")))
        text = " · ".join(part for part in (entry.what, entry.id) if part)
        lines = textwrap.wrap(text, room) or [""]
        out.append((entry.key, (entry.keys, entry.description, entry.id or "-", lines[0])))
        out.extend((f"{entry.key}~{n}", ("", "", "", line)) for n, line in enumerate(lines[1:], 1))
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 110; max-width: 100%; height: 100%; max-height: 100%;
                            border: double $accent; background: $surface; padding: 0 1; }
    HelpScreen Static { height: auto; }
    HelpScreen LineTable { height: 1fr; scrollbar-size-vertical: 0; }
    """

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under
        self.listed: list[Entry] = []
        self._width = 0

    def compose(self) -> ComposeResult:
        self.listed = entries(self.under, self.app.get_key_display)
        with Vertical():
            yield Static("Keys of this screen and the app, by area · ctrl+p runs any action by name · "
                         "remap a key by its id in ~/.config/uet/config.yaml (keymap:)", markup=False)
            yield LineTable(COLUMNS, id="keys", cells=lambda item: (item[0], item[1], item[3]), note_overflow=True)
            yield Static("j/k or arrows move · Esc, q or ? closes", id="more", markup=False)

    def on_mount(self) -> None:
        self.query_one(LineTable).focus()
        self.call_after_refresh(self._fill)

    def on_resize(self, _event: events.Resize) -> None:
        self.call_after_refresh(self._fill)

    def _fill(self) -> None:
        table = self.query_one(LineTable)
        width = table.scrollable_content_region.width
        if width and width != self._width:
            self._width = width
            table.set_rows(rows(self.listed, width))

    @on(LineTable.RowHighlighted)
    def say_what_is_out_of_sight(self) -> None:
        self.call_after_refresh(self._note_hidden)

    def _note_hidden(self) -> None:
        above, below = self.query_one(LineTable).hidden()
        notes = ([f"↑ {above} above"] if above else []) + ([f"… {below} more below"] if below else [])
        self.query_one("#more", Static).update(" · ".join([*notes, "j/k or arrows move · Esc, q or ? closes"]))

    def action_close(self) -> None:
        self.dismiss(None)
