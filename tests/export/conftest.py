"""A filled store shared by the export, SQL and history tests (``fill``): built once per module
that asks for it; tests that could change it copy it first."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.export.fill import fill

RUNS, STEPS, EVENTS = 40, 25, 3


@pytest.fixture(scope="module")
def history_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / ".uet" / "uet.db"
    fill(path, RUNS, STEPS, EVENTS)
    return path


def digest(path: Path) -> str:
    """The store's bytes, its WAL included: equal before and after means nothing was written."""
    h = hashlib.sha256()
    for part in (path, path.with_name(path.name + "-wal")):
        if part.exists():
            h.update(part.read_bytes())
    return h.hexdigest()
