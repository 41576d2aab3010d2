"""The dashboard's user settings (``~/.config/uet/config.yaml``, or ``$UET_CONFIG``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TuiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh: float = Field(0.1, ge=0.05, le=10.0,
                           description="Shortest time between two redraws of live data, in seconds.")
    slow_link: bool = Field(False, description="Redraw at most once a second and cap the frame rate (for slow SSH).")
    ascii: bool = Field(False, description="Draw DAGs with ASCII characters only (terminals or fonts without box drawing).")
    theme: str = Field("textual-dark", description="A Textual theme name; ansi-dark follows the terminal's palette.")
    keymap: dict[str, str] = Field(
        default_factory=dict,
        description="Binding id → keys, e.g. {'dashboard.cancel': 'x'}; `?` in the app lists the ids.",
    )
