"""Reading the dashboard's settings file; a bad file is an input error naming the line."""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import ValidationFailed
from schemas.settings import TuiSettings


def settings_path() -> Path:
    explicit = os.environ.get("UET_CONFIG")
    if explicit:
        return Path(explicit)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "uet" / "config.yaml"


def load_settings(path: Path | None = None) -> TuiSettings:
    path = path or settings_path()
    if not path.is_file():
        return TuiSettings()
    # The YAML reader loads only when there is a file to read.
    from pydantic import ValidationError

    from engine.yamlsafe import load

    located = load(path)
    if located.data is None:
        return TuiSettings()
    try:
        return TuiSettings.model_validate(located.data)
    except ValidationError as exc:
        raise ValidationFailed([
            located.problem(error["msg"], tuple(error["loc"])) for error in exc.errors()
        ]) from None
