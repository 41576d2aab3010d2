"""The dashboard's settings as plain values, and their defaults, written once.

``schemas.settings`` validates a settings file with Pydantic models whose defaults come from
here; a face started without a settings file reads ``DEFAULTS`` and loads no Pydantic for it.
``tui.settings`` hands every face one of these either way (a validated file is copied into them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Notify:
    """See ``schemas.settings.NotifySettings``."""

    bell: bool = True
    desktop: str = "osc9"
    when: tuple[str, ...] = ("failed", "succeeded", "review")


@dataclass(frozen=True, slots=True)
class Settings:
    """See ``schemas.settings.TuiSettings``."""

    refresh: float = 0.1
    slow_link: bool = False
    ascii: bool = False
    theme: str = "textual-dark"
    keymap: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    notify: Notify = field(default_factory=Notify)


DEFAULTS = Settings()
NOTIFY_DEFAULTS = DEFAULTS.notify
