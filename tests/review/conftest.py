"""A real SQLite store in a temporary directory for the review tests that need no run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store import Store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / ".uet" / "uet.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    opened = Store(db_path)
    try:
        yield opened
    finally:
        opened.close()
