"""``uet export``: a dataset of the store (``schemas.analytics.DATASETS``) written as Parquet,
CSV or JSON lines, streamed.

Rows are read in batches by keyset pagination (``WHERE key > last ORDER BY key LIMIT n``), each
batch its own short read on a read-only connection, and written before the next is read: memory
stays bounded whatever the store's size, and no read transaction stays open for the whole export
(a long one would keep the engine's WAL from being checkpointed). Parquet gets one row group
per batch through pyarrow's ``ParquetWriter``; CSV and JSON lines use the standard library.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from schemas.analytics import DATASETS, Dataset
from store.codec import dumps
from store.views import SOURCES, ReadOnlyStoreError, expression, select_list

FORMATS = ("parquet", "csv", "jsonl")
BATCH_ROWS = 10_000
EXTRA = "uet[analytics]"


class AnalyticsMissing(ImportError):
    """The optional extra that Parquet (and DuckDB) need is not installed."""


def require_pyarrow() -> Any:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet
    except ImportError as exc:
        raise AnalyticsMissing(f"Parquet needs pyarrow, which is not installed: pip install '{EXTRA}' "
                               "(or use --format csv or jsonl)") from exc
    return pyarrow


def resolve_run(conn: sqlite3.Connection, prefix: str) -> str:
    """The run whose id is ``prefix`` or starts with it, read through ``conn``."""
    rows = conn.execute("SELECT id FROM runs WHERE id = ? UNION SELECT id FROM runs WHERE substr(id, 1, ?) = ? "
                        "LIMIT 6", (prefix, len(prefix), prefix)).fetchall()
    ids = sorted({row[0] for row in rows})
    if prefix in ids:
        return prefix
    if not ids:
        raise ReadOnlyStoreError(f"--run: no run matches {prefix!r}; `uet runs` lists them")
    if len(ids) > 1:
        raise ReadOnlyStoreError(f"--run: {prefix!r} matches several runs ({', '.join(ids[:5])}); give more of the id")
    return str(ids[0])


def batches(conn: sqlite3.Connection, dataset: Dataset, *, since: float | None = None, run_id: str | None = None,
            size: int = BATCH_ROWS) -> Iterator[list[tuple[Any, ...]]]:
    """The dataset's rows in key order, ``size`` at a time; times as epoch seconds."""
    by_name = {column.name: column for column in dataset.columns}
    keys = [expression(dataset, by_name[name]) for name in dataset.key]
    key_at = [dataset.names.index(name) for name in dataset.key]
    filters: list[str] = []
    params: list[Any] = []
    if since is not None:
        filters.append(f"{expression(dataset, by_name[dataset.time])} >= ?")
        params.append(since)
    if run_id is not None:
        filters.append(f"{'id' if dataset.name == 'runs' else 'run_id'} = ?")
        params.append(run_id)
    head = f"SELECT {select_list(dataset, False)} FROM {SOURCES[dataset.name]}"
    order = f" ORDER BY {', '.join(keys)} LIMIT ?"
    after = f"({', '.join(keys)}) > ({', '.join('?' * len(keys))})"
    last: tuple[Any, ...] | None = None
    while True:
        where = [*filters, after] if last is not None else filters
        sql = head + (" WHERE " + " AND ".join(where) if where else "") + order
        rows = conn.execute(sql, [*params, *(last or ()), size]).fetchall()
        if rows:
            yield rows
        if len(rows) < size:
            return
        last = tuple(rows[-1][i] for i in key_at)


def iso(seconds: float | None) -> str | None:
    """Epoch seconds as ISO 8601 in UTC, to the microsecond: ``2026-12-02T20:17:29.123456Z``."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


class Sink(Protocol):
    def write(self, rows: list[tuple[Any, ...]]) -> None: ...

    def close(self) -> None: ...


class _TextSink:
    def __init__(self, dataset: Dataset, out: TextIO) -> None:
        self.out = out
        self.names = dataset.names
        self.times = [i for i, column in enumerate(dataset.columns) if column.type == "timestamp"]

    def _converted(self, row: tuple[Any, ...]) -> list[Any]:
        values = list(row)
        for i in self.times:
            values[i] = iso(values[i])
        return values

    def close(self) -> None:
        self.out.flush()


class CsvSink(_TextSink):
    """A header line, then one line per row; NULL is an empty field."""

    def __init__(self, dataset: Dataset, out: TextIO) -> None:
        super().__init__(dataset, out)
        self.writer = csv.writer(out, lineterminator="\n")
        self.writer.writerow(self.names)

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        self.writer.writerows(self._converted(row) for row in rows)


class JsonlSink(_TextSink):
    """One compact JSON object per line (the store's own encoder), keys in the schema's order;
    NULL is ``null``."""

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        names = self.names
        self.out.write("".join(dumps(dict(zip(names, self._converted(row), strict=True))) + "\n" for row in rows))


class ParquetSink:
    """One row group per batch, the column's description and unit kept as field metadata."""

    def __init__(self, dataset: Dataset, path: Path) -> None:
        pa = require_pyarrow()
        import pyarrow.parquet as pq

        self.pa = pa
        self.dataset = dataset
        self.schema = arrow_schema(dataset)
        self.writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        pa = self.pa
        arrays = []
        for i, (column, field) in enumerate(zip(self.dataset.columns, self.schema, strict=True)):
            values = [row[i] for row in rows]
            if column.type == "timestamp":
                values = [None if v is None else round(v * 1_000_000) for v in values]
            arrays.append(pa.array(values, type=field.type))
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))

    def close(self) -> None:
        self.writer.close()


def arrow_schema(dataset: Dataset) -> Any:
    pa = require_pyarrow()
    types = {"string": pa.string(), "integer": pa.int64(), "number": pa.float64(),
             "timestamp": pa.timestamp("us", tz="UTC"), "seconds": pa.float64()}
    fields = [pa.field(column.name, types[column.type], nullable=column.nullable,
                       metadata={"description": column.description, "unit": column.unit_text,
                                 "uet_type": column.type})
              for column in dataset.columns]
    return pa.schema(fields, metadata={"uet_dataset": dataset.name, "uet_schema": f"export.{dataset.name}.v1"})


def export(conn: sqlite3.Connection, name: str, fmt: str, *, path: Path | None = None, out: TextIO | None = None,
           since: float | None = None, run_id: str | None = None, size: int = BATCH_ROWS) -> int:
    """Write dataset ``name`` to ``path`` (Parquet needs one) or the text stream ``out``; the
    number of rows written."""
    dataset = DATASETS[name]
    sink: Sink
    if fmt == "parquet":
        assert path is not None
        sink = ParquetSink(dataset, path)
    else:
        assert out is not None
        sink = CsvSink(dataset, out) if fmt == "csv" else JsonlSink(dataset, out)
    count = 0
    try:
        for rows in batches(conn, dataset, since=since, run_id=run_id, size=size):
            sink.write(rows)
            count += len(rows)
    finally:
        sink.close()
    return count
