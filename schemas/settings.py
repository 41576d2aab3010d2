"""The dashboard's user settings (``~/.config/uet/config.yaml``, or ``$UET_CONFIG``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.settings_defaults import DEFAULTS, NOTIFY_DEFAULTS


class NotifySettings(BaseModel):
    """When and how a terminal is told that a run ended or a patch waits (``uet run``, ``uet tui``)."""

    model_config = ConfigDict(extra="forbid")

    bell: bool = Field(NOTIFY_DEFAULTS.bell, description="Ring the terminal bell.")
    desktop: Literal["osc9", "osc777", "off"] = Field(
        NOTIFY_DEFAULTS.desktop,
        description="Desktop notification escape: osc9 (iTerm2, WezTerm, kitty, Windows Terminal), "
                    "osc777 (urxvt, VTE terminals) or off.")
    when: list[Literal["failed", "succeeded", "review"]] = Field(
        default_factory=lambda: list(NOTIFY_DEFAULTS.when),
        description="What to notify: a run that failed, one that succeeded, a patch that waits for review "
                    "(not `on`: YAML reads that key as true).")


class TuiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh: float = Field(DEFAULTS.refresh, ge=0.05, le=10.0,
                           description="Shortest time between two redraws of live data, in seconds.")
    slow_link: bool = Field(DEFAULTS.slow_link,
                            description="Read the store every 4 s, clocks every 10 s, no animations (for slow SSH).")
    ascii: bool = Field(DEFAULTS.ascii,
                        description="Draw DAGs with ASCII characters only (terminals or fonts without box drawing).")
    theme: str = Field(DEFAULTS.theme, description="A Textual theme name; ansi-dark follows the terminal's palette.")
    keymap: dict[str, str] = Field(
        default_factory=dict,
        description="Binding id → keys, e.g. {'dashboard.cancel': 'x'}; `?` in the app lists the ids.",
    )
    notify: NotifySettings = Field(default_factory=NotifySettings,
                                   description="Bell and desktop notifications; none under --quiet.")
