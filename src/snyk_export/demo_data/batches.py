"""Record batches in the catalog's schema, and re-cutting a stream of them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pyarrow as pa

from snyk_export.catalog import datasets
from snyk_export.demo_data.arrays import IntArray

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "array": pa.list_(pa.string()),
    "json": pa.string(),
}


def arrow_schema(dataset: str) -> pa.Schema:
    """The Arrow schema of ``dataset``: catalog columns, names and order."""
    catalog = datasets().get(dataset)
    if catalog is None:
        raise ValueError(f"unknown dataset {dataset!r}")
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.type]) for c in catalog.columns])


def record_batch(
    dataset: str, count: int, *parts: Mapping[str, pa.Array]
) -> pa.RecordBatch:
    """A batch with the dataset's schema; later parts win, absent columns are NULL."""
    schema = arrow_schema(dataset)
    columns: dict[str, pa.Array] = {}
    for part in parts:
        columns.update(part)
    unknown = set(columns) - set(schema.names)
    if unknown:
        raise KeyError(f"{dataset} has no columns {sorted(unknown)}")
    arrays = [columns.get(f.name, pa.nulls(count, f.type)) for f in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def rebatch(
    chunks: Iterator[pa.RecordBatch], batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """Re-cut a stream of batches into batches of exactly ``batch_rows`` rows."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for chunk in chunks:
        offset = 0
        while offset < chunk.num_rows:
            take = min(batch_rows - pending_rows, chunk.num_rows - offset)
            pending.append(chunk.slice(offset, take))
            pending_rows += take
            offset += take
            if pending_rows == batch_rows:
                yield _merge(pending)
                pending, pending_rows = [], 0
    if pending_rows:
        yield _merge(pending)


def _merge(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def fill(
    columns: Mapping[str, pa.Array], dataset: str, index: IntArray
) -> dict[str, pa.Array]:
    """The entries of ``columns`` that ``dataset`` exports, taken at ``index``."""
    positions = pa.array(index)
    names = [name for name in arrow_schema(dataset).names if name in columns]
    return {name: columns[name].take(positions) for name in names}
