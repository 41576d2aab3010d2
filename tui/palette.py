"""The command palette's one provider: UET's actions first — every key of the screen in front
and of the app, in the help's groups and order — then the few of Textual's own commands that
are of use here (theme, screenshot, maximize). Textual's provider is not installed: it listed
only its own commands on an empty query, and a third "Quit" beside q and ctrl+q.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from textual.command import DiscoveryHit, Hit, Hits, Provider

#: Textual's commands kept, by their palette name.
FRAMEWORK_COMMANDS = ("Theme", "Screenshot", "Maximize", "Minimize")
#: Help groups that are moving around, not actions worth a palette line.
LEFT_OUT = ("Move",)


@dataclass(frozen=True, slots=True)
class Command:
    title: str
    help: str
    run: Callable[[], object]


def commands(provider: Provider) -> Iterator[Command]:
    from tui.screens.help import entries  # the help screen loads when the palette first opens

    screen, app = provider.screen, provider.app
    for entry in entries(screen, app.get_key_display):
        if entry.group in LEFT_OUT or entry.action == "command_palette":
            continue
        title = f"{entry.description} ({entry.keys})"
        yield Command(title, " · ".join(p for p in (entry.group, entry.what, entry.id) if p),
                      _runner(entry.node, entry.action))
    for command in app.get_system_commands(screen):
        if command.title in FRAMEWORK_COMMANDS:
            yield Command(command.title, command.help, command.callback)


class BindingCommands(Provider):
    """UET's actions (the keys of the screen in front and of the app), then a few of Textual's."""

    async def discover(self) -> Hits:
        for command in commands(self):
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in commands(self):
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run, help=command.help)


def _runner(node: object, action: str) -> Callable[[], object]:
    async def run() -> None:
        await node.app.run_action(action, node)  # type: ignore[attr-defined]

    return run
