"""Export streams: a real ``uet export`` of 200,000 events peaks at about the memory of one of
20,000 events (each in its own process, ru_maxrss from wait4). A version that read every row
first would hold ten times the rows. Only memory is compared, never time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.bench_export import export_in_child
from tests.export.fill import fill


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_peak_memory_does_not_grow_with_the_store(event_stores: dict[int, Path],
                                                  tmp_path_factory: pytest.TempPathFactory, fmt: str) -> None:
    stores = event_stores
    out = tmp_path_factory.mktemp(fmt)
    small = export_in_child(stores[20_000], "events", fmt, out / f"small.{fmt}")
    big = export_in_child(stores[200_000], "events", fmt, out / f"big.{fmt}")
    assert big.size_mb > 5 * small.size_mb  # ten times the rows were really written
    assert big.peak_mb < 1.5 * small.peak_mb, (small, big)


@pytest.fixture(scope="module")
def event_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Two stores, 20,000 and 200,000 events (100 steps a run, 20 events a step)."""
    built = {}
    for events, runs in ((20_000, 10), (200_000, 100)):
        path = tmp_path_factory.mktemp(f"events{events}") / ".uet" / "uet.db"
        fill(path, runs, 100, events_per_step=20)
        built[events] = path
    return built
