"""Dashboard fixtures: a fixed store, a frozen clock and zone, and the app built by the same
factory the CLI uses."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tui import stores


@pytest.fixture(autouse=True)
def fixed_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Event times are shown in local time; snapshots need one zone and no user settings."""
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("UET_CONFIG", os.devnull)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")  # box-drawing DAGs, whatever the machine's locale
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def fixed_db(tmp_path: Path) -> Path:
    (tmp_path / ".uet").mkdir()
    return stores.small(tmp_path / ".uet" / "uet.db")


@pytest.fixture
def fixed_app(fixed_db: Path):  # noqa: ANN201
    from tui.app import make_app

    return make_app(fixed_db.parent.parent, fixed_db, clock=lambda: stores.NOW, live=False)
