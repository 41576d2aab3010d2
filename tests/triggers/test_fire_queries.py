"""What a server and a look at the triggers read of the fires: the open ones, and each trigger's
newest, found by searching the fires' indexes; a server that fires every minute records half a
million fires a year, and these reads stay the same size."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store import Store
from store import triggers as fires_db


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / ".uet" / "uet.db")
    yield opened
    opened.close()


def _fires(store: Store) -> dict[str, int]:
    """Fires of three triggers, the latest of each in another state; their ids by name."""
    ids = {}
    for n in range(6):
        for trigger in ("every", "nightly"):
            fire = fires_db.record_fire(store, workstream="ws.yaml", trigger=trigger, kind="every",
                                        reason="due", due_at=1_000.0 + n)
            assert fire is not None
            ids[f"{trigger}{n}"] = fire
            fires_db.set_fire(store, fire, state="done", outcome="succeeded")
    ids["manual"] = fires_db.record_fire(store, workstream="other.yaml", trigger="t", kind="manual",
                                         reason="by hand", due_at=5.0) or 0
    ids["queued"] = fires_db.record_fire(store, workstream="ws.yaml", trigger="every", kind="every",
                                         reason="due", due_at=2_000.0) or 0
    fires_db.set_fire(store, ids["queued"], state="queued")
    ids["running"] = fires_db.record_fire(store, workstream="ws.yaml", trigger="nightly", kind="every",
                                          reason="due", due_at=2_000.0) or 0
    fires_db.set_fire(store, ids["running"], state="running", run_id="r1")
    return ids


def test_the_open_fires_are_every_fire_not_done_oldest_first(store: Store) -> None:
    ids = _fires(store)
    assert [f.id for f in fires_db.open_fires()] == [ids["manual"], ids["queued"], ids["running"]]
    assert {f.state for f in fires_db.open_fires()} == {"pending", "queued", "running"}


def test_each_trigger_asked_gets_its_newest_fire(store: Store) -> None:
    ids = _fires(store)
    last = fires_db.last_fires([("ws.yaml", "every"), ("ws.yaml", "nightly"), ("other.yaml", "t"), ("ws.yaml", "gone")])
    assert {key: fire.id for key, fire in last.items()} == {
        ("ws.yaml", "every"): ids["queued"], ("ws.yaml", "nightly"): ids["running"], ("other.yaml", "t"): ids["manual"]}


def test_both_reads_search_an_index(store: Store) -> None:
    """The statements the two reads send, traced, then planned by SQLite: each searches an index."""
    _fires(store)
    sent: list[str] = []
    conn = store.db.connection()
    conn.set_trace_callback(sent.append)
    try:
        fires_db.open_fires()
        fires_db.last_fires([("ws.yaml", "every")])
    finally:
        conn.set_trace_callback(None)
    reads = [sql for sql in sent if sql.lstrip().upper().startswith("SELECT") and "FROM fires" in sql]
    assert len(reads) == 2, sent
    for sql in reads:
        plan = " / ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert "SEARCH fires USING" in plan and "SCAN fires" not in plan, (sql, plan)
