"""The command palette's provider: every binding of the screen in front, by name, so ctrl+p
reaches each action without knowing its key."""

from __future__ import annotations

from collections.abc import Callable

from textual.command import Hit, Hits, Provider


class BindingCommands(Provider):
    """Every binding of the screen in front, in the command palette."""

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        screen = self.screen
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if not binding.description or not active.enabled:
                continue
            title = f"{binding.description} ({self.app.get_key_display(binding)})"
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title),
                          _runner(active.node, binding.action), help=binding.tooltip or key)


def _runner(node: object, action: str) -> Callable[[], object]:
    async def run() -> None:
        await node.app.run_action(action, node)  # type: ignore[attr-defined]

    return run
