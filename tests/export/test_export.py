"""uet export: what it writes reads back with the documented types (pyarrow, DuckDB, csv, json),
the filters, the batches, secrets, and the refusals of bad input."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import duckdb
import jsonschema
import pyarrow.parquet as pq
import pytest

from schemas.analytics import DATASETS, ROW_MODELS
from schemas.export import JSON_DIR, file_name
from store.export import arrow_schema, batches, export
from store.since import parse_since
from store.views import connect_read_only
from tests.export.conftest import EVENTS, RUNS, STEPS, digest
from tests.export.fill import DAY, START
from tui.cli import main

COUNTS = {"runs": RUNS, "steps": RUNS * STEPS, "attempts": RUNS * (STEPS + STEPS // 5),
          "events": RUNS * STEPS * EVENTS, "costs": RUNS * (STEPS + STEPS // 5), "patches": RUNS}


def base_count(db: Path, sql: str, params: tuple = ()) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return int(conn.execute(sql, params).fetchone()[0])


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_parquet_reads_back_with_the_documented_types(history_db: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / f"{name}.parquet"
    with closing(connect_read_only(history_db)) as conn:
        written = export(conn, name, "parquet", path=out, size=333)
    table = pq.read_table(out)
    assert written == table.num_rows == COUNTS[name]
    assert table.schema.equals(arrow_schema(DATASETS[name]), check_metadata=False)
    assert table.schema.field(0).metadata[b"description"] == DATASETS[name].columns[0].description.encode()
    duck = duckdb.connect()
    described = {row[0]: row[1] for row in duck.execute(f"DESCRIBE SELECT * FROM read_parquet('{out}')").fetchall()}
    for column in DATASETS[name].columns:
        expected = {"string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "seconds": "DOUBLE",
                    "timestamp": "TIMESTAMP WITH TIME ZONE"}[column.type]
        assert described[column.name] == expected, column.name


def test_parquet_times_are_the_stored_instants(history_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs.parquet"
    with closing(connect_read_only(history_db)) as conn:
        export(conn, "runs", "parquet", path=out)
    first = pq.read_table(out).to_pylist()[0]
    assert first["id"] == "r00000"
    assert first["created_at"].timestamp() == START
    assert first["duration"] == STEPS * 2.0 and str(first["created_at"].tzinfo) == "UTC"


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_jsonl_rows_match_the_exported_json_schema(history_db: Path, name: str) -> None:
    out = io.StringIO()
    with closing(connect_read_only(history_db)) as conn:
        export(conn, name, "jsonl", out=out, size=97)
    lines = out.getvalue().splitlines()
    assert len(lines) == COUNTS[name]
    validator = jsonschema.Draft202012Validator(
        json.loads((JSON_DIR / file_name(f"export.{name}")).read_text(encoding="utf-8")),
        format_checker=jsonschema.FormatChecker())
    for line in lines[:50] + lines[-50:]:
        row = json.loads(line)
        validator.validate(row)
        ROW_MODELS[name].model_validate(row)
        assert list(row) == DATASETS[name].names


def test_csv_has_the_header_and_every_row(history_db: Path) -> None:
    out = io.StringIO()
    with closing(connect_read_only(history_db)) as conn:
        export(conn, "attempts", "csv", out=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == DATASETS["attempts"].names
    assert len(rows) == COUNTS["attempts"]
    failed = [r for r in rows if r["state"] == "failed"]
    assert len(failed) == RUNS * (STEPS // 5) and all(r["exit_code"] == "1" for r in failed)
    assert rows[0]["started_at"].endswith("Z") and rows[0]["usd"] in ("", "0.01")


@pytest.mark.parametrize("size", [1, 7, 10_000])
def test_batches_of_any_size_give_every_row_once_in_key_order(history_db: Path, size: int) -> None:
    dataset = DATASETS["attempts"]
    with closing(connect_read_only(history_db)) as conn:
        rows = [row for batch in batches(conn, dataset, run_id="r00003", size=size) for row in batch]
    keys = [row[:3] for row in rows]
    assert keys == sorted(set(keys)) and len(keys) == STEPS + STEPS // 5


def test_run_and_since_filter(history_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", str(history_db)]
    assert main(["export", "events", "--run", "r0001", "--format", "csv", *db]) == 2  # r00010 to r00019
    assert "matches several runs" in capsys.readouterr().err
    assert main(["export", "events", "--run", "r00012", "--format", "csv", *db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) - 1 == STEPS * EVENTS and all(",r00012," in line for line in lines[1:])
    since = "2025-12-03"
    assert main(["export", "runs", "--since", since, "--format", "jsonl", *db]) == 0
    kept = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    expected = base_count(history_db, "SELECT COUNT(*) FROM runs WHERE created_at >= ?", (START + 2 * DAY,))
    assert 0 < len(kept) == expected < RUNS
    assert min(row["created_at"] for row in kept) >= "2025-12-03T"


def test_parse_since() -> None:
    assert parse_since("2025-12-01") == START
    assert parse_since("2025-12-01T02:00+02:00") == START
    assert parse_since("7d", now=START + 7 * DAY) == START
    with pytest.raises(ValueError, match="not a date"):
        parse_since("last tuesday")


def test_no_secret_of_a_spec_reaches_an_export(history_db: Path) -> None:
    with closing(connect_read_only(history_db)) as conn:
        for name in DATASETS:
            out = io.StringIO()
            export(conn, name, "jsonl", out=out)
            assert "sk-secret" not in out.getvalue(), name
    assert base_count(history_db, "SELECT COUNT(*) FROM steps WHERE spec LIKE '%sk-secret%'") > 0


def test_bad_input_exits_2_and_writes_nothing(history_db: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    db = ["--db", str(history_db)]
    before = digest(history_db)
    out = tmp_path / "x.parquet"
    assert main(["export", "runs", "--format", "parquet", *db]) == 2
    assert "needs -o PATH" in capsys.readouterr().err
    assert main(["export", "runs", "--since", "soon", *db]) == 2
    assert "--since: 'soon' is not a date" in capsys.readouterr().err
    assert main(["export", "runs", "--run", "zz", *db]) == 2
    assert "no run matches 'zz'" in capsys.readouterr().err
    assert main(["export", "runs", "-o", str(tmp_path / "no" / "x.csv"), *db]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", "runs", "--db", str(tmp_path / "none.db")]) == 2
    assert "no UET database" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if the extra were not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    assert main(["export", "runs", "--format", "parquet", "-o", str(out), *db]) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install 'uet[analytics]'" in err and len(err.splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert digest(history_db) == before


def test_a_file_is_written_whole_or_not_at_all(history_db: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "steps.csv"
    assert main(["export", "steps", "--format", "csv", "-o", str(out), "--db", str(history_db)]) == 0
    assert f"exported {COUNTS['steps']:,} steps rows to {out}" in capsys.readouterr().err
    assert len(out.read_text().splitlines()) == COUNTS["steps"] + 1
    assert [p.name for p in tmp_path.iterdir()] == ["steps.csv"]
