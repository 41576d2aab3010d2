"""DagTree: a run's DAG as an expandable tree, the third way to look at a run.

Roots are the steps that need nothing; a node's children are the steps that need it. A step
with several needs appears in full under one of them (the first reached by a depth-first
walk, see `dag_layout.tree_parents`) and as a back-reference leaf ``↪ id`` under the others,
so the tree stays finite and each subtree is shown once. Children are added only when a node
is first expanded, so a 10,000-step run opens as fast as its roots can be listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, NamedTuple

from rich.style import Style
from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from tui import dag_layout
from tui.dag_layout import ASCII, UNICODE, GlyphSet, Layout, Steps
from tui.format import COLOURS
from tui.widgets.dag_view import terminal_is_utf8

ASCII_LINES = ("  ", "| ", "`-", "|-")


class Entry(NamedTuple):
    """What a tree node stands for: a step, shown in full or as a back-reference."""

    step_id: str
    reference: bool


class DagTree(Tree[Entry]):
    """The steps of one run as a tree of dependents, with back-references for shared steps."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open step", id="dag_tree.select",
                tooltip="Open the step under the cursor."),
        Binding("space", "toggle_node", "Expand", id="dag_tree.toggle",
                tooltip="Show or hide the steps that need this one."),
        Binding("right,l", "expand_or_first_child", "Expand", show=False, id="dag_tree.expand"),
        Binding("left,h", "collapse_or_parent", "Collapse", show=False, id="dag_tree.collapse"),
        Binding("up,k", "cursor_up", "Up", show=False, id="dag_tree.cursor_up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="dag_tree.cursor_down"),
        Binding("home,g", "scroll_home", "First", show=False, id="dag_tree.cursor_first"),
        Binding("end,G", "scroll_end", "Last", show=False, id="dag_tree.cursor_last"),
    ]

    DEFAULT_CSS = """
    DagTree, DagTree:focus {
        & > .tree--cursor { text-style: reverse bold; background: transparent; }
    }
    """

    class StepSelected(Message):
        """Enter (or a click) on step ``step_id``, whether on its node or a back-reference."""

        def __init__(self, dag_tree: DagTree, step_id: str) -> None:
            super().__init__()
            self.dag_tree = dag_tree
            self.step_id = step_id

        @property
        def control(self) -> DagTree:
            return self.dag_tree

    class StepHighlighted(Message):
        """The cursor moved onto step ``step_id``; a newer one replaces a queued one."""

        def __init__(self, dag_tree: DagTree, step_id: str) -> None:
            super().__init__()
            self.dag_tree = dag_tree
            self.step_id = step_id

        @property
        def control(self) -> DagTree:
            return self.dag_tree

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, DagTree.StepHighlighted) and message.dag_tree is self.dag_tree

    def __init__(self, *, ascii_only: bool | None = None, name: str | None = None, id: str | None = None,
                 classes: str | None = None, disabled: bool = False) -> None:
        """``ascii_only`` picks ASCII guides and glyphs; ``None`` asks the locale."""
        super().__init__("run", name=name, id=id, classes=classes, disabled=disabled)
        self.glyphs: GlyphSet = ASCII if (not terminal_is_utf8() if ascii_only is None else ascii_only) else UNICODE
        # The default expand icon is the running glyph; triangles that differ from it instead.
        self.ICON_NODE, self.ICON_NODE_EXPANDED = ("+ ", "- ") if self.glyphs.ascii else ("▸ ", "▾ ")
        if self.glyphs.ascii:
            self.LINES = {"default": ASCII_LINES, "bold": ASCII_LINES, "double": ASCII_LINES}
        self.show_root = False
        self.auto_expand = False
        self._layout: Layout | None = None
        self._home: dict[str, str | None] = {}
        self._states: dict[str, str] = {}
        self._shown: dict[str, list[TreeNode[Entry]]] = {}
        self.problem: str | None = None
        """Why the last graph could not be shown, if it could not."""

    def set_graph(self, steps: Steps, states: Mapping[str, str]) -> None:
        """Show a new graph, collapsed to its roots. Steps that are no DAG (a cycle, an unknown
        need) are not shown: a single line says why, and the dashboard keeps running. The same
        graph again only relabels what changed, so what the user opened stays open."""
        try:
            result = dag_layout.layout(steps, sweeps=0)
            self.problem = None
        except dag_layout.DagError as error:
            result = dag_layout.layout(())
            self.problem = f"cannot lay out this run: {error}"
        if self._layout is not None and self._layout.ids == result.ids and self._layout.needs == result.needs:
            self.update_states({s: states.get(s, "pending") for s in result.ids})
            return
        self._layout = result
        self._home = dag_layout.tree_parents(result)
        self._states = {step_id: states.get(step_id, "pending") for step_id in result.ids}
        self._shown = {}
        self.clear()
        for step_id in result.ids:
            if not result.needs[step_id]:
                self._add(self.root, step_id, reference=False)
        if self.problem:
            self.root.add_leaf(Text(self.problem, style="italic"))
        self.root.expand()
        if self.root.children:
            self.move_cursor(self.root.children[0], animate=False)

    def update_states(self, changed: Mapping[str, str]) -> None:
        """Relabel the nodes (loaded so far) of each changed step: O(len(changed))."""
        for step_id, state in changed.items():
            if self._states.get(step_id, state) == state:
                continue
            self._states[step_id] = state
            for node in self._shown.get(step_id, ()):
                node.set_label(self._label(step_id, node.data.reference if node.data else False))

    @property
    def cursor_step(self) -> str | None:
        """The step under the cursor, if any."""
        node = self.cursor_node
        return node.data.step_id if node is not None and node.data is not None else None

    def _label(self, step_id: str, reference: bool) -> Text:
        state = self._states.get(step_id, "pending")
        colour = COLOURS.get(state)
        parts: list[tuple[str, Style | str] | str] = []
        if reference:
            parts.append(("-> " if self.glyphs.ascii else "↪ ", "dim"))
        parts += [(self.glyphs.state(state), Style(color=colour) if colour else ""), f" {step_id} ", (state, "dim")]
        return Text.assemble(*parts)

    def _add(self, parent: TreeNode[Entry], step_id: str, *, reference: bool) -> None:
        assert self._layout is not None
        label = self._label(step_id, reference)
        if reference or not self._layout.dependents[step_id]:
            node = parent.add_leaf(label, data=Entry(step_id, reference))
        else:
            node = parent.add(label, data=Entry(step_id, reference))
        self._shown.setdefault(step_id, []).append(node)

    @on(Tree.NodeExpanded)
    def load_children(self, event: Tree.NodeExpanded[Entry]) -> None:
        """First expansion of a step: add the steps that need it (full or back-reference)."""
        node = event.node
        entry = node.data
        if entry is None or entry.reference or node.children or self._layout is None:
            return
        for child in self._layout.dependents[entry.step_id]:
            self._add(node, child, reference=self._home.get(child) != entry.step_id)

    @on(Tree.NodeSelected)
    def post_step_selected(self, event: Tree.NodeSelected[Entry]) -> None:
        if event.node.data is not None:
            self.post_message(self.StepSelected(self, event.node.data.step_id))

    @on(Tree.NodeHighlighted)
    def post_step_highlighted(self, event: Tree.NodeHighlighted[Entry]) -> None:
        if event.node.data is not None:
            self.post_message(self.StepHighlighted(self, event.node.data.step_id))

    def action_expand_or_first_child(self) -> None:
        """Right: expand a collapsed step, or step into an expanded one."""
        node = self.cursor_node
        if node is None or not node.allow_expand:
            return
        if not node.is_expanded:
            node.expand()
        elif node.children:
            self.move_cursor(node.children[0], animate=False)

    def action_collapse_or_parent(self) -> None:
        """Left: collapse an expanded step, or go up to its parent."""
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent, animate=False)
