"""Reading the dashboard's settings file; a bad file is an input error naming the line.

Every face gets plain values (``schemas.settings_defaults.Settings``): the defaults when there is
no file, so the dashboard's first frame loads neither Pydantic nor the YAML reader; the file
validated by the Pydantic models (``schemas.settings``), then copied, when there is one.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from engine.errors import ValidationFailed
from schemas.settings_defaults import DEFAULTS, Notify, Settings

if TYPE_CHECKING:
    from schemas.settings import TuiSettings


def settings_path() -> Path:
    explicit = os.environ.get("UET_CONFIG")
    if explicit:
        return Path(explicit)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "uet" / "config.yaml"


def load_settings(path: Path | None = None) -> Settings:
    path = path or settings_path()
    if not path.is_file():
        return DEFAULTS
    # The YAML reader and the models load only when there is a file to read.
    from pydantic import ValidationError

    from engine.yamlsafe import load
    from schemas.settings import TuiSettings

    located = load(path)
    if located.data is None:
        return DEFAULTS
    try:
        return plain(TuiSettings.model_validate(located.data))
    except ValidationError as exc:
        raise ValidationFailed([
            located.problem(error["msg"], tuple(error["loc"])) for error in exc.errors()
        ]) from None


def plain(settings: TuiSettings) -> Settings:
    """The validated model as the plain values every face reads."""
    notify = settings.notify
    return Settings(refresh=settings.refresh, slow_link=settings.slow_link, ascii=settings.ascii,
                    theme=settings.theme, keymap=MappingProxyType(dict(settings.keymap)),
                    notify=Notify(bell=notify.bell, desktop=notify.desktop, when=tuple(notify.when)))
